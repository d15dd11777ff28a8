package executor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/agg"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/types"
)

// Views whose aggregate is committed-backed (agg.Options.Committed: it
// keeps only each epoch's deltas and reads the groups' results back from
// the view's committed store at the barrier), checked against batch
// queries over the tables after random changes, through view re-creation
// (backfill), views reading them, checkpoints and recovery.

const backedTables = `CREATE TABLE t (k BIGINT PRIMARY KEY, g INT, h VARCHAR(4), d DOUBLE, m DECIMAL(6,2), b BOOLEAN, ts TIMESTAMP(3), v BIGINT);
CREATE TABLE u (g INT PRIMARY KEY, w BIGINT)`

// backedViews are the views of the test, with whether their aggregate is
// committed-backed and the batch query over the tables they must equal.
var backedViews = []struct {
	name, query string
	backed      bool
	batch       string // "" for query itself
}{
	{"v_int", "SELECT g, COUNT(*) AS n, COUNT(v) AS cv FROM t GROUP BY g", true, ""},
	{"v_str", "SELECT COUNT(*) AS n, h FROM t GROUP BY h", true, ""},
	{"v_pair", "SELECT g, v, COUNT(*) AS n FROM t GROUP BY g, v", true, ""},
	{"v_swapped", "SELECT v, COUNT(*) AS n, g FROM t GROUP BY g, v", true, ""},
	{"v_multi", "SELECT h, d, m, COUNT(d) AS cd, COUNT(*) AS n, COUNT(m) AS cm FROM t GROUP BY h, d, m", true, ""},
	{"v_bool_ts", "SELECT b, ts, COUNT(*) AS n, COUNT(*) * 2 AS n2 FROM t GROUP BY b, ts", true, ""},
	{"v_filtered", "SELECT v, COUNT(*) AS n FROM t WHERE g > 1 OR h LIKE 'a%' GROUP BY v", true, ""},
	{"v_join", "SELECT t.g, u.w, COUNT(*) AS n, COUNT(t.v) AS cv FROM t JOIN u ON t.g = u.g GROUP BY t.g, u.w", true, ""},
	{"v_onview", "SELECT n, COUNT(*) AS ngroups FROM v_int GROUP BY n", true,
		"SELECT n, COUNT(*) AS ngroups FROM (SELECT g, COUNT(*) AS n, COUNT(v) AS cv FROM t GROUP BY g) x GROUP BY n"},
	{"v_onview_rows", "SELECT g, v, n FROM v_pair WHERE n > 1", false,
		"SELECT g, v, n FROM (SELECT g, v, COUNT(*) AS n FROM t GROUP BY g, v) x WHERE n > 1"},
	{"v_sum", "SELECT g, COUNT(*) AS n, SUM(v) AS s FROM t GROUP BY g", false, ""},
	{"v_having", "SELECT g, COUNT(*) AS n FROM t GROUP BY g HAVING COUNT(*) > 2", false, ""},
	{"v_hidden", "SELECT g, COUNT(v) AS cv FROM t GROUP BY g", false, ""},
}

func backedQuery(name string) string {
	for _, v := range backedViews {
		if v.name == name {
			return v.query
		}
	}
	panic("no view " + name)
}

// aggBacked reports whether view name has a hash aggregate and whether it
// is committed-backed.
func aggBacked(t *testing.T, e *Engine, name string) (hasAgg, backed bool) {
	t.Helper()
	o, ok := e.cat.get(name)
	if !ok || o.frag == nil {
		t.Fatalf("no view %q", name)
	}
	for _, op := range o.frag.ops {
		if h, ok := op.(*agg.HashAgg); ok {
			return true, h.CommittedBacked()
		}
	}
	return false, false
}

// backedWorkload drives random changes into t and u.
type backedWorkload struct {
	t    *testing.T
	e    *Engine
	rng  *rand.Rand
	seed uint64
	// err, when set, records the first error of exec instead of failing
	// the test (for a workload on a goroutine of its own).
	err *error
}

func (w *backedWorkload) exec(sql string) {
	w.t.Helper()
	if _, err := w.e.Execute(context.Background(), sql); err != nil {
		if w.err != nil {
			if *w.err == nil {
				*w.err = fmt.Errorf("seed %d: %s: %w", w.seed, sql, err)
			}
			return
		}
		w.t.Fatalf("seed %d: %s: %v", w.seed, sql, err)
	}
}

func (w *backedWorkload) maybeNull(s string) string {
	if w.rng.IntN(7) == 0 {
		return "NULL"
	}
	return s
}

func (w *backedWorkload) row(k int) string {
	r := w.rng
	return fmt.Sprintf("(%d, %s, %s, %s, %s, %s, %s, %s)", k,
		w.maybeNull(strconv.Itoa(r.IntN(6))),
		w.maybeNull("'"+[]string{"a", "ab", "b", "", "abc"}[r.IntN(5)]+"'"),
		w.maybeNull([]string{"0.5", "-0.0", "0.0", "2.25", "-1"}[r.IntN(5)]),
		w.maybeNull(fmt.Sprintf("%d.%02d", r.IntN(3)-1, r.IntN(2)*50)),
		w.maybeNull([]string{"true", "false"}[r.IntN(2)]),
		w.maybeNull(fmt.Sprintf("'2026-01-01 10:00:0%d'", r.IntN(3))),
		w.maybeNull(strconv.Itoa(r.IntN(12)-3)))
}

// step makes one random change.
func (w *backedWorkload) step() {
	r := w.rng
	const keys = 200
	k := r.IntN(keys)
	switch p := r.IntN(100); {
	case p < 40:
		n := 1 + r.IntN(5)
		vals := make([]string, 0, n)
		seen := map[int]bool{}
		for range n {
			if k := r.IntN(keys); !seen[k] {
				seen[k] = true
				vals = append(vals, w.row(k))
			}
		}
		w.exec("INSERT INTO t VALUES " + strings.Join(vals, ", "))
	case p < 58:
		w.exec(fmt.Sprintf("UPDATE t SET v = %s, h = %s WHERE k = %d", w.maybeNull(strconv.Itoa(r.IntN(12)-3)), w.maybeNull("'b'"), k))
	case p < 62:
		w.exec(fmt.Sprintf("UPDATE t SET g = g + 1 WHERE v > %d AND g < 5", r.IntN(8)))
	case p < 84:
		w.exec(fmt.Sprintf("DELETE FROM t WHERE k = %d", k))
	case p < 87:
		w.exec(fmt.Sprintf("DELETE FROM t WHERE v < %d", r.IntN(4)-3))
	case p < 94:
		w.exec(fmt.Sprintf("INSERT INTO u VALUES (%d, %d)", r.IntN(7), r.IntN(4)))
	default:
		w.exec(fmt.Sprintf("DELETE FROM u WHERE g = %d", r.IntN(7)))
	}
}

// check compares every view with its batch query; it returns v_pair's
// rows rendered.
func (w *backedWorkload) check(when string) []string {
	w.t.Helper()
	var pairs []string
	for _, v := range backedViews {
		got := queryRows(w.t, w.e, "SELECT * FROM "+v.name)
		q := v.batch
		if q == "" {
			q = v.query
		}
		want := queryRows(w.t, w.e, q)
		if err := sameRows(got, want); err != nil {
			w.t.Fatalf("seed %d, %s: view %s differs from its batch query: %v", w.seed, when, v.name, err)
		}
		if v.name == "v_pair" {
			pairs = render(got)
		}
	}
	return pairs
}

func createBackedViews(t *testing.T, e *Engine) {
	t.Helper()
	for _, v := range backedViews {
		mustExec(t, e, "CREATE MATERIALIZED VIEW "+v.name+" AS "+v.query)
	}
	for _, v := range backedViews {
		if _, backed := aggBacked(t, e, v.name); backed != v.backed {
			t.Fatalf("view %s: committed-backed %v, want %v", v.name, backed, v.backed)
		}
	}
}

func backedSeed(t *testing.T) uint64 {
	if s := os.Getenv("SLUICE_DIFF_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return seed
	}
	return 1
}

// TestBackedAggDifferential: random inserts, updates and deletes under
// committed-backed views of every key shape (one integer, two integers,
// strings, doubles with -0, decimals, booleans, timestamps, NULLs), over a
// filter and a join, with views reading them; after every FLUSH each view
// equals its batch query. Midway a view is dropped and created again
// (backfilled from the tables' current rows) while the others continue.
func TestBackedAggDifferential(t *testing.T) {
	seed := backedSeed(t)
	ops := 6000
	if testing.Short() {
		ops = 1500
	}
	e := openManual(t)
	defer e.Close()
	w := &backedWorkload{t: t, e: e, rng: rand.New(rand.NewPCG(seed, 99)), seed: seed}
	for _, s := range strings.Split(backedTables, ";") {
		mustExec(t, e, s)
	}
	// Rows before the views: backfilled.
	for range 30 {
		w.step()
	}
	createBackedViews(t, e)
	flushes, vanished := 0, 0
	var prev map[string]bool
	for i := 0; i < ops; i++ {
		w.step()
		if i == ops/2 {
			// Re-create a view, and the view reading it, mid-stream.
			mustExec(t, e, "DROP MATERIALIZED VIEW v_onview")
			mustExec(t, e, "DROP MATERIALIZED VIEW v_int")
			mustExec(t, e, "CREATE MATERIALIZED VIEW v_int AS "+backedQuery("v_int"))
			mustExec(t, e, "CREATE MATERIALIZED VIEW v_onview AS "+backedQuery("v_onview"))
		}
		if w.rng.IntN(40) != 0 && i != ops-1 {
			continue
		}
		w.exec("FLUSH")
		flushes++
		pairs := w.check(fmt.Sprintf("op %d", i))
		cur := map[string]bool{}
		for _, p := range pairs {
			key := p[:strings.LastIndexByte(p, '|')]
			cur[key] = true
		}
		for k := range prev {
			if !cur[k] {
				vanished++
			}
		}
		prev = cur
	}
	if flushes < 30 || vanished < 20 || len(prev) < 10 {
		t.Fatalf("a weak run: %d flushes, %d groups vanished, %d groups at the end", flushes, vanished, len(prev))
	}
	for _, v := range backedViews {
		if _, backed := aggBacked(t, e, v.name); backed != v.backed {
			t.Fatalf("view %s: committed-backed %v, want %v", v.name, backed, v.backed)
		}
	}
	t.Logf("%d flushes, %d groups vanished", flushes, vanished)
}

// TestBackedAggConcurrent runs the workload with a 1 ms barrier interval
// while other goroutines query the views and a view is dropped and
// created again, so that under -race the aggregates' reads of the
// committed stores at barriers meet commits, queries and DDL; at the end
// every view equals its batch query.
func TestBackedAggConcurrent(t *testing.T) {
	seed := backedSeed(t)
	e, err := Open(Options{BarrierInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, s := range strings.Split(backedTables, ";") {
		mustExec(t, e, s)
	}
	createBackedViews(t, e)
	ops := 3000
	if testing.Short() {
		ops = 800
	}
	var writeErr, ddlErr error
	var readErrs [2]error
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		w := &backedWorkload{t: t, e: e, rng: rand.New(rand.NewPCG(seed, 3)), seed: seed, err: &writeErr}
		for range ops {
			w.step()
		}
	}()
	for i, q := range []string{"SELECT * FROM v_pair", "SELECT * FROM v_multi WHERE n > 1"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := e.Execute(context.Background(), q); err != nil && readErrs[i] == nil {
					readErrs[i] = err
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ; k++ {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			for _, sql := range []string{"DROP MATERIALIZED VIEW v_str", "CREATE MATERIALIZED VIEW v_str AS " + backedQuery("v_str")} {
				if _, err := e.Execute(context.Background(), sql); err != nil && ddlErr == nil {
					ddlErr = err
				}
			}
		}
	}()
	wg.Wait()
	for _, err := range append([]error{writeErr, ddlErr}, readErrs[:]...) {
		if err != nil {
			t.Fatal(err)
		}
	}
	w := &backedWorkload{t: t, e: e, seed: seed}
	w.exec("FLUSH")
	w.check("at the end")
	if n := len(queryRows(t, e, "SELECT * FROM v_pair")); n < 10 {
		t.Fatalf("v_pair has %d rows", n)
	}
}

// TestBackedAggRecovery: committed-backed views over a durable engine are
// checkpointed (their operators holding no group), changed further (the
// log only), and recovered: after each restart, and after more changes,
// every view equals its batch query. A second restart replays a log that
// creates a view after the checkpoint.
func TestBackedAggRecovery(t *testing.T) {
	seed := backedSeed(t)
	dir := t.TempDir()
	open := func() *Engine {
		return openDurable(t, dir)
	}
	rng := rand.New(rand.NewPCG(seed, 5))
	e := open()
	w := &backedWorkload{t: t, e: e, rng: rng, seed: seed}
	for _, s := range strings.Split(backedTables, ";") {
		mustExec(t, e, s)
	}
	createBackedViews(t, e)
	run := func(n int) {
		for range n {
			w.step()
			if rng.IntN(30) == 0 {
				w.exec("FLUSH")
			}
		}
	}
	run(800)
	mustExec(t, e, "CHECKPOINT")
	w.check("after the checkpoint")
	run(400) // the log only, some of it never flushed
	e.Close()

	e = open()
	w.e = e
	w.check("after recovery")
	for _, v := range backedViews {
		if _, backed := aggBacked(t, e, v.name); backed != v.backed {
			t.Fatalf("recovered view %s: committed-backed %v, want %v", v.name, backed, v.backed)
		}
	}
	run(400)
	w.exec("FLUSH")
	w.check("after recovery and more changes")
	mustExec(t, e, "CHECKPOINT")
	run(200)
	mustExec(t, e, "CREATE MATERIALIZED VIEW v_late AS SELECT h, COUNT(*) AS n FROM t GROUP BY h")
	run(200)
	e.Close()

	e = open()
	defer e.Close()
	w.e = e
	w.exec("FLUSH")
	w.check("after the second recovery")
	if err := sameRows(queryRows(t, e, "SELECT * FROM v_late"), queryRows(t, e, "SELECT h, COUNT(*) AS n FROM t GROUP BY h")); err != nil {
		t.Fatalf("v_late: %v", err)
	}
	if _, backed := aggBacked(t, e, "v_late"); !backed {
		t.Fatal("v_late is not committed-backed")
	}
}

// TestBackedAggReadFailedView checks that a committed-backed aggregate
// stops when its view's commit failed (its store no longer follows it),
// and that Read finds groups through the view's column mapping.
func TestBackedAggReadFailedView(t *testing.T) {
	schema := types.Schema{
		{Name: "n", Type: types.BigIntType}, {Name: "g", Type: types.BigIntType}, {Name: "x", Type: types.BigIntType},
	}
	st := state.NewStore(schema, []int{1}, true)
	mem := memory.NewGoAllocator()
	b := array.NewRecordBuilder(mem, schema.Arrow())
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{4, 9}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{7, 8}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{0, 0}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := st.Apply(&operators.Chunk{Rec: rec}); err != nil {
		t.Fatal(err)
	}
	o := &object{rel: nil, store: st}
	// The aggregate's output is (g, COUNT(*)): the view shows it as (n, g, x).
	v := &viewRows{o: o, cols: []int{1, 0}}
	kb := array.NewInt64Builder(mem)
	defer kb.Release()
	kb.AppendValues([]int64{8, 5, 7}, nil)
	karr := kb.NewArray()
	defer karr.Release()
	keys := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "g", Type: arrow.PrimitiveTypes.Int64}}, nil), []arrow.Array{karr}, 3)
	defer keys.Release()
	found := make([]bool, 3)
	dst := [][]int64{make([]int64, 3)}
	if err := v.Read(keys, []int{1}, found, dst, make([]uint32, 3)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(found, dst[0]) != "[true false true] [9 0 4]" {
		t.Fatalf("Read: found %v, counts %v", found, dst[0])
	}
	o.failed = errors.New("boom")
	if err := v.Read(keys, []int{1}, found, dst, make([]uint32, 3)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Read of a failed view: %v", err)
	}
}
