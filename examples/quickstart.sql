-- Sluice quick start: a click stream, two continuous views, and reads.
CREATE TABLE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3)) APPEND ONLY;

CREATE MATERIALIZED VIEW item_views AS
  SELECT item_id, COUNT(*) AS views, COUNT(DISTINCT user_id) AS users
  FROM clicks GROUP BY item_id;

CREATE MATERIALIZED VIEW popular AS
  SELECT item_id, views FROM item_views WHERE views >= 2;

INSERT INTO clicks VALUES
  (1, 42, '2026-11-25 10:00:00'), (2, 42, '2026-11-25 10:00:01'),
  (1, 7,  '2026-11-25 10:00:02'), (3, 42, '2026-11-25 10:00:03'),
  (3, 7,  '2026-11-25 10:00:04'), (2, 9,  '2026-11-25 10:00:05');

-- FLUSH ends the epoch: every view now reflects every row above.
FLUSH;

SELECT * FROM item_views ORDER BY views DESC, item_id;
SELECT * FROM popular ORDER BY item_id;
EXPLAIN SELECT views FROM item_views WHERE item_id = 42;
SELECT views, users FROM item_views WHERE item_id = 42;
