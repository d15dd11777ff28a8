package executor

import (
	"strings"
	"testing"
)

// rewriteDDL replaces, in the newest checkpoint under dir, the DDL of
// view name by ddl: as if this build planned the view's SQL differently
// from the build that took the checkpoint (its operators' snapshots then
// no longer fit).
func rewriteDDL(t *testing.T, dir, name, ddl string) {
	t.Helper()
	editCheckpoint(t, dir, func(m *manifest) { manObjectOf(t, m, name).DDL = ddl })
}

// TestRebuildViewOfAnotherPlan: when a view's checkpointed operator state
// does not fit the plan this build makes of its SQL, recovery rebuilds the
// view from its inputs (restored to the checkpoint) instead of failing,
// and the views reading it too (their inputs' rows arrive again); the log
// after the checkpoint then replays on top. The result equals an engine
// that ran the new SQL from the start. A view over a source, which keeps
// no rows to rebuild from, still fails with a clear error.
func TestRebuildViewOfAnotherPlan(t *testing.T) {
	const (
		counts  = "CREATE MATERIALIZED VIEW counts AS SELECT user_id, item_id, COUNT(*) AS n FROM clicks GROUP BY user_id, item_id"
		top1    = "CREATE MATERIALIZED VIEW top AS SELECT user_id, item_id, n FROM (SELECT user_id, item_id, n, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY n DESC, item_id) AS rn FROM counts) t WHERE rn <= 1"
		top2    = "CREATE MATERIALIZED VIEW top AS SELECT user_id, item_id, n FROM (SELECT user_id, item_id, n, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY n DESC, item_id) AS rn FROM counts) t WHERE rn <= 2"
		perUser = "CREATE MATERIALIZED VIEW per_user AS SELECT user_id, COUNT(*) AS items FROM top GROUP BY user_id"
	)
	table := "CREATE TABLE clicks (user_id BIGINT, item_id BIGINT) APPEND ONLY"
	before := []string{
		"INSERT INTO clicks VALUES (1, 10), (1, 10), (1, 11), (2, 20), (2, 21), (2, 21), (2, 22)",
		"INSERT INTO clicks VALUES (1, 12), (3, 30)",
	}
	after := []string{"INSERT INTO clicks VALUES (1, 11), (1, 11), (3, 31), (3, 31)"}
	queries := []string{"SELECT * FROM counts", "SELECT * FROM top", "SELECT * FROM per_user"}
	state := func(e *Engine) string {
		var out []string
		for _, q := range queries {
			out = append(out, q+": "+strings.Join(sorted(render(queryRows(t, e, q))), "; "))
		}
		return strings.Join(out, "\n")
	}

	// The reference runs the new SQL (top 2) from the start.
	ref := openManual(t)
	for _, s := range append(append([]string{table, counts, top2, perUser}, before...), after...) {
		mustExec(t, ref, s)
	}
	mustExec(t, ref, "FLUSH")
	want := state(ref)
	ref.Close()

	dir := t.TempDir()
	open := func() (*Engine, error) {
		return Open(durableOptions(dir))
	}
	e, err := open()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append([]string{table, counts, top1, perUser}, before...) {
		mustExec(t, e, s)
	}
	mustExec(t, e, "CHECKPOINT")
	for _, s := range after {
		mustExec(t, e, s)
	}
	e.Close()

	rewriteDDL(t, dir, "top", top2)
	e, err = open()
	if err != nil {
		t.Fatalf("recovery with a view of another plan: %v", err)
	}
	mustExec(t, e, "FLUSH")
	got := state(e)
	e.Close()
	if got != want {
		t.Fatalf("after rebuilding:\n%s\nwant\n%s", got, want)
	}

	// A plan that gained a stateful operator the checkpoint has no
	// snapshot of (here a Top-N where a filter was: the rows stored are of
	// the same shape) is rebuilt too, not run with an empty Top-N.
	dir3 := t.TempDir()
	open3 := func() (*Engine, error) {
		return Open(Options{BarrierInterval: -1, DataDir: dir3, NoSync: true, CheckpointInterval: -1})
	}
	if e, err = open3(); err != nil {
		t.Fatal(err)
	}
	for _, s := range append([]string{table, "CREATE MATERIALIZED VIEW w AS SELECT user_id, item_id FROM clicks WHERE user_id > 1"}, before...) {
		mustExec(t, e, s)
	}
	mustExec(t, e, "CHECKPOINT")
	e.Close()
	rewriteDDL(t, dir3, "w", "CREATE MATERIALIZED VIEW w AS SELECT user_id, item_id FROM clicks ORDER BY item_id DESC LIMIT 2")
	if e, err = open3(); err != nil {
		t.Fatalf("recovery with a view that gained a Top-N: %v", err)
	}
	mustExec(t, e, "FLUSH")
	if got := strings.Join(sorted(render(queryRows(t, e, "SELECT * FROM w"))), "; "); got != "2|22; 3|30" {
		t.Errorf("the view that gained a Top-N holds %s, want 2|22; 3|30", got)
	}
	e.Close()

	// A view over a source cannot be rebuilt: recovery says so.
	dir2 := t.TempDir()
	e, err = Open(Options{BarrierInterval: -1, DataDir: dir2, NoSync: true, CheckpointInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"CREATE SOURCE ev (user_id BIGINT, item_id BIGINT) WITH (connector = 'datagen', rate = 1)",
		"CREATE MATERIALIZED VIEW ev_top AS SELECT user_id, item_id FROM ev ORDER BY item_id DESC LIMIT 1",
	} {
		mustExec(t, e, s)
	}
	mustExec(t, e, "CHECKPOINT")
	e.Close()
	rewriteDDL(t, dir2, "ev_top", "CREATE MATERIALIZED VIEW ev_top AS SELECT user_id, item_id FROM ev ORDER BY item_id DESC LIMIT 2")
	if e, err = Open(Options{BarrierInterval: -1, DataDir: dir2, NoSync: true, CheckpointInterval: -1}); err == nil {
		e.Close()
		t.Fatal("recovered a view over a source whose state does not fit its plan")
	} else if !strings.Contains(err.Error(), "differently configured") || !strings.Contains(err.Error(), "reads a source") {
		t.Fatalf("recovery error: %v", err)
	}
}
