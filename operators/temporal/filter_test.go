package temporal

import (
	"fmt"
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

func TestFilterHoldUntilFirstBarrierAndExpiry(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		x := newFixture(t, 600, false, batch)
		x.Push(operators.Insert, r(1, 100), r(2, 500), r(3, 400), []types.Datum{bi(4), null(tTS), txt("n")}, r(5, 900))
		optest.CheckLines(t, "before the first barrier", x.Pending())
		// A retraction before the first barrier cancels a held row.
		x.Push(operators.Delete, r(5, 900))
		// Now 1000, window 600: ts > 400 is in.
		optest.CheckLines(t, "first barrier", x.BarrierAt(1000), "+ 2,500,v2")
		// In the window as of Now 1000: forwarded at once; 400 is not.
		x.Push(operators.Insert, r(6, 401), r(7, 400), r(8, 2000))
		optest.CheckLines(t, "mid-epoch", x.Pending(), "+ 6,401,v6", "+ 8,2000,v8")
		optest.CheckLines(t, "barrier 1101", x.BarrierAt(1101), "+ 6,401,v6", "+ 8,2000,v8", "- 2,500,v2", "- 6,401,v6")
		if got := x.f.StateRows(); got != 1 {
			t.Errorf("StateRows = %d, want 1", got)
		}
		// Now going back changes nothing.
		optest.CheckLines(t, "barrier 50", x.BarrierAt(50))
		optest.CheckLines(t, "barrier 2600", x.BarrierAt(2600), "- 8,2000,v8")
		if got := x.f.StateRows(); got != 0 {
			t.Errorf("StateRows = %d, want 0", got)
		}
	})
}

func TestFilterInclusive(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		x := newFixture(t, 600, true, batch)
		x.Push(operators.Insert, r(1, 399), r(2, 400), r(3, 401))
		optest.CheckLines(t, "first", x.BarrierAt(1000), "+ 2,400,v2", "+ 3,401,v3")
		optest.CheckLines(t, "second", x.BarrierAt(1001), "- 2,400,v2")
	})
}

func TestFilterRetractions(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		x := newFixture(t, 1000, false, batch)
		x.Push(operators.Insert, r(1, 5000), r(2, 5500), r(2, 5500), r(3, 6000))
		x.BarrierAt(6000) // cut 5000: 1 dropped
		// Retractions of a held row, a dropped row, an unknown row.
		x.Push(operators.Delete, r(2, 5500), r(1, 5000), r(9, 5900))
		optest.CheckLines(t, "deletes", x.Pending(), "- 2,5500,v2")
		// Update pairs: held → in window; held → out; dropped → in.
		// Pairs split across input chunks become a Delete and an Insert:
		// keep them whole here.
		x.Batch = max(2, batch-batch%2)
		x.PushOps([]operators.Op{operators.UpdateBefore, operators.UpdateAfter, operators.UpdateBefore, operators.UpdateAfter,
			operators.UpdateBefore, operators.UpdateAfter},
			r(3, 6000), r(3, 6100), r(2, 5500), r(2, 4000), r(1, 5000), r(1, 7000))
		// cut 5200
		optest.CheckLines(t, "pairs", x.BarrierAt(6200), "- 2,5500,v2", "3,6000,v3 -> 3,6100,v3", "- 2,5500,v2", "+ 1,7000,v1")
		// An expired row's retraction is dropped; the held ones go.
		optest.CheckLines(t, "expiry", x.BarrierAt(7100), "- 3,6100,v3")
		x.Push(operators.Delete, r(3, 6100), r(1, 7000))
		optest.CheckLines(t, "after expiry", x.Pending(), "- 1,7000,v1")
		if got := x.f.StateRows(); got != 0 {
			t.Errorf("StateRows = %d, want 0", got)
		}
	})
}

func TestFilterOutOfOrderAndPassThrough(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		x := newFixture(t, 100, false, batch)
		x.BarrierAt(0)
		x.Push(operators.Insert, r(1, 50), r(2, 30), r(3, 70), r(4, 10), r(5, 90), r(6, 40))
		if err := x.f.Push(operators.Watermark{Column: 1, Time: 5}); err != nil {
			t.Fatal(err)
		}
		if len(x.Out.Watermarks) != 1 {
			t.Error("watermark not passed through")
		}
		optest.CheckLines(t, "cut 35", x.BarrierAt(135), "+ 1,50,v1", "+ 2,30,v2", "+ 3,70,v3", "+ 4,10,v4", "+ 5,90,v5", "+ 6,40,v6",
			"- 2,30,v2", "- 4,10,v4")
		x.Push(operators.Delete, r(6, 40))
		optest.CheckLines(t, "cut 60", x.BarrierAt(160), "- 6,40,v6", "- 1,50,v1")
		optest.CheckLines(t, "cut 1000", x.BarrierAt(1100), "- 3,70,v3", "- 5,90,v5")
	})
}

func TestFilterErrors(t *testing.T) {
	mem := optest.CheckedMem(t)
	schema := types.Schema(cols).Arrow()
	if _, err := NewFilter(mem, schema, []types.T{tBig, tTS, tTxt}, 0, 1, false, nil); err == nil {
		t.Error("BIGINT ts column: no error")
	}
	if _, err := NewFilter(mem, schema, []types.T{tBig, tTS, tTxt}, 3, 1, false, nil); err == nil {
		t.Error("ts column out of range: no error")
	}
}

// TestFilterMemoryFlat runs many epochs of rows that keep expiring, with
// and without retractions: the rows held and the state size stay bounded.
func TestFilterMemoryFlat(t *testing.T) {
	for _, retract := range []bool{false, true} {
		t.Run(fmt.Sprintf("retract=%v", retract), func(t *testing.T) {
			x := newFixture(t, 5_000, false, 1024)
			var peak [2]int64
			const perEpoch = 500
			for e := int64(0); e < 200; e++ {
				var rows [][]types.Datum
				for i := int64(0); i < perEpoch; i++ {
					id := e*perEpoch + i
					t := e*1000 + 2*i - (i%7)*3 // mostly in order
					rows = append(rows, r(id, t))
				}
				x.Push(operators.Insert, rows...)
				if retract {
					x.Push(operators.Delete, rows[:50]...)
				}
				x.BarrierAt(e * 1000)
				x.Out.Epochs = x.Out.Epochs[:0]
				if n := int64(x.f.StateRows()); n > 6*perEpoch {
					t.Fatalf("epoch %d: %d rows held", e, n)
				}
				half := 0
				if e >= 100 {
					half = 1
				}
				peak[half] = max(peak[half], x.f.StateBytes())
			}
			if peak[1] > peak[0] {
				t.Errorf("state grew: peak %d bytes in the first half, %d in the second", peak[0], peak[1])
			}
		})
	}
}

func TestFilterDateColumn(t *testing.T) {
	mem := optest.CheckedMem(t)
	dcols := []types.Column{{Name: "d", Type: types.T{Kind: types.Date}}}
	schema := types.Schema(dcols).Arrow()
	var got []int64
	out := operators.OutputFunc(func(m operators.Message) error {
		if c, ok := m.(*operators.Chunk); ok {
			for i := 0; i < c.Len(); i++ {
				got = append(got, int64(c.Op(i).Sign())*types.DatumAt(c.Rec.Column(0), i, dcols[0].Type).I)
			}
		}
		return nil
	})
	const day = 86_400_000_000
	f, err := NewFilter(mem, schema, []types.T{dcols[0].Type}, 0, 2*day, true, out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := optest.Feed(mem, f, schema, [][]types.Datum{{types.NewDate(8)}, {types.NewDate(9)}, {types.NewDate(10)}}, nil, 3); err != nil {
		t.Fatal(err)
	}
	// Now = day 10 + 1 µs: d >= day 8 + 1 µs keeps 9 and 10.
	if err := f.Push(operators.Barrier{Epoch: 1, Now: 10*day + 1}); err != nil {
		t.Fatal(err)
	}
	if err := f.Push(operators.Barrier{Epoch: 2, Now: 11*day + 1}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[9 10 -9]" {
		t.Errorf("got %v, want [9 10 -9]", got)
	}
}
