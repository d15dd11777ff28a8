-- Personalised recommendations: for one user, the items most similar to
-- that user's last 20 items, leaving out what the user has already seen.
--
-- Two small views keep what the query needs per user: the items each user
-- has seen with the time of the latest view (which also answers "already
-- seen"), and the 20 most recent of them. The recommendation itself is one
-- parameterised query over views (d_personalised_query.sql, run with the
-- user id as $1): a user's recent items joined with `similar`, minus seen
-- items, scores summed per candidate, top 10. Everything it reads is
-- already maintained, so the query is a few lookups and a small sort.
CREATE MATERIALIZED VIEW IF NOT EXISTS user_items AS
  SELECT user_id, item_id, MAX(ts) AS last_seen, COUNT(*) AS views
  FROM clicks GROUP BY user_id, item_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_recent AS
  SELECT user_id, item_id, last_seen FROM (
    SELECT user_id, item_id, last_seen,
           ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY last_seen DESC, item_id) AS rn
    FROM user_items) t
  WHERE rn <= 20;
