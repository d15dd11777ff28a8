package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkpointWorkload creates objects of every stateful kind and feeds them.
var checkpointWorkload = []string{
	"CREATE TABLE users (id BIGINT PRIMARY KEY, grp TEXT, score BIGINT)",
	"CREATE TABLE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL 5 SECOND) APPEND ONLY",
	"CREATE MATERIALIZED VIEW per_item AS SELECT item_id, COUNT(*) AS n, COUNT(DISTINCT user_id) AS u, MIN(ts) AS first FROM clicks GROUP BY item_id",
	"CREATE MATERIALIZED VIEW per_min AS SELECT window_start, item_id, COUNT(*) AS n FROM TUMBLE(clicks, ts, INTERVAL 1 MINUTE) GROUP BY window_start, item_id EMIT ON WINDOW CLOSE",
	"CREATE MATERIALIZED VIEW best AS SELECT grp, id, score FROM (SELECT grp, id, score, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY score DESC, id) AS rn FROM users) t WHERE rn <= 2",
	"CREATE MATERIALIZED VIEW joined AS SELECT u.grp, COUNT(*) AS clicks FROM clicks c JOIN users u ON c.user_id = u.id GROUP BY u.grp",
	"INSERT INTO users VALUES (1, 'a', 10), (2, 'a', 20), (3, 'b', 5), (4, 'a', 7)",
	"INSERT INTO clicks VALUES (1, 7, '2026-11-25 10:00:10'), (2, 7, '2026-11-25 10:00:20'), (3, 8, '2026-11-25 10:00:30')",
	"INSERT INTO clicks VALUES (1, 8, '2026-11-25 10:01:10'), (4, 9, '2026-11-25 10:02:30')",
}

var checkpointAfter = []string{
	"UPDATE users SET score = 30 WHERE id = 3",
	"DELETE FROM users WHERE id = 2",
	"INSERT INTO clicks VALUES (2, 9, '2026-11-25 10:03:40'), (3, 7, '2026-11-25 10:03:41')",
	"INSERT INTO clicks VALUES (9, 9, '2026-11-25 10:00:00')", // late
}

var checkpointQueries = []string{
	"SELECT * FROM users", "SELECT * FROM per_item", "SELECT * FROM per_min", "SELECT * FROM best",
	"SELECT * FROM joined", "SELECT name, late_rows, watermark FROM sluice_late_rows",
}

func snapshotOf(t *testing.T, e *Engine) []string {
	var out []string
	for _, q := range checkpointQueries {
		out = append(out, q+": "+strings.Join(sorted(render(queryRows(t, e, q))), "; "))
	}
	return out
}

// TestCheckpointRecovery: state restored from a checkpoint plus the log
// after it equals the state of an engine that never stopped; a corrupt
// newest checkpoint falls back to the previous one.
func TestCheckpointRecovery(t *testing.T) {
	// The reference: one engine, no restart.
	ref := openManual(t)
	for _, s := range append(append([]string{}, checkpointWorkload...), checkpointAfter...) {
		mustExec(t, ref, s)
	}
	mustExec(t, ref, "FLUSH")
	want := snapshotOf(t, ref)
	ref.Close()

	dir := t.TempDir()
	open := func() *Engine {
		return openDurable(t, dir)
	}
	e := open()
	for _, s := range checkpointWorkload {
		mustExec(t, e, s)
	}
	mustExec(t, e, "CHECKPOINT")
	mustExec(t, e, checkpointAfter[0])
	mustExec(t, e, "CHECKPOINT")
	for _, s := range checkpointAfter[1:] {
		mustExec(t, e, s)
	}
	stats := queryRows(t, e, "SELECT epoch, bytes, files, error FROM sluice_checkpoints")
	if len(stats) != 2 || stats[1][1].I == 0 || !stats[1][3].Null {
		t.Fatalf("sluice_checkpoints: %v", render(stats))
	}
	e.Close()

	e = open()
	got := snapshotOf(t, e)
	e.Close()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after recovery from the newest checkpoint:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Corrupt the newest checkpoint: recovery falls back to the previous
	// one (and replays more of the log) and still gets everything.
	ckpts := listCheckpoints(filepath.Join(dir, "checkpoints"))
	if len(ckpts) != 2 {
		t.Fatalf("checkpoints kept: %v", ckpts)
	}
	newest := filepath.Join(dir, "checkpoints", ckpts[1])
	victim := ""
	ents, _ := os.ReadDir(newest)
	for _, en := range ents {
		if strings.HasPrefix(en.Name(), "op-") {
			victim = filepath.Join(newest, en.Name())
			break
		}
	}
	b, _ := os.ReadFile(victim)
	b[len(b)/2] ^= 0xff
	os.WriteFile(victim, b, 0o644)
	e = open()
	got = snapshotOf(t, e)
	e.Close()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after falling back:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Both checkpoints unreadable: a clear error naming the file, no start.
	older := filepath.Join(dir, "checkpoints", ckpts[0])
	os.Remove(filepath.Join(older, manifestName))
	_, err := Open(Options{BarrierInterval: -1, DataDir: dir, NoSync: true})
	if err == nil || !strings.Contains(err.Error(), "MANIFEST.json") {
		t.Fatalf("open with no readable checkpoint: %v", err)
	}
	_ = context.Background
}

// openManual opens an in-memory engine whose barriers the test drives
// (FLUSH), failing t on error.
func openManual(t testing.TB) *Engine {
	t.Helper()
	e, err := Open(Options{BarrierInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// durableOptions are the options of an engine on data directory dir
// whose barriers and checkpoints the test drives, without fsync.
func durableOptions(dir string) Options {
	return Options{BarrierInterval: -1, DataDir: dir, NoSync: true, CheckpointInterval: -1}
}

// openDurable opens an engine with durableOptions(dir), failing t on error.
func openDurable(t testing.TB, dir string) *Engine {
	t.Helper()
	e, err := Open(durableOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	return e
}
