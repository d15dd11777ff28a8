package executor

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestRestartKeepsCatalogAndAcknowledgedRows: every statement acknowledged
// before Close is there after reopening the same data directory, and views
// equal what they were.
func TestRestartKeepsCatalogAndAcknowledgedRows(t *testing.T) {
	dir := t.TempDir()
	open := func() *Engine {
		e, err := Open(Options{BarrierInterval: -1, DataDir: dir, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := open()
	for _, s := range []string{
		"CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT, score BIGINT)",
		"CREATE TABLE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL 5 SECOND) APPEND ONLY",
		"CREATE MATERIALIZED VIEW per_item AS SELECT item_id, COUNT(*) AS n FROM clicks GROUP BY item_id",
		"CREATE MATERIALIZED VIEW top AS SELECT name, score FROM users ORDER BY score DESC, name LIMIT 2",
		"INSERT INTO users VALUES (1, 'ann', 10), (2, 'bob', 20), (3, 'cy', 5)",
		"INSERT INTO clicks VALUES (1, 7, '2026-11-25 10:00:10'), (2, 7, '2026-11-25 10:00:11'), (2, 8, '2026-11-25 10:00:12')",
		"INSERT INTO clicks VALUES (3, 9, '2026-11-25 10:00:01')", // late: dropped, also on replay
		"UPDATE users SET score = 30 WHERE id = 3",
		"DELETE FROM users WHERE id = 2",
		"CREATE TABLE gone (x BIGINT) APPEND ONLY",
		"DROP TABLE gone",
	} {
		mustExec(t, e, s)
	}
	mustExec(t, e, "FLUSH")
	queries := []string{
		"SELECT * FROM users", "SELECT * FROM per_item", "SELECT * FROM top",
		"SELECT name, late_rows FROM sluice_late_rows",
	}
	before := make([][]string, len(queries))
	for i, q := range queries {
		before[i] = render(queryRows(t, e, q))
	}
	e.Close()

	e = open()
	defer e.Close()
	for i, q := range queries {
		got := render(queryRows(t, e, q))
		if strings.Join(sorted(got), ";") != strings.Join(sorted(before[i]), ";") {
			t.Fatalf("%s after restart: %v, before: %v", q, got, before[i])
		}
	}
	if _, err := e.Execute(context.Background(), "SELECT * FROM gone"); err == nil {
		t.Fatal("a dropped table came back")
	}
	// The engine keeps working and logging after recovery.
	mustExec(t, e, "INSERT INTO clicks VALUES (4, 8, '2026-11-25 10:00:20')")
	mustExec(t, e, "FLUSH")
	if got := render(queryRows(t, e, "SELECT n FROM per_item WHERE item_id = 8")); len(got) != 1 || got[0] != "2" {
		t.Fatalf("after recovery: %v", got)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// TestAppendAllIsOneRecord: the batches of one AppendAll (a COPY) are one
// log record: a torn tail after a crash keeps all of them or none.
func TestAppendAllIsOneRecord(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(Options{BarrierInterval: -1, DataDir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, e, "CREATE TABLE ev (k BIGINT, v BIGINT) APPEND ONLY")
	before := e.dur.log.LastLSN()
	mem := memoryForTest()
	var recs []arrowRecord
	for b := 0; b < 3; b++ {
		recs = append(recs, kvBatch(mem, 1000, func(i int) (int64, int64) { return int64(b*1000 + i), 1 }))
	}
	if err := e.AppendAll(context.Background(), "ev", recs); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		r.Release()
	}
	if got := e.dur.log.LastLSN() - before; got != 1 {
		t.Fatalf("AppendAll of 3 batches wrote %d log records, want 1", got)
	}
	e.Close()
	e, err = Open(Options{BarrierInterval: -1, DataDir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got := render(queryRows(t, e, "SELECT COUNT(*) FROM ev")); got[0] != "3000" {
		t.Fatalf("after restart: %v rows", got)
	}
}

func memoryForTest() memory.Allocator { return memory.NewGoAllocator() }
