package planner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/types"
)

// mirrorCatalog is the test catalog with ev, an append-only copy of
// clicks with a watermark on ts, and evd and evs, like ev but with a
// DOUBLE column score or a VARCHAR(20) column tag in place of item_id.
func mirrorCatalog() testCatalog {
	cat := newTestCatalog()
	ev := *cat["clicks"]
	ev.ID, ev.Name = 9, "ev"
	ev.Watermark = &WatermarkDef{Col: 2}
	cat["ev"] = &ev
	evd := ev
	evd.ID, evd.Name = 10, "evd"
	evd.Schema = types.Schema{ev.Schema[0], {Name: "score", Type: types.DoubleType, Nullable: true}, ev.Schema[2]}
	cat["evd"] = &evd
	evs := ev
	evs.ID, evs.Name = 11, "evs"
	evs.Schema = types.Schema{ev.Schema[0], {Name: "tag", Type: types.T{Kind: types.Varchar, Width: 20}, Nullable: true}, ev.Schema[2]}
	cat["evs"] = &evs
	return cat
}

// buildPlan plans sql against cat.
func buildPlan(t *testing.T, cat testCatalog, sql string) Plan {
	t.Helper()
	stmt, err := parser.ParseOne(sql)
	if err != nil {
		t.Fatalf("parse %s: %v", sql, err)
	}
	p, err := Build(cat, stmt)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return p
}

// findMirror returns the first Mirror of a plan tree, nil when none.
func findMirror(n Node) *Mirror {
	if m, ok := n.(*Mirror); ok {
		return m
	}
	for _, k := range n.Children() {
		if m := findMirror(k); m != nil {
			return m
		}
	}
	return nil
}

// TestSymmetricPairs checks which views of a pair count over a self-join
// get a Mirror over their aggregate and the join's a.x <> b.x turned into
// a.x < b.x, and which keep their plan.
func TestSymmetricPairs(t *testing.T) {
	cat := mirrorCatalog()
	const (
		sel   = "SELECT a.item_id, b.item_id AS other, COUNT(*) AS n FROM "
		self  = "ev a JOIN ev b ON a.user_id = b.user_id AND "
		ne    = "a.item_id <> b.item_id"
		group = " GROUP BY a.item_id, b.item_id"
		sym   = " AND b.ts BETWEEN a.ts - INTERVAL 30 MINUTE AND a.ts + INTERVAL 30 MINUTE"
	)
	cases := []struct {
		name, sql string
		// residual is the join's residual with columns by index (#i);
		// mirror whether the rule applies.
		residual string
		mirror   bool
	}{
		{"symmetric time bound", sel + self + ne + sym + group,
			"(((#1 < #4) AND (#5 >= (#2 - INTERVAL '00:30:00'))) AND (#5 <= (#2 + INTERVAL '00:30:00')))", true},
		{"no time bound", sel + self + ne + group, "(#1 < #3)", true},
		{"<> written the other way", sel + self + "b.item_id <> a.item_id" + group, "(#1 < #3)", true},
		{"group by reversed", "SELECT b.item_id AS other, a.item_id, COUNT(*) AS n FROM " + self + ne + " GROUP BY b.item_id, a.item_id",
			"(#1 < #3)", true},
		{"symmetric extra <>", sel + self + ne + " AND a.ts <> b.ts" + group, "((#1 < #4) AND (#2 <> #5))", true},
		{"symmetric extra expression", sel + self + ne + " AND a.item_id + 1 <> b.item_id + 1" + group,
			"((#1 < #3) AND ((#1 + 1) <> (#3 + 1)))", true},
		{"symmetric pair of comparisons", sel + self + ne + " AND a.ts > b.ts - INTERVAL 1 MINUTE AND b.ts > a.ts - INTERVAL 1 MINUTE" + group,
			"(((#1 < #4) AND (#2 > (#5 - INTERVAL '00:01:00'))) AND (#5 > (#2 - INTERVAL '00:01:00')))", true},
		{"strict symmetric time bound", sel + self + ne + " AND b.ts > a.ts - INTERVAL 30 MINUTE AND b.ts < a.ts + INTERVAL 30 MINUTE" + group,
			"(((#1 < #4) AND (#5 > (#2 - INTERVAL '00:30:00'))) AND (#5 < (#2 + INTERVAL '00:30:00')))", true},
		{"time bound written from both roles", sel + self + ne + " AND b.ts >= a.ts - INTERVAL 30 MINUTE AND a.ts >= b.ts - INTERVAL 30 MINUTE" + group,
			"(((#1 < #4) AND (#5 >= (#2 - INTERVAL '00:30:00'))) AND (#2 >= (#5 - INTERVAL '00:30:00')))", true},
		{"times a minute apart", sel + self + ne + " AND a.ts <> b.ts + INTERVAL 1 MINUTE AND b.ts <> a.ts + INTERVAL 1 MINUTE" + group,
			"(((#1 < #4) AND (#2 <> (#5 + INTERVAL '00:01:00'))) AND (#5 <> (#2 + INTERVAL '00:01:00')))", true},
		{"times a minute apart one way", sel + self + ne + " AND a.ts <> b.ts + INTERVAL 1 MINUTE" + group,
			"((#1 <> #4) AND (#2 <> (#5 + INTERVAL '00:01:00')))", false},
		{"several counts", "SELECT a.item_id, b.item_id AS other, COUNT(*) AS n, COUNT(*) AS m FROM " + self + ne + group, "(#1 < #3)", true},
		{"no counts", "SELECT a.item_id, b.item_id AS other FROM " + self + ne + group, "(#1 <> #3)", false},
		// Asymmetric time bounds.
		{"asymmetric time bound", sel + self + ne + " AND b.ts BETWEEN a.ts - INTERVAL 30 MINUTE AND a.ts + INTERVAL 1 MINUTE" + group,
			"(((#1 <> #4) AND (#5 >= (#2 - INTERVAL '00:30:00'))) AND (#5 <= (#2 + INTERVAL '00:01:00')))", false},
		{"one-sided time bound", sel + self + ne + " AND b.ts BETWEEN a.ts AND a.ts + INTERVAL 30 MINUTE" + group,
			"(((#1 <> #4) AND (#5 >= #2)) AND (#5 <= (#2 + INTERVAL '00:30:00')))", false},
		{"strict bound on one side", sel + self + ne + " AND b.ts > a.ts - INTERVAL 30 MINUTE AND b.ts <= a.ts + INTERVAL 30 MINUTE" + group,
			"(((#1 <> #4) AND (#5 > (#2 - INTERVAL '00:30:00'))) AND (#5 <= (#2 + INTERVAL '00:30:00')))", false},
		{"time bound off by a second", sel + self + ne + " AND b.ts > a.ts - INTERVAL 30 MINUTE AND b.ts < a.ts + INTERVAL 1801 SECOND" + group,
			"(((#1 <> #4) AND (#5 > (#2 - INTERVAL '00:30:00'))) AND (#5 < (#2 + INTERVAL '00:30:01')))", false},
		{"casts to different precisions", sel + self + ne + " AND CAST(b.ts AS DATETIME) > CAST(a.ts AS DATETIME) - INTERVAL 5 SECOND AND CAST(b.ts AS DATETIME(1)) < CAST(a.ts AS DATETIME(1)) + INTERVAL 5 SECOND" + group,
			"(((#1 <> #4) AND (CAST(#5 AS TIMESTAMP(0)) > (CAST(#2 AS TIMESTAMP(0)) - INTERVAL '00:00:05'))) AND (CAST(#5 AS TIMESTAMP(1)) < (CAST(#2 AS TIMESTAMP(1)) + INTERVAL '00:00:05')))", false},
		{"later times only", sel + self + ne + " AND b.ts > a.ts" + group, "((#1 <> #4) AND (#5 > #2))", false},
		// Aggregates other than COUNT(*).
		{"sum", "SELECT a.item_id, b.item_id AS other, SUM(a.user_id) AS s FROM " + self + ne + group, "(#1 <> #3)", false},
		{"count(*) and sum", "SELECT a.item_id, b.item_id AS other, COUNT(*) AS n, SUM(a.user_id) AS s FROM " + self + ne + group, "(#1 <> #3)", false},
		{"count of a column", "SELECT a.item_id, b.item_id AS other, COUNT(a.item_id) AS n FROM " + self + ne + group, "(#1 <> #3)", false},
		// Other groupings.
		{"different columns", "SELECT a.item_id, b.user_id AS u, COUNT(*) AS n FROM " + self + ne + " GROUP BY a.item_id, b.user_id", "(#1 <> #3)", false},
		{"one role twice", "SELECT a.item_id, COUNT(*) AS n FROM " + self + ne + " GROUP BY a.item_id, a.item_id", "(#1 <> #3)", false},
		{"three columns", "SELECT a.item_id, b.item_id AS other, a.user_id, COUNT(*) AS n FROM " + self + ne + " GROUP BY a.item_id, b.item_id, a.user_id", "(#1 <> #3)", false},
		// Other joins.
		{"left join", sel + "ev a LEFT JOIN ev b ON a.user_id = b.user_id AND " + ne + group, "(#1 <> #3)", false},
		{"not a self-join", sel + "ev a JOIN clicks b ON a.user_id = b.user_id AND " + ne + group, "(#1 <> #3)", false},
		{"filter on one side", sel + self + ne + " WHERE b.item_id > 3" + group, "(#1 <> #3)", false},
		{"double", "SELECT a.score, b.score AS other, COUNT(*) AS n FROM evd a JOIN evd b ON a.user_id = b.user_id AND a.score <> b.score GROUP BY a.score, b.score",
			"(#1 <> #3)", false},
		{"varchar(n), compared as TEXT", "SELECT a.tag, b.tag AS other, COUNT(*) AS n FROM evs a JOIN evs b ON a.user_id = b.user_id AND a.tag <> b.tag GROUP BY a.tag, b.tag",
			"(CAST(#1 AS TEXT) < CAST(#3 AS TEXT))", true},
		{"varchar(n) cast to another type", "SELECT a.tag, b.tag AS other, COUNT(*) AS n FROM evs a JOIN evs b ON a.user_id = b.user_id AND CAST(a.tag AS SIGNED) <> CAST(b.tag AS SIGNED) GROUP BY a.tag, b.tag",
			"(CAST(#1 AS BIGINT) <> CAST(#3 AS BIGINT))", false},
		// Windowed counts.
		{"windowed", "SELECT a.window_start, a.item_id, b.item_id AS other, COUNT(*) AS n " +
			"FROM TUMBLE(ev, ts, INTERVAL 1 MINUTE) a JOIN TUMBLE(ev, ts, INTERVAL 1 MINUTE) b " +
			"ON a.user_id = b.user_id AND a.window_start = b.window_start AND a.item_id <> b.item_id GROUP BY a.window_start, a.item_id, b.item_id",
			"(#1 <> #6)", false},
		{"windows paired", "SELECT a.window_start, b.window_start AS other, COUNT(*) AS n " +
			"FROM TUMBLE(ev, ts, INTERVAL 1 MINUTE) a JOIN TUMBLE(ev, ts, INTERVAL 1 MINUTE) b " +
			"ON a.user_id = b.user_id AND a.window_start <> b.window_start GROUP BY a.window_start, b.window_start",
			"(#2 < #6)", true},
		{"session windows paired", "SELECT a.item_id, b.item_id AS other, COUNT(*) AS n " +
			"FROM SESSION(ev, ts, INTERVAL 30 MINUTE, user_id) a JOIN SESSION(ev, ts, INTERVAL 30 MINUTE, user_id) b " +
			"ON a.user_id = b.user_id AND a.window_start = b.window_start AND a.item_id <> b.item_id GROUP BY a.item_id, b.item_id",
			"(#1 < #6)", true},
		{"session windows of different gaps", "SELECT a.item_id, b.item_id AS other, COUNT(*) AS n " +
			"FROM SESSION(ev, ts, INTERVAL 30 MINUTE, user_id) a JOIN SESSION(ev, ts, INTERVAL 20 MINUTE, user_id) b " +
			"ON a.user_id = b.user_id AND a.window_start = b.window_start AND a.item_id <> b.item_id GROUP BY a.item_id, b.item_id",
			"(#1 <> #6)", false},
		// Asymmetric or missing conjuncts.
		{"asymmetric extra conjunct", sel + self + ne + " AND a.ts < b.ts" + group, "((#1 <> #4) AND (#2 < #5))", false},
		{"asymmetric extra expression", sel + self + ne + " AND a.item_id + 1 <> b.item_id" + group,
			"((#1 <> #3) AND ((#1 + 1) <> #3))", false},
		{"already ordered", sel + self + "a.item_id < b.item_id" + group, "(#1 < #3)", false},
		{"<> on another column", sel + self + "a.ts <> b.ts" + group, "(#2 <> #5)", false},
		{"<> across columns", sel + self + "a.item_id <> b.user_id AND b.item_id <> a.user_id" + group,
			"((#1 <> #2) AND (#3 <> #0))", false},
		{"<> under OR", sel + self + "(a.item_id <> b.item_id OR a.ts <> b.ts)" + group,
			"((#1 <> #4) OR (#2 <> #5))", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := buildPlan(t, cat, "CREATE MATERIALIZED VIEW v AS "+c.sql).(*CreateViewPlan)
			tree := ExplainTree(v.Query)
			j := findJoin(v.Query)
			if j == nil {
				t.Fatalf("no join in\n%s", tree)
			}
			if got := indexedText(j.Residual); got != c.residual {
				t.Errorf("residual %s, want %s\n%s", got, c.residual, tree)
			}
			m := findMirror(v.Query)
			if (m != nil) != c.mirror {
				t.Fatalf("Mirror in the plan: %v, want %v\n%s", m != nil, c.mirror, tree)
			}
			if m == nil {
				return
			}
			agg, ok := m.Input.(*Aggregate)
			if !ok || m.A != 0 || m.B != 1 {
				t.Fatalf("want a Mirror of columns 0 and 1 over the aggregate\n%s", tree)
			}
			if findJoin(agg) != j {
				t.Errorf("the mirrored aggregate is not over the join\n%s", tree)
			}
			// The pair count's view is keyed by its two group columns; over
			// inserts only (all but sessions, which retract), its counts
			// rise, its rows are never deleted, only updated.
			inserts := !strings.Contains(c.sql, "SESSION(")
			if !v.Keyed || len(v.Key) != 2 || v.AppendOnly || (v.Growth == nil) == inserts {
				t.Errorf("view key %v keyed %v append-only %v growth %v\n%s", v.Key, v.Keyed, v.AppendOnly, v.Growth, tree)
			}
			for i, g := range v.Growth {
				want := Rising
				if i < 2 { // the group columns
					want = Constant
				}
				if g != want {
					t.Errorf("column %s grows %v, want %v", v.Query.Schema()[i].Name, g, want)
				}
			}
		})
	}
}

// TestSymmetricPairsExplain checks the whole plan of the co-occurrence
// view and of a batch query of the same shape, which is not rewritten.
func TestSymmetricPairsExplain(t *testing.T) {
	cat := mirrorCatalog()
	const q = "SELECT a.item_id, b.item_id AS other, COUNT(*) AS n FROM ev a JOIN ev b ON a.user_id = b.user_id AND a.item_id <> b.item_id GROUP BY a.item_id, b.item_id"
	cases := []struct{ sql, want string }{
		{"CREATE MATERIALIZED VIEW v AS " + q, `Materialize v key=[item_id, other]
  Project item_id, item_id AS other, count AS n
    Mirror rows and their swap of (item_id, item_id)
      HashAggregate group=[item_id, item_id] aggs=[count(*)]
        Project item_id, item_id
          HashJoin Inner self on=[user_id = user_id] residual=(item_id < item_id) unordered
            Scan ev columns=[user_id, item_id]
            Scan ev columns=[user_id, item_id]`},
		{q, `Project item_id, item_id AS other, count AS n
  HashAggregate group=[item_id, item_id] aggs=[count(*)]
    Project item_id, item_id
      HashJoin Inner self on=[user_id = user_id] residual=(item_id <> item_id)
        Scan ev columns=[user_id, item_id]
        Scan ev columns=[user_id, item_id]`},
		// HAVING filters the mirrored rows; Top-N ranks them.
		{"CREATE MATERIALIZED VIEW v AS " + strings.Replace(q, "GROUP BY", "AND b.ts BETWEEN a.ts - INTERVAL 1 HOUR AND a.ts + INTERVAL 1 HOUR GROUP BY", 1) + " HAVING COUNT(*) > 2",
			`Materialize v key=[item_id, other]
  Project item_id, item_id AS other, count AS n
    Filter (count > 2)
      Mirror rows and their swap of (item_id, item_id)
        HashAggregate group=[item_id, item_id] aggs=[count(*)]
          Project item_id, item_id
            HashJoin Inner self on=[user_id = user_id] residual=(((item_id < item_id) AND (ts >= (ts - INTERVAL '01:00:00'))) AND (ts <= (ts + INTERVAL '01:00:00'))) time=[ts in ts -3600000000..+3600000000µs] unordered
              Scan ev columns=[user_id, item_id, ts]
              Scan ev columns=[user_id, item_id, ts]`},
		{"CREATE MATERIALIZED VIEW v AS SELECT item_id, other, n FROM (" +
			strings.Replace(q, " FROM", ", ROW_NUMBER() OVER (PARTITION BY a.item_id ORDER BY COUNT(*) DESC) AS rn FROM", 1) + ") t WHERE rn <= 20",
			`Materialize v key=[item_id, other]
  Project item_id, item_id AS other, count AS n
    TopN 20 ROW_NUMBER partition=[item_id] order=[count DESC] monotone
      Mirror rows and their swap of (item_id, item_id)
        HashAggregate group=[item_id, item_id] aggs=[count(*)]
          Project item_id, item_id
            HashJoin Inner self on=[user_id = user_id] residual=(item_id < item_id) unordered
              Scan ev columns=[user_id, item_id]
              Scan ev columns=[user_id, item_id]`},
	}
	for _, c := range cases {
		got := strings.Join(Explain(buildPlan(t, cat, c.sql)), "\n")
		if got != c.want {
			t.Errorf("%s:\ngot\n%s\nwant\n%s", c.sql, got, c.want)
		}
	}
}

// TestMirrorNode checks DeriveKey, RowGrowth and IsAppendOnly of Mirror
// nodes built directly.
func TestMirrorNode(t *testing.T) {
	cat := mirrorCatalog()
	ev := &Scan{Rel: cat["ev"], Cols: []int{0, 1, 2}}
	users := &Scan{Rel: cat["users"], Cols: []int{0, 1, 2, 3}}
	ck := &Scan{Rel: cat["ck"], Cols: []int{0, 1, 2}}
	count := AggCall{Func: AggCountStar, Type: types.BigIntType, Name: "n"}
	agg2 := &Aggregate{Input: ev, GroupBy: []int{0, 1}, Aggs: []AggCall{count}, WindowCol: -1}
	agg1 := &Aggregate{Input: ev, GroupBy: []int{1}, Aggs: []AggCall{count}, WindowCol: -1}
	cases := []struct {
		name   string
		m      *Mirror
		key    string
		growth string
		append bool
	}{
		{"pair count", &Mirror{Input: agg2, A: 0, B: 1}, "[0 1] true", "[constant constant rising] true", false},
		{"pair count swapping B, A", &Mirror{Input: agg2, A: 1, B: 0}, "[0 1] true", "[constant constant rising] true", false},
		// A constant group column swapped with a rising count.
		{"group and count", &Mirror{Input: agg1, A: 0, B: 1}, "[] false", "[unknown unknown] true", false},
		{"inserts", &Mirror{Input: ev, A: 0, B: 1}, "[] false", "[constant constant constant] true", true},
		{"updates", &Mirror{Input: users, A: 2, B: 3}, "[] false", "[] false", false},
		{"key of A and B", &Mirror{Input: ck, A: 1, B: 0}, "[0 1] true", "[] false", false},
		{"key without B", &Mirror{Input: ck, A: 0, B: 2}, "[] false", "[] false", false},
	}
	for _, c := range cases {
		k, ok := DeriveKey(c.m)
		if got := fmt.Sprint(k, " ", ok); got != c.key {
			t.Errorf("%s: DeriveKey %s, want %s", c.name, got, c.key)
		}
		g, ok := RowGrowth(c.m)
		if got := fmt.Sprint(g, " ", ok); got != c.growth {
			t.Errorf("%s: RowGrowth %s, want %s", c.name, got, c.growth)
		}
		if got := IsAppendOnly(c.m); got != c.append {
			t.Errorf("%s: IsAppendOnly %v, want %v", c.name, got, c.append)
		}
	}
}

// TestSymmetricPairsRule applies the rule to aggregates built directly:
// only continuous, unwindowed, updating counts are rewritten.
func TestSymmetricPairsRule(t *testing.T) {
	cat := mirrorCatalog()
	ev := &Scan{Rel: cat["ev"], Cols: []int{0, 1, 2}}
	ref := func(i int) expr.Expr { return &expr.ColumnRef{Index: i, T: types.BigIntType} }
	cmp := func(f expr.Func, l, r expr.Expr) expr.Expr {
		return &expr.Call{Func: f, T: types.BoolType, Args: []expr.Expr{l, r}}
	}
	agg := func(mut func(*Aggregate)) *Aggregate {
		j := &Join{Left: ev, Right: ev, Kind: InnerJoin, LeftKeys: []int{0}, RightKeys: []int{0},
			Residual: cmp(expr.Ne, ref(4), ref(1))}
		a := &Aggregate{Input: j, GroupBy: []int{4, 1}, WindowCol: -1,
			Aggs: []AggCall{{Func: AggCountStar, Type: types.BigIntType, Name: "n"}}}
		mut(a)
		return a
	}
	cases := []struct {
		name string
		a    *Aggregate
		mode queryMode
		want bool
	}{
		{"continuous", agg(func(*Aggregate) {}), continuousQuery, true},
		{"batch", agg(func(*Aggregate) {}), batchQuery, false},
		{"windowed", agg(func(a *Aggregate) { a.WindowCol = 0 }), continuousQuery, false},
		{"emit on close", agg(func(a *Aggregate) { a.EmitOnClose = true }), continuousQuery, false},
		{"no aggregates", agg(func(a *Aggregate) { a.Aggs = nil }), continuousQuery, false},
		{"one role twice", agg(func(a *Aggregate) {
			a.GroupBy = []int{1, 1}
		}), continuousQuery, false},
	}
	for _, c := range cases {
		before := ExplainTree(c.a)
		n, ok := symmetricPairs(c.a, c.mode)
		if ok != c.want {
			t.Errorf("%s: rewritten %v, want %v\n%s", c.name, ok, c.want, ExplainTree(n))
			continue
		}
		if !ok {
			if n != Node(c.a) || ExplainTree(n) != before {
				t.Errorf("%s: plan changed though not rewritten\n%s", c.name, ExplainTree(n))
			}
			continue
		}
		m, isMirror := n.(*Mirror)
		if !isMirror || m.A != 0 || m.B != 1 {
			t.Fatalf("%s: got\n%s", c.name, ExplainTree(n))
		}
		if got := indexedText(findJoin(m).Residual); got != "(#1 < #4)" {
			t.Errorf("%s: residual %s, want (#1 < #4)", c.name, got)
		}
		// The input plan is left as it was.
		if ExplainTree(c.a) != before {
			t.Errorf("%s: the rule changed its input plan to\n%s", c.name, ExplainTree(c.a))
		}
	}
}

// TestCanonicalCompare checks that comparisons saying the same with
// their operands swapped are written alike, and that swapRoles exchanges
// the two roles' columns.
func TestCanonicalCompare(t *testing.T) {
	ref := func(i int) expr.Expr { return &expr.ColumnRef{Index: i, Name: "c", T: types.BigIntType} }
	cmp := func(f expr.Func, l, r expr.Expr) expr.Expr {
		return &expr.Call{Func: f, T: types.BoolType, Args: []expr.Expr{l, r}}
	}
	plus := func(l, r expr.Expr) expr.Expr {
		return &expr.Call{Func: expr.Add, T: types.BigIntType, Args: []expr.Expr{l, r}}
	}
	cases := []struct {
		a, b expr.Expr
		same bool
	}{
		{cmp(expr.Gt, ref(1), ref(4)), cmp(expr.Lt, ref(4), ref(1)), true},
		{cmp(expr.Ge, ref(1), ref(4)), cmp(expr.Le, ref(4), ref(1)), true},
		{cmp(expr.Eq, ref(1), ref(4)), cmp(expr.Eq, ref(4), ref(1)), true},
		{cmp(expr.Ne, ref(4), ref(1)), cmp(expr.Ne, ref(1), ref(4)), true},
		{cmp(expr.Ne, plus(ref(4), ref(0)), ref(1)), cmp(expr.Ne, ref(1), plus(ref(4), ref(0))), true},
		// Same names, other columns; < is not symmetric.
		{cmp(expr.Ne, ref(1), ref(4)), cmp(expr.Ne, ref(1), ref(5)), false},
		{cmp(expr.Lt, ref(1), ref(4)), cmp(expr.Lt, ref(4), ref(1)), false},
		{cmp(expr.Gt, ref(1), ref(4)), cmp(expr.Gt, ref(4), ref(1)), false},
		{cmp(expr.Le, ref(1), ref(4)), cmp(expr.Ge, ref(1), ref(4)), false},
	}
	for _, c := range cases {
		if got := expr.Equal(canonicalCompare(c.a), canonicalCompare(c.b)); got != c.same {
			t.Errorf("%s vs %s: canonically equal %v, want %v", indexedText(c.a), indexedText(c.b), got, c.same)
		}
	}
	e := cmp(expr.Lt, plus(ref(0), ref(4)), ref(2))
	if got := indexedText(swapRoles(e, 3)); got != "((#3 + #1) < #5)" {
		t.Errorf("swapRoles %s = %s, want ((#3 + #1) < #5)", indexedText(e), got)
	}
	if got := indexedText(swapRoles(swapRoles(e, 3), 3)); got != indexedText(e) {
		t.Errorf("swapRoles twice gives %s, want %s", got, indexedText(e))
	}
}
