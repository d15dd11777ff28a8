package temporal

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/ckptio"
	"github.com/sluicedb/sluice/types"
)

// randScript makes epochs of random inserts (in the window, expired, out
// of order, duplicated, NULL ts), deletes and update pairs, cut into
// chunks of random sizes, each epoch ended by a barrier whose Now mostly
// advances and sometimes goes back.
func randScript(rng *rand.Rand, epochs int) []optest.Step {
	var cur [][]types.Datum
	var steps []optest.Step
	now := int64(1000)
	randRow := func() []types.Datum {
		tsv := ts(now - 150 + rng.Int64N(220))
		if rng.IntN(15) == 0 {
			tsv = null(tTS)
		}
		return []types.Datum{bi(rng.Int64N(4)), tsv, txt([]string{"a", "b"}[rng.IntN(2)])}
	}
	for e := range epochs {
		var rows [][]types.Datum
		var ops []operators.Op
		for n := rng.IntN(25); n > 0; n-- {
			switch k := rng.IntN(10); {
			case k < 5 || len(cur) == 0:
				row := randRow()
				rows, ops = append(rows, row), append(ops, operators.Insert)
				cur = append(cur, row)
				if rng.IntN(5) == 0 {
					rows, ops = append(rows, row), append(ops, operators.Insert)
					cur = append(cur, row)
				}
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
		steps = append(steps, optest.ChunkSteps(rng, rows, ops, 8, false)...)
		bn := now + rng.Int64N(60)
		if rng.IntN(8) == 0 {
			bn = now - 30
		}
		now = max(now, bn)
		steps = append(steps, optest.Step{Epoch: uint64(e + 1), Now: bn})
	}
	return steps
}

// runner is a filter driven through scripts: the harness's collector
// checks its output and tr logs it as lines, a barrier line ending each
// epoch.
type runner struct {
	*fixture
	tr *optest.Transcript
}

func newRunner(t *testing.T, mem memory.Allocator, window int64, inclusive bool) *runner {
	t.Helper()
	rn := &runner{}
	rn.fixture = newFiltered(t, mem, window, inclusive, func(c *optest.Collector) operators.Output {
		rn.tr = &optest.Transcript{Next: c, Types: c.Types, Format: c.Format}
		return rn.tr
	})
	return rn
}

// epochs splits output lines at barriers and sorts each epoch's lines:
// the order of rows within an epoch depends on which of two equal rows a
// retraction finds (the index is seeded per process), not on the state.
func epochs(msgs []string) string {
	var out []string
	var cur []string
	for _, m := range msgs {
		if strings.HasPrefix(m, "barrier") {
			sort.Strings(cur)
			out = append(out, strings.Join(cur, "\n")+"\n"+m)
			cur = nil
			continue
		}
		cur = append(cur, m)
	}
	sort.Strings(cur)
	return strings.Join(append(out, strings.Join(cur, "\n")), "\n---\n")
}

// dumpState renders a filter's state; exact keeps the order structures
// (ring order, heap array), else the held rows are sorted.
func dumpState(f *Filter, exact bool) string {
	row := func(s uint32) string {
		vals := make([]types.Datum, len(cols))
		for k := range cols {
			vals[k] = f.rows.Datum(s, k)
		}
		return fmt.Sprintf("%s@%d", optest.FormatRowMicros(vals), f.ts[s])
	}
	var ring, heap []string
	for _, s := range f.ring[f.head:] {
		if s != noSlot {
			ring = append(ring, row(s))
		}
	}
	for _, s := range f.heap {
		heap = append(heap, row(s))
	}
	head := fmt.Sprintf("started=%v now=%d rows=%d", f.started, f.now, f.rows.Len())
	if !exact {
		all := append(ring, heap...)
		sort.Strings(all)
		return head + "\n" + strings.Join(all, "\n")
	}
	return fmt.Sprintf("%s ringmax=%d\nring %s\nheap %s", head, f.ringMax, strings.Join(ring, " "), strings.Join(heap, " "))
}

// checkOrder checks the ring is in ts order and the heap a min-heap.
func checkOrder(t *testing.T, f *Filter) {
	t.Helper()
	var prev int64
	first := true
	for i, s := range f.ring[f.head:] {
		if s == noSlot {
			continue
		}
		if !first && f.ts[s] < prev {
			t.Fatalf("ring out of order at %d", i)
		}
		if f.loc[s] != int32(f.head+i) {
			t.Fatalf("ring slot %d: loc %d, want %d", s, f.loc[s], f.head+i)
		}
		prev, first = f.ts[s], false
	}
	for i, s := range f.heap {
		if i > 0 && f.ts[f.heap[(i-1)/2]] > f.ts[s] {
			t.Fatalf("heap out of order at %d", i)
		}
		if f.loc[s] != inHeap+int32(i) {
			t.Fatalf("heap slot %d: loc %d", s, f.loc[s])
		}
	}
}

// TestFilterCheckpointCutAndContinue runs the same random script through
// A uninterrupted and through B, snapshotted at a random point (before the
// first barrier, at a barrier, or mid-epoch) and restored into a new C
// that runs the rest. C's output after the cut must be A's, epoch by
// epoch, and the final states equal; right after the restore C's state
// must be B's, order structures included, and its snapshot B's bytes.
func TestFilterCheckpointCutAndContinue(t *testing.T) {
	for _, inclusive := range []bool{false, true} {
		t.Run(fmt.Sprintf("inclusive=%v", inclusive), func(t *testing.T) {
			for seed := uint64(0); seed < 40; seed++ {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				rng := rand.New(rand.NewPCG(seed, 11))
				steps := randScript(rng, 30)
				cut := rng.IntN(len(steps) + 1)
				switch seed % 3 {
				case 0: // right after a barrier, as the executor does
					for cut > 0 && !steps[cut-1].IsBarrier() {
						cut--
					}
				case 1: // before the first barrier
					cut = 0
					for cut < len(steps) && !steps[cut].IsBarrier() && rng.IntN(3) > 0 {
						cut++
					}
				}
				const window = 100
				a := newRunner(t, mem, window, inclusive)
				a.Run(steps[:cut]...)
				mark := len(a.tr.Lines)
				a.Run(steps[cut:]...)

				b := newRunner(t, mem, window, inclusive)
				b.Run(steps[:cut]...)
				if seed%4 == 3 {
					// A retraction of a row never held builds B's index and
					// changes nothing else: the snapshot must not depend on it.
					b.Run(optest.Step{Rows: [][]types.Datum{r(999, 1000)}, Ops: []operators.Op{operators.Delete}})
				}
				c := newRunner(t, mem, window, inclusive)
				snap, err := optest.RoundTrip(b.f, c.f)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if got, want := dumpState(c.f, true), dumpState(b.f, true); got != want {
					t.Fatalf("seed %d: restored state differs:\n got %s\nwant %s", seed, got, want)
				}
				checkOrder(t, c.f)
				if again := optest.Snapshot(t, c.f); !bytes.Equal(again, snap) {
					t.Errorf("seed %d: snapshot after restore differs from the original", seed)
				}
				c.Run(steps[cut:]...)
				if got, want := epochs(c.tr.Lines), epochs(a.tr.Lines[mark:]); got != want {
					t.Fatalf("seed %d (cut at step %d of %d): output after the cut differs:\n got %s\nwant %s", seed, cut, len(steps), got, want)
				}
				if got, want := dumpState(c.f, false), dumpState(a.f, false); got != want {
					t.Fatalf("seed %d: final states differ:\n got %s\nwant %s", seed, got, want)
				}
				checkOrder(t, c.f)
				for _, x := range []*runner{a, b, c} {
					if err := x.f.Close(); err != nil {
						t.Fatal(err)
					}
				}
				mem.AssertSize(t, 0)
			}
		})
	}
}

// snapshotOf runs a script through a new filter and returns its snapshot.
func snapshotOf(t *testing.T, mem memory.Allocator, window int64, seed uint64) []byte {
	t.Helper()
	rn := newRunner(t, mem, window, false)
	defer rn.f.Close()
	rn.Run(randScript(rand.New(rand.NewPCG(seed, 99)), 12)...)
	if rn.f.StateRows() == 0 {
		t.Fatal("the script left no rows held")
	}
	return optest.Snapshot(t, rn.f)
}

func TestFilterCheckpointMismatch(t *testing.T) {
	mem := optest.CheckedMem(t)
	snap := snapshotOf(t, mem, 100, 1)
	schema := types.Schema(cols).Arrow()
	nop := operators.OutputFunc(func(operators.Message) error { return nil })
	other := []struct {
		name      string
		types     []types.T
		tsCol     int
		window    int64
		inclusive bool
	}{
		{"window", []types.T{tBig, tTS, tTxt}, 1, 200, false},
		{"inclusive", []types.T{tBig, tTS, tTxt}, 1, 100, true},
		{"types", []types.T{tBig, types.TimestampType(3), tTxt}, 1, 100, false},
	}
	for _, o := range other {
		f, err := NewFilter(mem, schema, o.types, o.tsCol, o.window, o.inclusive, nop)
		if err != nil {
			t.Fatal(err)
		}
		err = f.Restore(bytes.NewReader(snap))
		if err == nil || !strings.Contains(err.Error(), "differently configured") {
			t.Errorf("%s: %v", o.name, err)
		}
		if f.StateRows() != 0 {
			t.Errorf("%s: state after a failed restore", o.name)
		}
		f.Close()
	}
	rn := newRunner(t, mem, 100, false)
	defer rn.f.Close()
	h := ckptio.Header{Format: ckptFormat, Version: ckptVersion, Config: rn.f.config(), Names: ckptValues, Counts: make([]int64, len(ckptValues))}
	optest.CheckForeignHeaders(t, mem, snap, h, []optest.ForeignHeader{
		{Format: ckptFormat, Version: 2, Want: "version 2"},
		{Format: "sluice.topn", Version: 1, Want: "not a sluice.temporal checkpoint"},
	}, rn.f)
	if err := rn.f.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if err := rn.f.Restore(bytes.NewReader(snap)); err == nil {
		t.Error("second restore: no error")
	}
}

// TestFilterCheckpointCorrupt feeds truncated, bit-flipped and garbage
// snapshots: each must fail with an error, no panic (even a recovered
// one), and no state.
func TestFilterCheckpointCorrupt(t *testing.T) {
	mem := optest.CheckedMem(t)
	snap := snapshotOf(t, mem, 100, 3)
	rn := newRunner(t, mem, 100, false)
	defer rn.f.Close()
	mustFail := func(what string, data []byte) {
		t.Helper()
		err := rn.f.Restore(bytes.NewReader(data))
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if strings.Contains(err.Error(), "panic") {
			t.Fatalf("%s: a panic was recovered: %v", what, err)
		}
		if rn.f.StateRows() != 0 || rn.f.started {
			t.Fatalf("%s: state after a failed restore", what)
		}
	}
	optest.ForEachDamage(snap, mustFail)
	if err := rn.f.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
}

// TestFilterCheckpointBadContent checks the content checks behind the
// checksum: a state that breaks the filter's invariants, written with a
// valid checksum (as a writer bug would), is refused.
func TestFilterCheckpointBadContent(t *testing.T) {
	cases := map[string]struct {
		spoil func(f *Filter)
		want  string
	}{
		"ring order": {func(f *Filter) {
			a, b := f.ring[f.head], f.ring[len(f.ring)-1]
			f.ring[f.head], f.ring[len(f.ring)-1] = b, a
		}, "ring rows out of ts order"},
		"heap order":  {func(f *Filter) { f.heap[0], f.heap[len(f.heap)-1] = f.heap[len(f.heap)-1], f.heap[0] }, "heap rows out of order"},
		"expired row": {func(f *Filter) { f.now += 1000 }, "outside the window"},
		"ringmax":     {func(f *Filter) { f.ringMax = 0 }, "ringmax"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			mem := optest.CheckedMem(t)
			b := newRunner(t, mem, 1000, false)
			defer b.f.Close()
			b.Run(optest.Step{Epoch: 1, Now: 1000})
			var rows [][]types.Datum
			for i, tv := range []int64{500, 600, 700, 800, 650, 550, 520} { // the last three go to the heap
				rows = append(rows, r(int64(i), tv))
			}
			b.Run(optest.Step{Rows: rows})
			if len(b.f.heap) != 3 {
				t.Fatalf("heap holds %d rows", len(b.f.heap))
			}
			c.spoil(b.f)
			snap := optest.Snapshot(t, b.f)
			f := newRunner(t, mem, 1000, false)
			defer f.f.Close()
			err := f.f.Restore(bytes.NewReader(snap))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("restore: %v, want an error with %q", err, c.want)
			}
			if f.f.StateRows() != 0 {
				t.Fatal("state after a failed restore")
			}
		})
	}
}

// TestSnapshotWriteError checks a failing writer makes Snapshot return
// its error, at any point of the checkpoint.
func TestSnapshotWriteError(t *testing.T) {
	mem := optest.CheckedMem(t)
	rn := newRunner(t, mem, 100, false)
	defer rn.f.Close()
	rn.Run(randScript(rand.New(rand.NewPCG(4, 4)), 10)...)
	optest.CheckSnapshotWriteErrors(t, rn.f)
}

// TestFilterCheckpointLarge round-trips a state whose rows stream spans
// several record batches.
func TestFilterCheckpointLarge(t *testing.T) {
	mem := optest.CheckedMem(t)
	b := newRunner(t, mem, 1<<30, false)
	defer b.f.Close()
	var rows [][]types.Datum
	for i := range int64(ckptBatchRows + 5000) {
		rows = append(rows, r(i, 1000+i-(i%10)*3)) // some out of order
	}
	b.Run(optest.Step{Epoch: 1, Now: 1000}, optest.Step{Rows: rows})
	if len(b.f.heap) == 0 {
		t.Fatal("no rows in the heap")
	}
	c := newRunner(t, mem, 1<<30, false)
	defer c.f.Close()
	if _, err := optest.RoundTrip(b.f, c.f); err != nil {
		t.Fatal(err)
	}
	if got, want := dumpState(c.f, true), dumpState(b.f, true); got != want {
		t.Fatal("restored state differs")
	}
	checkOrder(t, c.f)
}
