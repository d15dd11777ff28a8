-- Similar items by cosine similarity: cooc(i, j) / sqrt(n(i) * n(j)),
-- where n(i) is how many times item i was viewed; the 20 most similar
-- items per item.
--
-- Dividing by the popularity of both items keeps blockbuster items from
-- being "similar" to everything. item_views is its own view so both sides
-- of the join read one small keyed table; the Top-N is a ROW_NUMBER filter,
-- which Sluice maintains incrementally: when a pair's score changes, only
-- that item's top 20 is revisited. Ties break on the other item's id so
-- the result is deterministic.
CREATE MATERIALIZED VIEW IF NOT EXISTS item_views AS
  SELECT item_id, COUNT(*) AS n FROM clicks GROUP BY item_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS similar AS
  SELECT item, other, score FROM (
    SELECT c.item, c.other, c.n / SQRT(ni.n * nj.n) AS score,
           ROW_NUMBER() OVER (PARTITION BY c.item ORDER BY c.n / SQRT(ni.n * nj.n) DESC, c.other) AS rn
    FROM cooc c
    JOIN item_views ni ON ni.item_id = c.item
    JOIN item_views nj ON nj.item_id = c.other) ranked
  WHERE rn <= 20;
