package parser

import "testing"

func BenchmarkParseSelect(b *testing.B) {
	const q = "SELECT a.item_id AS item, b.item_id AS other, COUNT(*) AS n FROM clicks a JOIN clicks b " +
		"ON a.user_id = b.user_id AND a.item_id <> b.item_id " +
		"AND b.ts BETWEEN a.ts - INTERVAL 30 MINUTE AND a.ts + INTERVAL 30 MINUTE " +
		"WHERE a.user_id = $1 GROUP BY a.item_id, b.item_id ORDER BY n DESC LIMIT 10"
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		if _, err := Parse(q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplit(b *testing.B) {
	const q = "SELECT 'a;b' FROM t; -- comment;\nINSERT INTO t VALUES (1, \"x;y\"); /* ; */ SELECT $$;$$;"
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		Split(q)
	}
}
