-- The personalised query of d_personalised.sql: $1 is the user id.
SELECT s.other AS item_id, ROUND(SUM(s.score), 4) AS score
FROM user_recent r
JOIN similar s ON s.item = r.item_id
LEFT JOIN user_items seen ON seen.user_id = r.user_id AND seen.item_id = s.other
WHERE r.user_id = $1 AND seen.item_id IS NULL
GROUP BY s.other
ORDER BY score DESC, item_id
LIMIT 10
