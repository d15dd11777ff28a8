package window

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/agg"
	"github.com/sluicedb/sluice/types"
)

// TestAssignAggDifferential runs TUMBLE and HOP assignment into COUNT(*)
// GROUP BY window_start, item with watermark-driven closing, over random
// events out of order within the watermark delay (with deletes, or
// append-only), in update and emit-on-close mode, and compares the folded
// output at every barrier with a batch count per window and item.
func TestAssignAggDifferential(t *testing.T) {
	for _, kind := range []Kind{Tumble, Hop} {
		for _, eowc := range []bool{false, true} {
			for _, appendOnly := range []bool{false, true} {
				for _, batch := range optest.BatchSizes {
					name := fmt.Sprintf("%s/eowc=%v/appendOnly=%v/batch%d", kind, eowc, appendOnly, batch)
					t.Run(name, func(t *testing.T) {
						for seed := uint64(1); seed <= 3; seed++ {
							runAssignAggDiff(t, kind, eowc, appendOnly, batch, seed)
						}
					})
				}
			}
		}
	}
}

func runAssignAggDiff(t *testing.T, kind Kind, eowc, appendOnly bool, batch int, seed uint64) {
	mem := optest.CheckedMem(t)
	schema := types.Schema(evCols).Arrow()
	size, slide := 5*minute, 5*minute
	if kind == Hop {
		size, slide = 6*minute, 2*minute
	}
	const delay = 7 * minute
	wschema := windowSchema(schema)
	wtypes := []types.T{types.BigIntType, types.TimestampType(6), types.TimestampType(6), types.TimestampType(6)}
	specs := []agg.Spec{{Kind: agg.CountStar, Result: types.BigIntType, Name: "n"}}
	var c *optest.Collector
	out := operators.OutputFunc(func(m operators.Message) error { return c.Push(m) })
	h, err := agg.NewWithOptions(mem, wschema, wtypes, []int{2, 0}, specs, appendOnly, agg.Options{WatermarkGroupCol: 0, EmitOnClose: eowc}, out)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c = newCollector(t, h.Schema())
	a, err := NewAssign(mem, schema, 1, kind, size, slide, h)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	r := rand.New(rand.NewPCG(seed, 11))
	var cur [][]types.Datum
	var maxTS, wm int64
	wmSet := false
	epoch := uint64(0)
	for step := 0; step < 80; step++ {
		var ins [][]types.Datum
		for n := r.IntN(20); n > 0; n-- {
			t0 := maxTS - delay + r.Int64N(delay+2*minute)
			if wmSet && t0 < wm {
				continue // the source drops late rows
			}
			rw := row(bi(int64(r.IntN(5))), ts(t0))
			ins = append(ins, rw)
			cur = append(cur, rw)
			maxTS = max(maxTS, t0)
		}
		if err := optest.Feed(mem, a, schema, ins, nil, batch); err != nil {
			t.Fatal(err)
		}
		if !appendOnly {
			var del [][]types.Datum
			for k := 0; k < 3 && len(cur) > 0; k++ {
				j := r.IntN(len(cur))
				if !wmSet || cur[j][1].I >= wm {
					del = append(del, cur[j])
					cur = append(cur[:j], cur[j+1:]...)
				}
			}
			if err := optest.Feed(mem, a, schema, del, optest.OpsOf(operators.Delete, len(del)), batch); err != nil {
				t.Fatal(err)
			}
		}
		if r.IntN(2) == 0 && maxTS-delay > wm {
			wm, wmSet = maxTS-delay, true
			if err := a.Push(operators.Watermark{Column: 1, Time: wm}); err != nil {
				t.Fatal(err)
			}
		}
		if r.IntN(3) > 0 {
			continue
		}
		epoch++
		if err := a.Push(operators.Barrier{Epoch: epoch}); err != nil {
			t.Fatal(err)
		}
		closedBelow := int64(1) << 62
		if eowc {
			closedBelow = -(int64(1) << 62)
			if wmSet {
				closedBelow = a.StartWatermark(wm)
			}
		}
		want := batchCounts(cur, size, slide, closedBelow)
		if got := c.Net.Lines(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d step %d (wm %d):\n got %q\nwant %q", seed, step, wm, got, want)
		}
	}
	if eowc {
		for _, rw := range c.All() {
			if rw.Op != operators.Insert {
				t.Fatalf("emit-on-close emitted a %s", rw.Op)
			}
		}
	}
	if h.LateRows() != 0 {
		t.Errorf("late rows %d", h.LateRows())
	}
}

// batchCounts counts rows per (window_start, item) from scratch, keeping
// windows starting below closedBelow, rendered as the aggregate's rows.
func batchCounts(rows [][]types.Datum, size, slide, closedBelow int64) []string {
	type key struct{ ws, item int64 }
	n := map[key]int64{}
	for _, r := range rows {
		t := r[1].I
		for s := floorTo(t, slide); s > t-size; s -= slide {
			n[key{s, r[0].I}]++
		}
	}
	var out []string
	for k, v := range n {
		if k.ws < closedBelow {
			out = append(out, optest.FormatRow([]types.Datum{ts(k.ws), bi(k.item), bi(v)}))
		}
	}
	sort.Strings(out)
	return out
}
