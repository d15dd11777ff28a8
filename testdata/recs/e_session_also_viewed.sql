-- "Also viewed in the same session": pairs of items viewed by one user in
-- one browsing session, a session being a run of views less than 30
-- minutes apart (SESSION windows per user).
--
-- Sessions follow the user's behaviour instead of the clock: a long
-- evening of browsing is one session, two visits an hour apart are two.
-- The self-join matches rows of the same user and the same session
-- (equal window_start), so rows of a closed session can be forgotten;
-- while a session is open its bounds update in place and the counts follow.
CREATE MATERIALIZED VIEW IF NOT EXISTS session_also_viewed AS
  SELECT a.item_id AS item, b.item_id AS other, COUNT(*) AS sessions
  FROM SESSION(clicks, ts, INTERVAL 30 MINUTE, user_id) a
  JOIN SESSION(clicks, ts, INTERVAL 30 MINUTE, user_id) b
    ON a.user_id = b.user_id AND a.window_start = b.window_start AND a.item_id <> b.item_id
  GROUP BY a.item_id, b.item_id;
