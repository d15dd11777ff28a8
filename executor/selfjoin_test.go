package executor

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/operators/join"
)

// explainHas reports whether EXPLAIN of sql mentions want.
func explainHas(t *testing.T, e *Engine, sql, want string) bool {
	t.Helper()
	var b strings.Builder
	for _, r := range queryRows(t, e, "EXPLAIN "+sql) {
		b.WriteString(r[0].String() + "\n")
	}
	return strings.Contains(b.String(), want)
}

// selfJoinCase is a view built as a self-join and its reference, the same
// query with a right input that differs (WHERE on the right key: a
// condition every matching row meets, pushed into the right input), so
// built as a two-sided join.
type selfJoinCase struct{ name, query, ref string }

func checkSelfJoinViews(t *testing.T, e *Engine, cases []selfJoinCase, step string) {
	t.Helper()
	for _, c := range cases {
		got := queryRows(t, e, "SELECT * FROM "+c.name)
		if err := sameRows(got, queryRows(t, e, "SELECT * FROM "+c.name+"_ref")); err != nil {
			t.Fatalf("%s: self-join view %s differs from its two-sided reference: %v", step, c.name, err)
		}
		if err := sameRows(got, queryRows(t, e, c.query)); err != nil {
			t.Fatalf("%s: self-join view %s differs from its batch query: %v", step, c.name, err)
		}
	}
}

func createSelfJoinViews(t *testing.T, e *Engine, cases []selfJoinCase) {
	t.Helper()
	for _, c := range cases {
		view := "CREATE MATERIALIZED VIEW " + c.name + " AS " + c.query
		if !explainHas(t, e, view, "HashJoin Inner self") {
			t.Fatalf("view %s is not planned as a self-join", c.name)
		}
		ref := "CREATE MATERIALIZED VIEW " + c.name + "_ref AS " + c.ref
		if explainHas(t, e, ref, " self ") {
			t.Fatalf("the reference of %s is planned as a self-join", c.name)
		}
		mustExec(t, e, view)
		mustExec(t, e, ref)
	}
}

// TestSelfJoinViewsRetracting: self-joins of a keyed table under random
// inserts, updates and deletes (so the join's input retracts), with a
// residual, an aggregate, and plain and computed projections, equal
// their two-sided references and their batch queries after every FLUSH.
func TestSelfJoinViewsRetracting(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	e := openManual(t)
	defer e.Close()
	mustExec(t, e, "CREATE TABLE t (k BIGINT PRIMARY KEY, g INT, v BIGINT)")
	mustExec(t, e, "INSERT INTO t VALUES (1, 1, 5), (2, 1, 6), (3, NULL, 1)") // backfilled
	cases := []selfJoinCase{
		{"sj", "SELECT a.v AS av, b.v AS bv, COUNT(*) AS c FROM t a JOIN t b ON a.g = b.g AND a.k <> b.k GROUP BY a.v, b.v",
			"SELECT a.v AS av, b.v AS bv, COUNT(*) AS c FROM t a JOIN t b ON a.g = b.g AND a.k <> b.k WHERE b.g IS NOT NULL GROUP BY a.v, b.v"},
		{"pairs", "SELECT a.k AS ak, b.k AS bk, a.v, b.v AS bv FROM t a JOIN t b ON a.g = b.g",
			"SELECT a.k AS ak, b.k AS bk, a.v, b.v AS bv FROM t a JOIN t b ON a.g = b.g WHERE b.g IS NOT NULL"},
		{"sums", "SELECT a.k + b.k AS s, a.v * 2 AS v2 FROM t a JOIN t b ON a.g = b.g AND a.v < b.v",
			"SELECT a.k + b.k AS s, a.v * 2 AS v2 FROM t a JOIN t b ON a.g = b.g AND a.v < b.v WHERE b.g IS NOT NULL"},
	}
	createSelfJoinViews(t, e, cases)
	null := func(s string) string {
		if rng.IntN(8) == 0 {
			return "NULL"
		}
		return s
	}
	for i := 0; i < 600; i++ {
		k := rng.IntN(60)
		switch r := rng.IntN(10); {
		case r < 5:
			vals := make([]string, 1+rng.IntN(4))
			for j := range vals {
				vals[j] = fmt.Sprintf("(%d, %s, %s)", rng.IntN(60), null(fmt.Sprint(rng.IntN(5))), null(fmt.Sprint(rng.IntN(8))))
			}
			mustExec(t, e, "INSERT INTO t VALUES "+strings.Join(vals, ", "))
		case r < 8:
			mustExec(t, e, fmt.Sprintf("UPDATE t SET v = %s WHERE k = %d", null(fmt.Sprint(rng.IntN(8))), k))
		default:
			mustExec(t, e, fmt.Sprintf("DELETE FROM t WHERE k = %d", k))
		}
		if rng.IntN(20) == 0 || i == 599 {
			mustExec(t, e, "FLUSH")
			checkSelfJoinViews(t, e, cases, fmt.Sprintf("op %d", i))
		}
	}
	if len(queryRows(t, e, "SELECT * FROM pairs")) == 0 {
		t.Fatal("view pairs is empty at the end")
	}
}

// TestSelfJoinViewsInterval: time-bounded self-joins of an append-only
// click stream (an asymmetric bound, out-of-order and late clicks),
// restarted from a checkpoint half way, equal their two-sided references
// and their batch queries after every FLUSH. NULL keys are tested in
// operators/join; NULLs in batches shared by several views (after late
// rows are dropped) in TestSharedBatchNulls.
func TestSelfJoinViewsInterval(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 3))
	dir := t.TempDir()
	open := func() *Engine {
		return openDurable(t, dir)
	}
	e := open()
	defer func() { e.Close() }()
	mustExec(t, e, "CREATE TABLE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL 5 SECOND) APPEND ONLY")
	cases := []selfJoinCase{
		{"cj", "SELECT a.item_id AS i, b.item_id AS j, COUNT(*) AS n FROM clicks a JOIN clicks b ON a.user_id = b.user_id AND a.item_id <> b.item_id AND b.ts BETWEEN a.ts - INTERVAL 10 SECOND AND a.ts + INTERVAL 30 SECOND GROUP BY a.item_id, b.item_id",
			"SELECT a.item_id AS i, b.item_id AS j, COUNT(*) AS n FROM clicks a JOIN clicks b ON a.user_id = b.user_id AND a.item_id <> b.item_id AND b.ts BETWEEN a.ts - INTERVAL 10 SECOND AND a.ts + INTERVAL 30 SECOND WHERE b.user_id IS NOT NULL GROUP BY a.item_id, b.item_id"},
		{"later", "SELECT a.user_id AS u, a.ts AS t1, b.ts AS t2 FROM clicks a JOIN clicks b ON a.user_id = b.user_id AND b.ts BETWEEN a.ts + INTERVAL 2 SECOND AND a.ts + INTERVAL 20 SECOND",
			"SELECT a.user_id AS u, a.ts AS t1, b.ts AS t2 FROM clicks a JOIN clicks b ON a.user_id = b.user_id AND b.ts BETWEEN a.ts + INTERVAL 2 SECOND AND a.ts + INTERVAL 20 SECOND WHERE b.user_id IS NOT NULL"},
	}
	createSelfJoinViews(t, e, cases)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 400; i++ {
		vals := make([]string, 1+rng.IntN(6))
		for j := range vals {
			now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
			ts := now.Add(-time.Duration(rng.IntN(8000)) * time.Millisecond) // some late
			vals[j] = fmt.Sprintf("(%d, %d, '%s')", rng.IntN(6), rng.IntN(5), ts.Format("2006-01-02 15:04:05.000"))
		}
		mustExec(t, e, "INSERT INTO clicks VALUES "+strings.Join(vals, ", "))
		if i == 200 {
			mustExec(t, e, "CHECKPOINT")
		}
		if i == 250 {
			e.Close()
			e = open()
		}
		if rng.IntN(15) == 0 || i == 399 {
			mustExec(t, e, "FLUSH")
			checkSelfJoinViews(t, e, cases, fmt.Sprintf("batch %d", i))
		}
	}
	if len(queryRows(t, e, "SELECT * FROM later")) == 0 {
		t.Fatal("view later is empty at the end")
	}
}

// TestSelfJoinViewsWindows: joins of a window of a click stream with
// the same window (TUMBLE and HOP, append-only; SESSION, which retracts
// as sessions grow and merge), planned as self-joins, equal their
// two-sided references and their batch queries after every FLUSH, with
// out-of-order and late clicks.
func TestSelfJoinViewsWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 11))
	e := openManual(t)
	defer e.Close()
	mustExec(t, e, "CREATE TABLE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL 5 SECOND) APPEND ONLY")
	pairs := func(name, window string) selfJoinCase {
		q := "SELECT a.item_id AS i, b.item_id AS j, COUNT(*) AS n FROM " + window + " a JOIN " + window + " b " +
			"ON a.user_id = b.user_id AND a.window_start = b.window_start AND a.item_id <> b.item_id"
		return selfJoinCase{name, q + " GROUP BY a.item_id, b.item_id", q + " WHERE b.user_id IS NOT NULL GROUP BY a.item_id, b.item_id"}
	}
	cases := []selfJoinCase{
		pairs("tumble_pairs", "TUMBLE(clicks, ts, INTERVAL 20 SECOND)"),
		pairs("hop_pairs", "HOP(clicks, ts, INTERVAL 10 SECOND, INTERVAL 30 SECOND)"),
		pairs("session_pairs", "SESSION(clicks, ts, INTERVAL 8 SECOND, user_id)"),
		{"tumble_rows", "SELECT a.window_start AS w, a.item_id AS i, b.item_id AS j FROM TUMBLE(clicks, ts, INTERVAL 20 SECOND) a JOIN TUMBLE(clicks, ts, INTERVAL 20 SECOND) b ON a.user_id = b.user_id AND a.window_start = b.window_start",
			"SELECT a.window_start AS w, a.item_id AS i, b.item_id AS j FROM TUMBLE(clicks, ts, INTERVAL 20 SECOND) a JOIN TUMBLE(clicks, ts, INTERVAL 20 SECOND) b ON a.user_id = b.user_id AND a.window_start = b.window_start WHERE b.user_id IS NOT NULL"},
	}
	createSelfJoinViews(t, e, cases)
	for _, c := range cases[:3] {
		if !explainHas(t, e, "CREATE MATERIALIZED VIEW x AS "+c.query, "Mirror") {
			t.Fatalf("view %s is not planned as a symmetric pair count", c.name)
		}
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 300; i++ {
		vals := make([]string, 1+rng.IntN(6))
		for j := range vals {
			now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
			ts := now.Add(-time.Duration(rng.IntN(7000)) * time.Millisecond) // some late
			vals[j] = fmt.Sprintf("(%d, %d, '%s')", rng.IntN(5), rng.IntN(6), ts.Format("2006-01-02 15:04:05.000"))
		}
		mustExec(t, e, "INSERT INTO clicks VALUES "+strings.Join(vals, ", "))
		if rng.IntN(15) == 0 || i == 299 {
			mustExec(t, e, "FLUSH")
			checkSelfJoinViews(t, e, cases, fmt.Sprintf("batch %d", i))
		}
	}
	for _, c := range cases {
		if len(queryRows(t, e, "SELECT * FROM "+c.name)) == 0 {
			t.Fatalf("view %s is empty at the end", c.name)
		}
	}
}

// TestSelfJoinSkipsSelfPairs checks the executor builds a self-join that
// leaves out each row paired with itself exactly when the residual
// rejects such pairs (planner.Join.RejectsSelfPairs), and that the view's
// rows are those of the same query run as a batch.
func TestSelfJoinSkipsSelfPairs(t *testing.T) {
	e := openManual(t)
	defer e.Close()
	mustExec(t, e, "CREATE TABLE ev (u BIGINT, item BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL 5 SECOND) APPEND ONLY")
	cases := []struct {
		name, on string
		skips    bool
	}{
		{"ne", "a.item <> b.item", true},
		{"lt", "a.item < b.item", true},
		{"eq", "a.item = b.item", false},
		{"le", "a.item <= b.item", false},
		{"none", "a.ts <= b.ts", false},
	}
	for _, c := range cases {
		mustExec(t, e, "CREATE MATERIALIZED VIEW "+c.name+" AS SELECT a.item, b.item AS other, COUNT(*) AS n FROM ev a JOIN ev b ON a.u = b.u AND "+c.on+" GROUP BY a.item, b.item")
	}
	mustExec(t, e, "INSERT INTO ev VALUES (1, 10, '2026-01-01 00:00:00'), (1, 11, '2026-01-01 00:00:01'), (1, 10, '2026-01-01 00:00:02'), (2, 10, '2026-01-01 00:00:03'), (2, 12, '2026-01-01 00:00:03')")
	mustExec(t, e, "FLUSH")
	for _, c := range cases {
		o, ok := e.cat.get(c.name)
		if !ok || o.frag == nil {
			t.Fatalf("no view %q", c.name)
		}
		found := false
		for _, op := range o.frag.ops {
			if j, ok := op.(*join.HashJoin); ok {
				found = true
				if got := j.SkipsSelfPairs(); got != c.skips {
					t.Errorf("%s (%s): SkipsSelfPairs() = %v, want %v", c.name, c.on, got, c.skips)
				}
			}
		}
		if !found {
			t.Fatalf("view %s has no hash join", c.name)
		}
		q := "SELECT a.item, b.item AS other, COUNT(*) AS n FROM ev a JOIN ev b ON a.u = b.u AND " + c.on + " GROUP BY a.item, b.item"
		if err := sameRows(queryRows(t, e, "SELECT * FROM "+c.name), queryRows(t, e, q)); err != nil {
			t.Fatalf("view %s differs from its batch query: %v", c.name, err)
		}
	}
}
