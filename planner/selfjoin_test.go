package planner

import (
	"testing"

	"github.com/sluicedb/sluice/types"
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
		// Windows: the same window of the same input, or not.
		{"TUMBLE(ev, ts, INTERVAL 1 MINUTE) a JOIN TUMBLE(ev, ts, INTERVAL 1 MINUTE) b ON a.user_id = b.user_id AND a.window_start = b.window_start", true},
		{"TUMBLE(ev, ts, INTERVAL 1 MINUTE) a JOIN TUMBLE(ev, ts, INTERVAL 2 MINUTE) b ON a.user_id = b.user_id AND a.window_start = b.window_start", false},
		{"HOP(ev, ts, INTERVAL 1 MINUTE, INTERVAL 2 MINUTE) a JOIN HOP(ev, ts, INTERVAL 30 SECOND, INTERVAL 2 MINUTE) b ON a.user_id = b.user_id AND a.window_start = b.window_start", false},
		{"SESSION(ev, ts, INTERVAL 5 MINUTE, user_id) a JOIN SESSION(ev, ts, INTERVAL 5 MINUTE, user_id) b ON a.user_id = b.user_id AND a.window_start = b.window_start", true},
		{"SESSION(ev, ts, INTERVAL 5 MINUTE, user_id) a JOIN SESSION(ev, ts, INTERVAL 5 MINUTE, item_id) b ON a.user_id = b.user_id AND a.window_start = b.window_start", false},
		{"TUMBLE(ev, ts, INTERVAL 1 MINUTE) a JOIN ev b ON a.user_id = b.user_id AND a.ts = b.ts", false},
	}
	for _, c := range cases {
		sql := "CREATE MATERIALIZED VIEW v AS SELECT a.user_id, a.item_id, a.ts, b.user_id AS u2, b.item_id AS i2, b.ts AS t2 FROM " + c.from
		j := viewJoin(t, cat, sql)
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

// TestRejectsSelfPairs checks which residuals of a self-join are never
// TRUE for a row paired with itself: a conjunct comparing one role's
// column with the same column of the other by <>, < or >, of a type
// other than DOUBLE.
func TestRejectsSelfPairs(t *testing.T) {
	cat := newTestCatalog()
	ev := *cat["clicks"]
	ev.ID, ev.Name = 9, "ev"
	cat["ev"] = &ev
	evd := ev
	evd.ID, evd.Name = 10, "evd"
	evd.Schema = types.Schema{ev.Schema[0], {Name: "score", Type: types.DoubleType, Nullable: true}, ev.Schema[2]}
	cat["evd"] = &evd
	on := "ev a JOIN ev b ON a.user_id = b.user_id AND "
	cases := []struct {
		from string
		want bool
	}{
		{on + "a.item_id <> b.item_id", true},
		{on + "b.item_id <> a.item_id", true},
		{on + "a.item_id < b.item_id", true},
		{on + "b.item_id > a.item_id", true},
		{on + "a.ts <> b.ts AND b.ts BETWEEN a.ts - INTERVAL 30 MINUTE AND a.ts + INTERVAL 30 MINUTE", true},
		{on + "b.ts BETWEEN a.ts - INTERVAL 30 MINUTE AND a.ts + INTERVAL 30 MINUTE AND a.item_id <> b.item_id", true},
		// Comparisons true for equal values, other columns, not a conjunct,
		// not plain columns.
		{on + "a.item_id = b.item_id", false},
		{on + "a.item_id <= b.item_id", false},
		{on + "a.item_id <> b.user_id", false},
		{on + "a.item_id <> a.user_id", false},
		{on + "(a.item_id <> b.item_id OR a.ts > b.ts)", false},
		{on + "a.item_id + 1 <> b.item_id + 1", false},
		{on + "b.ts BETWEEN a.ts - INTERVAL 30 MINUTE AND a.ts + INTERVAL 30 MINUTE", false},
		// DOUBLE: NaN. Not a self-join.
		{"evd a JOIN evd b ON a.user_id = b.user_id AND a.score <> b.score", false},
		{"ev a JOIN clicks b ON a.user_id = b.user_id AND a.item_id <> b.item_id", false},
	}
	for _, c := range cases {
		sql := "CREATE MATERIALIZED VIEW v AS SELECT a.user_id, b.user_id AS u2 FROM " + c.from
		j := viewJoin(t, cat, sql)
		if j == nil {
			t.Fatalf("%s: no join", c.from)
		}
		if got := j.RejectsSelfPairs(j.Residual); got != c.want {
			t.Errorf("%s: RejectsSelfPairs(%v) = %v, want %v", c.from, j.Residual, got, c.want)
		}
	}
}
