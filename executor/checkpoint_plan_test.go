package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// rebuiltViews records, from the engine's warnings, the views rebuilt
// from their inputs instead of restored from a checkpoint (view -> why),
// passing records on to a text handler on stderr (not to the default
// handler it replaces: that one writes through the log package, which
// SetDefault routes back here).
type rebuiltViews struct {
	next  slog.Handler
	mu    sync.Mutex
	views map[string]string
	// trusted names the views over sources restored into another plan
	// than their checkpoint's.
	trusted map[string]bool
}

// captureRebuilt installs a rebuiltViews as the default logger until the
// test ends. Tests of this package do not run in parallel.
func captureRebuilt(t *testing.T) *rebuiltViews {
	prev := slog.Default()
	h := &rebuiltViews{next: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}), views: map[string]string{}, trusted: map[string]bool{}}
	slog.SetDefault(slog.New(h))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return h
}

func (h *rebuiltViews) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *rebuiltViews) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "materialized view over a source restored into a plan other") {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "view" {
				h.mu.Lock()
				h.trusted[a.Value.String()] = true
				h.mu.Unlock()
			}
			return true
		})
	}
	if strings.HasPrefix(r.Message, "materialized view rebuilt") {
		var view, why string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "view":
				view = a.Value.String()
			case "why":
				why = a.Value.String()
			}
			return true
		})
		h.mu.Lock()
		h.views[view] = why
		h.mu.Unlock()
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *rebuiltViews) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *rebuiltViews) WithGroup(string) slog.Handler      { return h }

func (h *rebuiltViews) get() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]string, len(h.views))
	for k, v := range h.views {
		out[k] = v
	}
	return out
}

// editCheckpoint rewrites the manifest of the newest checkpoint under dir.
func editCheckpoint(t *testing.T, dir string, edit func(m *manifest)) {
	t.Helper()
	root := filepath.Join(dir, "checkpoints")
	cps := listCheckpoints(root)
	if len(cps) == 0 {
		t.Fatal("no checkpoint")
	}
	path := filepath.Join(root, cps[len(cps)-1], manifestName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	if b, err = json.Marshal(&m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// manObjectOf is view name's entry in m.
func manObjectOf(t *testing.T, m *manifest, name string) *manObject {
	t.Helper()
	for i := range m.Objects {
		if m.Objects[i].Name == name {
			return &m.Objects[i]
		}
	}
	t.Fatalf("no object %q in the checkpoint", name)
	return nil
}

// planClicks inserts n clicks of 4 users over 5 items from minute start
// on, one a minute, in event-time order (none late).
func planClicks(start, n int) string {
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var sb strings.Builder
	sb.WriteString("INSERT INTO clicks VALUES ")
	for i := start; i < start+n; i++ {
		if i > start {
			sb.WriteString(", ")
		}
		ts := base.Add(time.Duration(i) * time.Minute).Format("2006-01-02 15:04:05.000")
		fmt.Fprintf(&sb, "(%d, %d, '%s')", i%4, 10+(i*7)%5, ts)
	}
	return sb.String()
}

const (
	// The body of view cooc (testdata/recs/a_cooc.sql), as a batch query.
	coocBatch = `SELECT a.item_id AS item, b.item_id AS other, COUNT(*) AS n
  FROM clicks a JOIN clicks b
    ON a.user_id = b.user_id
   AND a.item_id <> b.item_id
   AND b.ts BETWEEN a.ts - INTERVAL 30 MINUTE AND a.ts + INTERVAL 30 MINUTE
  GROUP BY a.item_id, b.item_id`
	coocTopBatch = `SELECT item, other, n FROM (
    SELECT item, other, n,
           ROW_NUMBER() OVER (PARTITION BY item ORDER BY n DESC, other) AS rn
    FROM cooc) ranked
  WHERE rn <= 20`
	// A view that keeps no operator state.
	planRecent    = "CREATE MATERIALIZED VIEW recent AS SELECT user_id, item_id FROM clicks WHERE item_id > 11"
	recentBatch   = "SELECT user_id, item_id FROM clicks WHERE item_id > 11"
	planViewCount = 3 // cooc, cooc_top, recent
)

// TestCheckpointRecordsViewPlans: a checkpoint records each view's plan
// as EXPLAIN shows it, and recovery restores a view's operator state only
// into the same plan. A view whose recorded plan differs (a newer build
// plans its SQL differently, e.g. with a Mirror over its aggregate) or is
// missing (a checkpoint of an older build) is rebuilt from its inputs, as
// are the views reading it, and its rows equal the batch query's; a view
// that keeps no operator state is restored either way.
func TestCheckpointRecordsViewPlans(t *testing.T) {
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		e := openDurable(t, dir)
		defer e.Close()
		runSQLFile(t, e, "../testdata/recs/00_clicks.sql")
		runSQLFile(t, e, "../testdata/recs/a_cooc.sql")
		mustExec(t, e, planRecent)
		mustExec(t, e, planClicks(0, 40))
		mustExec(t, e, "CHECKPOINT")
		mustExec(t, e, planClicks(40, 25)) // in the log only
		return dir
	}
	reopen := func(t *testing.T, dir string) (*Engine, map[string]string) {
		log := captureRebuilt(t)
		e, err := Open(durableOptions(dir))
		if err != nil {
			t.Fatalf("recovery: %v", err)
		}
		t.Cleanup(func() { e.Close() })
		mustExec(t, e, "FLUSH")
		for _, c := range []struct{ view, batch string }{
			{"cooc", coocBatch}, {"cooc_top", coocTopBatch}, {"recent", recentBatch},
		} {
			got := queryRows(t, e, "SELECT * FROM "+c.view)
			if len(got) == 0 {
				t.Fatalf("view %s is empty", c.view)
			}
			if err := sameRows(got, queryRows(t, e, c.batch)); err != nil {
				t.Errorf("view %s after recovery: %v", c.view, err)
			}
		}
		return e, log.get()
	}

	t.Run("recorded", func(t *testing.T) {
		dir := setup(t)
		var m *manifest
		editCheckpoint(t, dir, func(x *manifest) { m = x }) // a read: the manifest is written back as it was
		e, rebuilt := reopen(t, dir)
		if len(rebuilt) != 0 {
			t.Fatalf("views rebuilt from a checkpoint of the same plans: %v", rebuilt)
		}
		// Each view's plan is its EXPLAIN, which for cooc has the Mirror.
		ddl := map[string]string{}
		for _, mo := range m.Objects {
			ddl[mo.Name] = mo.DDL
		}
		for _, name := range []string{"cooc", "cooc_top", "recent"} {
			var lines []string
			for _, r := range queryRows(t, e, "EXPLAIN "+ddl[name]) {
				lines = append(lines, r[0].String())
			}
			if got, want := manObjectOf(t, m, name).Plan, strings.Join(lines, "\n"); got != want {
				t.Errorf("plan recorded for %s:\n%s\nwant its EXPLAIN:\n%s", name, got, want)
			}
		}
		if p := manObjectOf(t, m, "cooc").Plan; !strings.Contains(p, "Mirror") {
			t.Errorf("cooc's recorded plan has no Mirror:\n%s", p)
		}
		if len(manObjectOf(t, m, "cooc").Operators) == 0 {
			t.Error("cooc has no operator state in the checkpoint")
		}
		if p := manObjectOf(t, m, "clicks").Plan; p != "" {
			t.Errorf("table clicks has a plan: %q", p)
		}
	})

	t.Run("changed", func(t *testing.T) {
		dir := setup(t)
		editCheckpoint(t, dir, func(m *manifest) {
			mo := manObjectOf(t, m, "cooc")
			// As a build before the Mirror planned it.
			mo.Plan = strings.ReplaceAll(strings.ReplaceAll(mo.Plan, "(item_id < item_id)", "(item_id <> item_id)"), "Mirror", "Project")
		})
		_, rebuilt := reopen(t, dir)
		if why, ok := rebuilt["cooc"]; !ok || !strings.Contains(why, `plan of view "cooc" changed`) {
			t.Errorf("cooc: rebuilt %v (%q), want rebuilt because its plan changed", ok, why)
		}
		if _, ok := rebuilt["cooc_top"]; !ok {
			t.Error("cooc_top, which reads the rebuilt cooc, was not rebuilt")
		}
		if len(rebuilt) != 2 {
			t.Errorf("rebuilt %v, want cooc and cooc_top", rebuilt)
		}
	})

	t.Run("missing", func(t *testing.T) {
		dir := setup(t)
		editCheckpoint(t, dir, func(m *manifest) {
			n := 0
			for i := range m.Objects {
				if m.Objects[i].Plan != "" {
					m.Objects[i].Plan = ""
					n++
				}
			}
			if n != planViewCount {
				t.Fatalf("%d objects have a plan, want %d", n, planViewCount)
			}
		})
		_, rebuilt := reopen(t, dir)
		if why, ok := rebuilt["cooc"]; !ok || !strings.Contains(why, "does not record its plan") {
			t.Errorf("cooc: rebuilt %v (%q), want rebuilt because the checkpoint has no plan", ok, why)
		}
		if _, ok := rebuilt["cooc_top"]; !ok {
			t.Error("cooc_top was restored from a checkpoint without its plan")
		}
		if why, ok := rebuilt["recent"]; ok {
			t.Errorf("recent, which keeps no operator state, was rebuilt: %s", why)
		}
	})
}

// TestCheckpointPlanChangedOverSource: a view over a source cannot be
// rebuilt (a source keeps no rows), so one whose recorded plan differs
// from this build's, or is missing (an older build's checkpoint), is
// restored when its operators accept their state, with a warning, rather
// than failing recovery; with the same plan, without one.
func TestCheckpointPlanChangedOverSource(t *testing.T) {
	dir := t.TempDir()
	e := openDurable(t, dir)
	mustExec(t, e, "CREATE SOURCE ev (user_id BIGINT, item_id BIGINT) WITH (connector = 'datagen', rate = 1)")
	mustExec(t, e, "CREATE MATERIALIZED VIEW ev_top AS SELECT user_id, item_id FROM ev ORDER BY item_id DESC LIMIT 1")
	mustExec(t, e, "CHECKPOINT")
	e.Close()
	for _, c := range []struct {
		name    string
		edit    func(m *manifest)
		trusted bool
	}{
		{"same plan", func(*manifest) {}, false},
		{"changed plan", func(m *manifest) { manObjectOf(t, m, "ev_top").Plan += "\n  Mirror" }, true},
		{"no plan", func(m *manifest) { manObjectOf(t, m, "ev_top").Plan = "" }, true},
	} {
		editCheckpoint(t, dir, c.edit)
		log := captureRebuilt(t)
		e, err := Open(durableOptions(dir))
		if err != nil {
			t.Fatalf("%s: recovery: %v", c.name, err)
		}
		rows := queryRows(t, e, "SELECT * FROM ev_top")
		e.Close()
		if len(rows) > 1 {
			t.Fatalf("%s: ev_top after restore: %v", c.name, rows)
		}
		log.mu.Lock()
		trusted, rebuilt := log.trusted["ev_top"], len(log.views)
		log.mu.Unlock()
		if trusted != c.trusted || rebuilt != 0 {
			t.Errorf("%s: warned of another plan %v (want %v), views rebuilt %d", c.name, trusted, c.trusted, rebuilt)
		}
	}
}
