-- The click stream every recommendation view reads: one row per item view.
-- Event time is ts; rows more than 5 seconds behind the newest seen are
-- late and dropped (counted in sluice_late_rows).
CREATE TABLE IF NOT EXISTS clicks (
  user_id BIGINT,
  item_id BIGINT,
  ts      TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL 5 SECOND
) APPEND ONLY;
