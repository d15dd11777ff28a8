package window

import (
	"fmt"
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

var evCols = []types.Column{{Name: "item", Type: types.BigIntType}, {Name: "ts", Type: types.TimestampType(6)}}

func TestFloorTo(t *testing.T) {
	for _, c := range []struct{ ts, step, want int64 }{
		{0, 10, 0}, {9, 10, 0}, {10, 10, 10}, {-1, 10, -10}, {-10, 10, -10}, {-11, 10, -20},
	} {
		if got := floorTo(c.ts, c.step); got != c.want {
			t.Errorf("floorTo(%d, %d) = %d, want %d", c.ts, c.step, got, c.want)
		}
	}
}

func TestTumbleAssign(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		mem := optest.CheckedMem(t)
		schema := types.Schema(evCols).Arrow()
		c := newCollector(t, windowSchema(schema))
		a, err := NewAssign(mem, schema, 1, Tumble, minute, minute, c)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		rows := [][]types.Datum{
			row(bi(1), ts(0)), row(bi(2), ts(minute-1)), row(bi(3), ts(minute)),
			row(bi(4), types.NewNull(types.TimestampType(6))), row(bi(5), ts(-1)), row(bi(6), ts(90*minute+5)),
		}
		if err := optest.Feed(mem, a, schema, rows, nil, batch); err != nil {
			t.Fatal(err)
		}
		w := func(item, at, start int64) string {
			return fmt.Sprintf("insert %d,%s,%s,%s", item, tsStr(at), tsStr(start), tsStr(start+minute))
		}
		want := []string{w(1, 0, 0), w(2, minute-1, 0), w(3, minute, minute), w(5, -1, -minute), w(6, 90*minute+5, 90*minute)}
		optest.CheckLines(t, "assigned", opLines(c.All()), want...)
		if a.NullRows() != 1 {
			t.Errorf("NullRows %d, want 1", a.NullRows())
		}
	})
}

func TestHopAssignAndOps(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		mem := optest.CheckedMem(t)
		schema := types.Schema(evCols).Arrow()
		c := newCollector(t, windowSchema(schema))
		// HOP(slide 1 minute, size 3 minutes): three windows per row.
		a, err := NewAssign(mem, schema, 1, Hop, 3*minute, minute, c)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		at := 5*minute + 7
		if err := optest.Feed(mem, a, schema, [][]types.Datum{row(bi(1), ts(at))}, nil, batch); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, s := range []int64{3, 4, 5} {
			want = append(want, fmt.Sprintf("insert 1,%s,%s,%s", tsStr(at), tsStr(s*minute), tsStr((s+3)*minute)))
		}
		if !optest.CheckLines(t, "assigned", opLines(c.All()), want...) {
			t.FailNow()
		}
		// A retraction retracts every window row; an update pair within one
		// window stays a pair; one that moves window becomes delete+insert.
		if err := optest.Feed(mem, a, schema, [][]types.Datum{row(bi(1), ts(at)), row(bi(2), ts(at))}, nil, batch); err != nil {
			t.Fatal(err)
		}
		c.Pending = nil // no barrier: every row so far
		rows := [][]types.Datum{row(bi(1), ts(at)), row(bi(1), ts(at)), row(bi(1), ts(at+1)), row(bi(2), ts(at)), row(bi(2), ts(at+minute))}
		ops := []operators.Op{operators.Delete, operators.UpdateBefore, operators.UpdateAfter, operators.UpdateBefore, operators.UpdateAfter}
		if batch == 1 {
			return // pairs would straddle chunks of one row
		}
		if err := optest.Feed(mem, a, schema, rows, ops, 1024); err != nil {
			t.Fatal(err)
		}
		counts := map[operators.Op]int{}
		for _, r := range c.All() {
			counts[r.Op]++
		}
		if counts[operators.Delete] != 6 || counts[operators.Insert] != 3 || counts[operators.UpdateBefore] != 3 || counts[operators.UpdateAfter] != 3 {
			t.Errorf("ops %v", counts)
		}
	})
}

func TestAssignWatermarks(t *testing.T) {
	mem := optest.CheckedMem(t)
	schema := types.Schema(evCols).Arrow()
	for _, tc := range []struct {
		kind        Kind
		size, slide int64
		wm          int64
		wantStart   int64
	}{
		{Tumble, minute, minute, 90 * minute / 60, minute},
		{Tumble, minute, minute, 2*minute + 1, 2 * minute},
		{Tumble, minute, minute, -1, -minute},
		{Hop, 10 * minute, minute, 25*minute + 3, 16 * minute},
		{Hop, 10 * minute, minute, 25 * minute, 16 * minute},
	} {
		c := newCollector(t, windowSchema(schema))
		a, err := NewAssign(mem, schema, 1, tc.kind, tc.size, tc.slide, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Push(operators.Watermark{Column: 0, Time: 0}); err != nil {
			t.Fatal(err)
		}
		if err := a.Push(operators.Watermark{Column: 1, Time: tc.wm}); err != nil {
			t.Fatal(err)
		}
		want := []operators.Watermark{{Column: 0, Time: 0}, {Column: 1, Time: tc.wm}, {Column: 2, Time: tc.wantStart}, {Column: 3, Time: tc.wantStart + tc.size}}
		if fmt.Sprint(c.Watermarks) != fmt.Sprint(want) {
			t.Errorf("%s(%d,%d) wm %d: got %v, want %v", tc.kind, tc.size, tc.slide, tc.wm, c.Watermarks, want)
		}
		// The window_start watermark is exact: a row at wm gets a window
		// starting there, none earlier.
		if err := optest.Feed(mem, a, schema, [][]types.Datum{row(bi(1), ts(tc.wm))}, nil, 1); err != nil {
			t.Fatal(err)
		}
		least := int64(1 << 62)
		for _, r := range c.All() {
			least = min(least, r.Vals[2].I)
		}
		if least != tc.wantStart {
			t.Errorf("%s: least window_start of a row at the watermark %d, watermark says %d", tc.kind, least, tc.wantStart)
		}
		a.Close()
	}
}

func TestAssignRejects(t *testing.T) {
	mem := optest.CheckedMem(t)
	schema := types.Schema(evCols).Arrow()
	out := operators.OutputFunc(func(operators.Message) error { return nil })
	for i, tc := range []struct {
		col         int
		kind        Kind
		size, slide int64
	}{
		{0, Tumble, 10, 10}, {5, Tumble, 10, 10}, {1, Tumble, 10, 5}, {1, Hop, 10, 3}, {1, Hop, 0, 0}, {1, Kind(9), 10, 10},
	} {
		if _, err := NewAssign(mem, schema, tc.col, tc.kind, tc.size, tc.slide, out); err == nil {
			t.Errorf("case %d: accepted %+v", i, tc)
		}
	}
	a, err := NewAssign(mem, schema, 1, Tumble, 10, 10, out)
	if err != nil {
		t.Fatal(err)
	}
	other := types.Schema([]types.Column{{Name: "x", Type: types.BigIntType}}).Arrow()
	rec := optest.BuildRecord(mem, other, [][]types.Datum{row(bi(1))})
	defer rec.Release()
	if err := a.Push(&operators.Chunk{Rec: rec}); err == nil {
		t.Errorf("accepted a chunk of the wrong shape")
	}
}
