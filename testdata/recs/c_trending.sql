-- Trending items: views per item over the last 10 minutes, recomputed
-- every minute (HOP windows), and the 10 most viewed items per window.
--
-- HOP rather than a temporal filter so each minute's ranking is kept and
-- comparable; the counts update in place while a window is open, and the
-- watermark frees each window's state once it closes. The Top-N partitions
-- by window, so "trending now" is the newest window_start.
CREATE MATERIALIZED VIEW IF NOT EXISTS trending_counts AS
  SELECT window_start, window_end, item_id, COUNT(*) AS views
  FROM HOP(clicks, ts, INTERVAL 1 MINUTE, INTERVAL 10 MINUTE)
  GROUP BY window_start, window_end, item_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS trending AS
  SELECT window_start, item_id, views FROM (
    SELECT window_start, item_id, views,
           ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY views DESC, item_id) AS rn
    FROM trending_counts) t
  WHERE rn <= 10;
