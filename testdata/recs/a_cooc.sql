-- Item-to-item co-occurrence: how many times two different items were
-- viewed by the same user within 30 minutes of each other ("people who
-- viewed X also viewed Y").
--
-- Written as an interval self-join rather than a window: a fixed window
-- would split pairs that straddle its edge, while the time bound counts
-- every pair exactly once per ordered (view, view) couple. The bound plus
-- the watermark lets the join forget clicks older than 30 minutes, so its
-- state stays proportional to the last half hour of traffic, not to all
-- history. Pairs are ordered (both (i, j) and (j, i) are kept) so that
-- "similar to i" is a key lookup on item. The condition is symmetric (the
-- same for (a, b) as for (b, a)), so the planner counts each unordered pair
-- once and shows it in both orders (EXPLAIN: Mirror).
CREATE MATERIALIZED VIEW IF NOT EXISTS cooc AS
  SELECT a.item_id AS item, b.item_id AS other, COUNT(*) AS n
  FROM clicks a JOIN clicks b
    ON a.user_id = b.user_id
   AND a.item_id <> b.item_id
   AND b.ts BETWEEN a.ts - INTERVAL 30 MINUTE AND a.ts + INTERVAL 30 MINUTE
  GROUP BY a.item_id, b.item_id;

-- The 20 items most often co-viewed with each item (ties broken by the
-- other item's id, so the list is deterministic): the "people who viewed X
-- also viewed" list an app reads with one key lookup on item. The Top-N
-- is maintained incrementally: a pair's new count revisits only its
-- item's list.
CREATE MATERIALIZED VIEW IF NOT EXISTS cooc_top AS
  SELECT item, other, n FROM (
    SELECT item, other, n,
           ROW_NUMBER() OVER (PARTITION BY item ORDER BY n DESC, other) AS rn
    FROM cooc) ranked
  WHERE rn <= 20;
