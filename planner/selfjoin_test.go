package planner

import (
	"testing"

	"github.com/sluicedb/sluice/parser"
)

// TestSelfJoin checks which joins are joins of one input with itself:
// both inputs the same plan, keys and time columns the same on both
// sides.
func TestSelfJoin(t *testing.T) {
	cat := newTestCatalog()
	ev := *cat["clicks"]
	ev.ID, ev.Name = 9, "ev"
	ev.Watermark = &WatermarkDef{Col: 2}
	cat["ev"] = &ev
	cases := []struct {
		from string
		self bool
	}{
		{"ev a JOIN ev b ON a.user_id = b.user_id AND b.ts BETWEEN a.ts - INTERVAL 30 MINUTE AND a.ts + INTERVAL 1 MINUTE", true},
		{"ev a JOIN ev b ON a.user_id = b.user_id AND a.item_id <> b.item_id", true},
		{"ev a JOIN ev b ON a.user_id = b.user_id AND a.item_id = b.item_id", true},
		// Different keys, filters, relations, or time columns.
		{"ev a JOIN ev b ON a.user_id = b.item_id AND a.item_id = b.user_id", false},
		{"ev a JOIN ev b ON a.user_id = b.user_id WHERE b.item_id > 3", false},
		{"ev a JOIN clicks b ON a.user_id = b.user_id AND a.item_id = b.item_id AND a.ts = b.ts", false},
		{"(SELECT user_id, item_id, ts FROM ev WHERE item_id > 3) a JOIN (SELECT user_id, item_id, ts FROM ev WHERE item_id > 3) b ON a.user_id = b.user_id AND a.item_id = b.item_id AND a.ts = b.ts", true},
		{"(SELECT user_id, item_id, ts FROM ev WHERE item_id > 3) a JOIN (SELECT user_id, item_id, ts FROM ev WHERE item_id > 4) b ON a.user_id = b.user_id AND a.item_id = b.item_id AND a.ts = b.ts", false},
	}
	for _, c := range cases {
		sql := "CREATE MATERIALIZED VIEW v AS SELECT a.user_id, a.item_id, a.ts, b.user_id AS u2, b.item_id AS i2, b.ts AS t2 FROM " + c.from
		stmt, err := parser.ParseOne(sql)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Build(cat, stmt)
		if err != nil {
			t.Fatalf("%s: %v", c.from, err)
		}
		j := findJoin(p.(*CreateViewPlan).Query)
		if j == nil {
			t.Fatalf("%s: no join", c.from)
		}
		if got := j.SelfJoin(); got != c.self {
			t.Errorf("%s: SelfJoin() = %v, want %v (left %s, right %s)", c.from, got, c.self, j.Left.Explain(), j.Right.Explain())
		}
	}
	// A time bound on different columns of the two sides is not a self-join.
	j := &Join{Left: &Scan{Rel: &ev, Cols: []int{0, 2}}, LeftKeys: []int{0}, RightKeys: []int{0},
		Time: &TimeBound{LeftCol: 1, RightCol: 0}}
	j.Right = j.Left
	if j.SelfJoin() {
		t.Error("a join bounding one side's time by the other's key is a self-join")
	}
}
