package planner

import (
	"testing"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/parser"
)

// findJoin returns the first Join of a plan tree.
// viewJoin plans view DDL sql against cat and returns its first join
// (nil when it has none).
func viewJoin(t *testing.T, cat testCatalog, sql string) *Join {
	t.Helper()
	stmt, err := parser.ParseOne(sql)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(cat, stmt)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return findJoin(p.(*CreateViewPlan).Query)
}

func findJoin(n Node) *Join {
	if j, ok := n.(*Join); ok {
		return j
	}
	for _, k := range n.Children() {
		if j := findJoin(k); j != nil {
			return j
		}
	}
	return nil
}

// TestResidualBeyondTime checks which conjuncts an interval join's time
// bound takes over: non-strict comparisons of the plain time columns,
// not strict ones (the bound is then wider) nor casts.
func TestResidualBeyondTime(t *testing.T) {
	cat := newTestCatalog()
	ev := *cat["clicks"]
	ev.ID, ev.Name = 9, "ev"
	ev.Watermark = &WatermarkDef{Col: 2}
	cat["ev"] = &ev
	cases := []struct{ cond, rest string }{
		{"b.ts BETWEEN a.ts - INTERVAL 30 MINUTE AND a.ts + INTERVAL 30 MINUTE AND a.item_id <> b.item_id", "(item_id <> item_id)"},
		{"b.ts >= a.ts AND b.ts <= a.ts + INTERVAL 1 HOUR", ""},
		{"b.ts > a.ts AND b.ts <= a.ts + INTERVAL 1 HOUR", "(ts > ts)"},
		{"b.ts::TIMESTAMP >= a.ts AND b.ts <= a.ts + INTERVAL 1 HOUR", "(CAST(ts AS TIMESTAMP(6)) >= CAST(ts AS TIMESTAMP(6)))"},
	}
	for _, c := range cases {
		sql := "CREATE MATERIALIZED VIEW v AS SELECT a.item_id, b.item_id AS other FROM ev a JOIN ev b ON a.user_id = b.user_id AND " + c.cond
		j := viewJoin(t, cat, sql)
		if j == nil || j.Time == nil {
			t.Fatalf("%s: no time-bounded join in the plan", c.cond)
		}
		rest := ""
		if r := j.ResidualBeyondTime(); r != nil {
			rest = r.String()
		}
		if rest != c.rest {
			t.Errorf("%s: residual beyond the bound is %q, want %q (residual %s)", c.cond, rest, c.rest, j.Residual)
		}
	}
	var nilJoin Join
	nilJoin.Residual = &expr.Literal{}
	if nilJoin.ResidualBeyondTime() != nilJoin.Residual {
		t.Error("without a time bound the residual must be kept whole")
	}
}
