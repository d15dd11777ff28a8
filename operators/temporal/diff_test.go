package temporal

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// TestFilterDifferential feeds random inserts, deletes and update pairs
// (of rows in the window, expired, and with NULL ts) between barriers with
// a mostly increasing Now, and checks after every barrier that the folded
// output equals the input multiset filtered by ts > now - window (≥ when
// inclusive), now being the largest Now so far. Before the first barrier
// the output must be empty.
func TestFilterDifferential(t *testing.T) {
	for _, inclusive := range []bool{false, true} {
		for _, batch := range optest.BatchSizes {
			t.Run(fmt.Sprintf("inclusive=%v/batch%d", inclusive, batch), func(t *testing.T) {
				for seed := uint64(0); seed < 8; seed++ {
					runDifferential(t, inclusive, batch, seed)
				}
			})
		}
	}
}

func runDifferential(t *testing.T, inclusive bool, batch int, seed uint64) {
	const window = 100
	rng := rand.New(rand.NewPCG(seed, 7))
	x := newFixture(t, window, inclusive, batch)
	var cur [][]types.Datum
	folded := optest.Fold{}
	now := int64(1000)
	started := false
	randRow := func() []types.Datum {
		tsv := ts(now - 150 + rng.Int64N(220))
		if rng.IntN(15) == 0 {
			tsv = null(tTS)
		}
		return []types.Datum{bi(rng.Int64N(4)), tsv, txt([]string{"a", "b"}[rng.IntN(2)])}
	}
	for epoch := 0; epoch < 40; epoch++ {
		var rows [][]types.Datum
		var ops []operators.Op
		for n := rng.IntN(25); n > 0; n-- {
			switch k := rng.IntN(10); {
			case k < 5 || len(cur) == 0:
				row := randRow()
				rows, ops = append(rows, row), append(ops, operators.Insert)
				cur = append(cur, row)
			case k < 8:
				i := rng.IntN(len(cur))
				rows, ops = append(rows, cur[i]), append(ops, operators.Delete)
				cur = slices.Delete(cur, i, i+1)
			default:
				i := rng.IntN(len(cur))
				row := randRow()
				rows, ops = append(rows, cur[i], row), append(ops, operators.UpdateBefore, operators.UpdateAfter)
				cur[i] = row
			}
		}
		if err := x.Feed(rows, ops, batch); err != nil {
			t.Fatal(err)
		}
		if !started && len(x.Out.Pending) > 0 {
			t.Fatalf("seed %d: output before the first barrier", seed)
		}
		barrierNow := now + rng.Int64N(60)
		if epoch > 0 && rng.IntN(8) == 0 {
			barrierNow = now - 30 // a clock going back: ignored
		}
		if !started || barrierNow > now {
			now = barrierNow
		}
		started = true
		x.BarrierAt(barrierNow)
		if err := folded.Apply(x.Out.LastEpoch(), optest.FormatRowMicros); err != nil {
			t.Fatalf("seed %d epoch %d: %v", seed, epoch, err)
		}
		want := map[string]int{}
		for _, row := range cur {
			if row[1].Null {
				continue
			}
			if row[1].I > now-window || inclusive && row[1].I == now-window {
				want[optest.FormatRowMicros(row)]++
			}
		}
		if fmt.Sprint(want) != fmt.Sprint(folded) {
			t.Fatalf("seed %d epoch %d (now %d):\n got %v\nwant %v", seed, epoch, now, folded, want)
		}
	}
}
