package executor

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/operators/agg"
	"github.com/sluicedb/sluice/operators/join"
)

// symmetricCase is a view and the batch query it must equal. A view
// whose query is a symmetric pair count is planned with a Mirror (only
// one order of each pair counted); its batch query, planned the plain
// way, counts both.
type symmetricCase struct {
	name, query string
	// batch is the batch query to compare with; "" for query itself.
	batch string
	// mirror: the view's plan has a Mirror, and its aggregate is
	// committed-backed through it.
	mirror bool
}

func (c symmetricCase) batchQuery() string {
	if c.batch != "" {
		return c.batch
	}
	return c.query
}

// createSymmetricViews creates the views, checking that exactly those
// marked mirror are planned with a Mirror and that no batch query is.
func createSymmetricViews(t *testing.T, e *Engine, cases []symmetricCase) {
	t.Helper()
	for _, c := range cases {
		view := "CREATE MATERIALIZED VIEW " + c.name + " AS " + c.query
		if got := explainHas(t, e, view, "Mirror rows and their swap"); got != c.mirror {
			t.Fatalf("view %s planned with a Mirror: %v, want %v", c.name, got, c.mirror)
		}
		if explainHas(t, e, c.batchQuery(), "Mirror") {
			t.Fatalf("the batch query of %s is planned with a Mirror", c.name)
		}
		mustExec(t, e, view)
	}
	checkSymmetricBacked(t, e, cases)
}

// checkSymmetricBacked checks that the aggregate of each mirrored view is
// committed-backed through the Mirror (see viewBackedAgg).
func checkSymmetricBacked(t *testing.T, e *Engine, cases []symmetricCase) {
	t.Helper()
	for _, c := range cases {
		if !c.mirror {
			continue
		}
		if hasAgg, backed := aggBacked(t, e, c.name); !hasAgg || !backed {
			t.Fatalf("view %s: hash aggregate %v, committed-backed %v; want both", c.name, hasAgg, backed)
		}
		// Its state means pairs counted once: a snapshot of the plain
		// count would not fit it (agg.Options.Meaning).
		o, _ := e.cat.get(c.name)
		for _, op := range o.frag.ops {
			if h, ok := op.(*agg.HashAgg); ok && h.Meaning() == "" {
				t.Fatalf("view %s: the aggregate under the Mirror has no Meaning", c.name)
			}
		}
	}
}

func checkSymmetricViews(t *testing.T, e *Engine, cases []symmetricCase, step string) {
	t.Helper()
	for _, c := range cases {
		got := queryRows(t, e, "SELECT * FROM "+c.name)
		if err := sameRows(got, queryRows(t, e, c.batchQuery())); err != nil {
			t.Fatalf("%s: view %s differs from its batch query: %v", step, c.name, err)
		}
	}
}

// topOf is a Top-N (3 per x) over pair counts of columns x, y, n read
// from the relation from.
func topOf(from string) string {
	return "SELECT x, y, n FROM (SELECT x, y, n, ROW_NUMBER() OVER (PARTITION BY x ORDER BY n DESC, y) AS rn FROM " + from + ") z WHERE rn <= 3"
}

// TestSymmetricPairViewsRetracting: symmetric pair counts of a keyed
// table (BIGINT and TEXT (VARCHAR) columns with NULLs and duplicates, so equal
// and NULL values pair up) under random inserts, updates and deletes,
// and a Top-N view reading one of them, equal their batch queries after
// every FLUSH. The views are planned with a Mirror and their aggregates
// are committed-backed through it.
func TestSymmetricPairViewsRetracting(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 4))
	e := openManual(t)
	defer e.Close()
	mustExec(t, e, "CREATE TABLE t (k BIGINT PRIMARY KEY, g INT, x BIGINT, s TEXT)")
	mustExec(t, e, "INSERT INTO t VALUES (1, 1, 5, 'a'), (2, 1, 6, 'b'), (3, 1, 5, 'a'), (4, NULL, 1, NULL)") // backfilled
	const pairs = "SELECT a.x AS x, b.x AS y, COUNT(*) AS n FROM t a JOIN t b ON a.g = b.g AND a.x <> b.x GROUP BY a.x, b.x"
	cases := []symmetricCase{
		{name: "pc", query: pairs, mirror: true},
		{name: "pc_str", query: "SELECT a.s AS x, b.s AS y, COUNT(*) AS n FROM t a JOIN t b ON a.g = b.g AND a.s <> b.s GROUP BY a.s, b.s", mirror: true},
		// Operands the other way round, a second key, the count first.
		{name: "pc_sym", query: "SELECT COUNT(*) AS n, b.x AS y, a.x AS x FROM t a JOIN t b ON b.g = a.g AND b.x <> a.x AND a.s = b.s GROUP BY a.x, b.x", mirror: true},
		// Extra symmetric residual conjuncts: a pair of crossed
		// comparisons and an inequality on another column.
		{name: "pc_cross", query: "SELECT a.x AS x, b.x AS y, COUNT(*) AS n FROM t a JOIN t b ON a.g = b.g AND a.x <> b.x AND a.k < b.x + 40 AND b.k < a.x + 40 AND a.s <> b.s GROUP BY a.x, b.x", mirror: true},
		{name: "pc_top", query: topOf("pc"), batch: topOf("(" + pairs + ") p")},
	}
	createSymmetricViews(t, e, cases)
	if !explainHas(t, e, "CREATE MATERIALIZED VIEW pc2 AS "+pairs, "residual=(x < x)") {
		t.Fatal("the view's residual is not x < x")
	}
	null := func(s string) string {
		if rng.IntN(7) == 0 {
			return "NULL"
		}
		return s
	}
	str := func() string { return null("'" + []string{"a", "b", "ab", "", "c"}[rng.IntN(5)] + "'") }
	for i := 0; i < 500; i++ {
		k := rng.IntN(50)
		switch r := rng.IntN(10); {
		case r < 5:
			vals := make([]string, 1+rng.IntN(4))
			for j := range vals {
				vals[j] = fmt.Sprintf("(%d, %s, %s, %s)", rng.IntN(50), null(fmt.Sprint(rng.IntN(4))), null(fmt.Sprint(rng.IntN(6))), str())
			}
			mustExec(t, e, "INSERT INTO t VALUES "+strings.Join(vals, ", "))
		case r < 7:
			mustExec(t, e, fmt.Sprintf("UPDATE t SET x = %s, s = %s WHERE k = %d", null(fmt.Sprint(rng.IntN(6))), str(), k))
		case r < 8:
			mustExec(t, e, fmt.Sprintf("UPDATE t SET g = %s WHERE k = %d", null(fmt.Sprint(rng.IntN(4))), k))
		default:
			mustExec(t, e, fmt.Sprintf("DELETE FROM t WHERE k = %d", k))
		}
		if rng.IntN(20) == 0 || i == 499 {
			mustExec(t, e, "FLUSH")
			checkSymmetricViews(t, e, cases, fmt.Sprintf("op %d", i))
		}
	}
	for _, v := range []string{"pc", "pc_str", "pc_top"} {
		if len(queryRows(t, e, "SELECT * FROM "+v)) == 0 {
			t.Fatalf("view %s is empty at the end", v)
		}
	}
}

// TestSymmetricPairViewsInterval: a symmetric pair count over a
// symmetric time bound of an append-only click stream with a watermark
// (out-of-order clicks within the delay, a few late), a Top-N over it and
// an asymmetric variant (no Mirror), restarted from a checkpoint half
// way, equal their batch queries after every FLUSH.
func TestSymmetricPairViewsInterval(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 17))
	dir := t.TempDir()
	open := func() *Engine {
		return openDurable(t, dir)
	}
	e := open()
	defer func() { e.Close() }()
	mustExec(t, e, "CREATE TABLE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL 5 SECOND) APPEND ONLY")
	const pairs = "SELECT a.item_id AS x, b.item_id AS y, COUNT(*) AS n FROM clicks a JOIN clicks b ON a.user_id = b.user_id AND a.item_id <> b.item_id AND b.ts BETWEEN a.ts - INTERVAL 10 SECOND AND a.ts + INTERVAL 10 SECOND GROUP BY a.item_id, b.item_id"
	cases := []symmetricCase{
		{name: "co", query: pairs, mirror: true},
		{name: "co_top", query: topOf("co"), batch: topOf("(" + pairs + ") p")},
		{name: "co_strict", query: "SELECT a.item_id AS x, b.item_id AS y, COUNT(*) AS n FROM clicks a JOIN clicks b ON a.user_id = b.user_id AND a.item_id <> b.item_id AND b.ts > a.ts - INTERVAL 10 SECOND AND a.ts > b.ts - INTERVAL 10 SECOND GROUP BY a.item_id, b.item_id", mirror: true},
		// Casts to different precisions: not symmetric (no Mirror).
		{name: "co_casts", query: "SELECT a.item_id AS x, b.item_id AS y, COUNT(*) AS n FROM clicks a JOIN clicks b ON a.user_id = b.user_id AND a.item_id <> b.item_id AND CAST(b.ts AS DATETIME) > CAST(a.ts AS DATETIME) - INTERVAL 5 SECOND AND CAST(b.ts AS DATETIME(1)) < CAST(a.ts AS DATETIME(1)) + INTERVAL 5 SECOND GROUP BY a.item_id, b.item_id"},
		{name: "co_later", query: "SELECT a.item_id AS x, b.item_id AS y, COUNT(*) AS n FROM clicks a JOIN clicks b ON a.user_id = b.user_id AND a.item_id <> b.item_id AND b.ts BETWEEN a.ts - INTERVAL 10 SECOND AND a.ts + INTERVAL 12 SECOND GROUP BY a.item_id, b.item_id"},
	}
	createSymmetricViews(t, e, cases)
	// A mirrored view's join whose output is just the items of both
	// roles (co; co_strict's residual also reads the times) finds each
	// unordered pair once; an unmirrored view's, both orders.
	for _, c := range cases {
		o, _ := e.cat.get(c.name)
		for _, op := range o.frag.ops {
			if j, ok := op.(*join.HashJoin); ok && (j.Unordered() && !c.mirror || c.name == "co" && !j.Unordered()) {
				t.Fatalf("view %s: join emits unordered pairs: %v", c.name, j.Unordered())
			}
		}
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 300; i++ {
		vals := make([]string, 1+rng.IntN(6))
		for j := range vals {
			now = now.Add(time.Duration(rng.IntN(1500)) * time.Millisecond)
			back := rng.IntN(5000) // within the watermark's delay
			if rng.IntN(25) == 0 {
				back = 5000 + rng.IntN(4000) // maybe late
			}
			ts := now.Add(-time.Duration(back) * time.Millisecond)
			vals[j] = fmt.Sprintf("(%d, %d, '%s')", rng.IntN(5), rng.IntN(6), ts.Format("2006-01-02 15:04:05.000"))
		}
		mustExec(t, e, "INSERT INTO clicks VALUES "+strings.Join(vals, ", "))
		if i == 150 {
			mustExec(t, e, "CHECKPOINT")
		}
		if i == 190 {
			e.Close()
			e = open()
			checkSymmetricBacked(t, e, cases)
		}
		if rng.IntN(15) == 0 || i == 299 {
			mustExec(t, e, "FLUSH")
			checkSymmetricViews(t, e, cases, fmt.Sprintf("batch %d", i))
		}
	}
	if len(queryRows(t, e, "SELECT * FROM co")) == 0 {
		t.Fatal("view co is empty at the end")
	}
}
