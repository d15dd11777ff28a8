package topn

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

// randScript makes epochs of random inserts, deletes and update pairs
// over diffCols (several partitions, NULLs, duplicates), each epoch cut
// into chunks of random sizes and ended by a barrier.
func randScript(r *rand.Rand, epochs int) []optest.Step {
	ed := &edits{}
	var steps []optest.Step
	for e := range epochs {
		for n := r.IntN(16); n > 0; n-- {
			switch k := r.IntN(10); {
			case k < 5 || len(ed.cur) == 0:
				x := randRow(r)
				ed.insert(x)
				if r.IntN(6) == 0 { // a duplicate
					ed.insert(x)
				}
			case k < 8:
				i := r.IntN(len(ed.cur))
				ed.remove(i)
			default:
				i := r.IntN(len(ed.cur))
				x := slices.Clone(ed.cur[i])
				x[1] = bi(x[1].I + int64(r.IntN(3)) - 1)
				if r.IntN(4) == 0 {
					x[0] = bi(int64(r.IntN(3))) // moves partition
				}
				ed.update(i, x)
			}
		}
		rows, ops := ed.take()
		steps = append(steps, optest.ChunkSteps(r, rows, ops, 6, true)...)
		steps = append(steps, optest.Step{Epoch: uint64(e + 1)})
	}
	return steps
}

// runner is a Top-N driven through scripts: the harness's collector
// checks its output and tr logs it, message for message, with chunk
// boundaries.
type runner struct {
	*fixture
	tr *optest.Transcript
}

func newRunner(t *testing.T, mem memory.Allocator, spec Spec) *runner {
	t.Helper()
	return newRunnerCols(t, mem, spec, diffCols)
}

// newRunnerCols is newRunner over input columns cols.
func newRunnerCols(t *testing.T, mem memory.Allocator, spec Spec, cols []types.Column) *runner {
	t.Helper()
	rn := &runner{}
	rn.fixture = newTopN(t, mem, spec, cols, func(c *optest.Collector) operators.Output {
		rn.tr = &optest.Transcript{Next: c, Types: c.Types, ChunkEnds: true}
		return rn.tr
	})
	return rn
}

// dumpState renders a Top-N's state canonically: partitions by key, each
// with its rows and counts and its emitted top.
func dumpState(t *TopN) string {
	var lines []string
	for _, p := range t.parts {
		if p == nil {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "part %x rows=%d touched=%v\n", p.key, p.count(), p.touched)
		err := t.eachRow(p, func(k []byte, c uint32) error {
			fmt.Fprintf(&b, "  %x×%d\n", k, c)
			return nil
		})
		if err != nil {
			panic(err)
		}
		s := &p.snap
		fmt.Fprintf(&b, "  top full=%v bound=%x\n", s.full, s.bound)
		for i := 0; i < s.len(); i++ {
			var r int64
			if s.rank != nil {
				r = s.rank[i]
			}
			fmt.Fprintf(&b, "  %x×%d@%d\n", s.key(i), s.mult[i], r)
		}
		lines = append(lines, b.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}

func ckptSpecs() []Spec {
	bases := []Spec{
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 1, Desc: true}}, N: 2},
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 3, NullsFirst: true}, {Col: 2, Desc: true}}, N: 3},
		{Order: []OrderKey{{Col: 2}, {Col: 1, Desc: true}}, N: 4, Offset: 2},
		{PartitionCols: []int{0, 2}, Order: []OrderKey{{Col: 1}}, N: 1},
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 0, Desc: true}, {Col: 1}}, N: 2}, // a partition column in ORDER BY
		{PartitionCols: []int{0}, N: 2},
	}
	var out []Spec
	for _, b := range bases {
		for _, kind := range []RankKind{RowNumber, Rank} {
			for _, emit := range []bool{false, true} {
				s := b
				s.Kind, s.EmitRank = kind, emit
				out = append(out, s)
			}
		}
	}
	return out
}

// TestTopNCheckpointCutAndContinue runs the same random script through A
// uninterrupted and through B, which is snapshotted at a random point (at
// a barrier, or mid-epoch with changes pending) and restored into a new
// C that runs the rest. C's output must be A's after the cut, message for
// message, and the final states equal. A snapshot of C right after the
// restore must be B's, byte for byte.
func TestTopNCheckpointCutAndContinue(t *testing.T) {
	for si, spec := range ckptSpecs() {
		t.Run(fmt.Sprintf("spec%d/%s/rank=%v", si, spec.Kind, spec.EmitRank), func(t *testing.T) {
			for seed := uint64(0); seed < 6; seed++ {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				r := rand.New(rand.NewPCG(seed, uint64(si)))
				steps := randScript(r, 30)
				cut := r.IntN(len(steps) + 1)
				if seed%2 == 0 { // cut right after a barrier, as the executor does
					for cut > 0 && !steps[cut-1].IsBarrier() {
						cut--
					}
				}
				mk := func() *runner { return newRunner(t, mem, spec) }
				checkCut(t, seed, mk, steps, cut, nil)
				mem.AssertSize(t, 0)
			}
		})
	}
}

// TestTopNCheckpointRests is TestTopNCheckpointCutAndContinue over
// partitions larger than their sorted heads (small heads, so that rests
// hold rows and are refilled): cut at barriers and mid-epoch, the state
// restored (every partition split afresh) must continue exactly as the
// uninterrupted run, and snapshot to the same bytes.
func TestTopNCheckpointRests(t *testing.T) {
	for si, spec := range ckptSpecs() {
		for _, fixed := range []bool{false, true} {
			t.Run(fmt.Sprintf("spec%d/%s/rank=%v/fixed=%v", si, spec.Kind, spec.EmitRank, fixed), func(t *testing.T) {
				cols := diffCols
				if fixed {
					cols = fixedCols
				}
				for seed := uint64(0); seed < 3; seed++ {
					mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
					r := rand.New(rand.NewPCG(seed, uint64(si)))
					steps, _ := refillScript(r, spec, fixed, 16)
					cut := len(steps)/2 + r.IntN(len(steps)/2)
					if seed%2 == 0 {
						for cut > 0 && !steps[cut-1].IsBarrier() {
							cut--
						}
					}
					mk := func() *runner {
						r := newRunnerCols(t, mem, spec, cols)
						smallHead(r.op)
						return r
					}
					checkCut(t, seed, mk, steps, cut, func(b *runner) {
						restsHeld := 0
						for _, p := range b.op.parts {
							if p != nil && p.rest != nil {
								restsHeld++
							}
						}
						// (Where all rows tie under RANK they are all in
						// the top, and the heads keep them.)
						if allTie := spec.Kind == Rank && len(spec.Order) == 0; restsHeld == 0 && !allTie {
							t.Fatalf("seed %d: no partition has a rest at the cut", seed)
						}
					})
					mem.AssertSize(t, 0)
				}
			})
		}
	}
}

// checkCut runs steps through a Top-N made by mk without interruption
// (a), and through another (b) up to step cut, where atCut (when not nil)
// inspects it and its snapshot is restored into a third (c): c's state
// must be b's, snapshot to the same bytes, and, over the steps after the
// cut, emit exactly what a emitted and end in a's state. All three are
// closed, and must have released everything they allocated.
func checkCut(t *testing.T, seed uint64, mk func() *runner, steps []optest.Step, cut int, atCut func(b *runner)) {
	t.Helper()
	a := mk()
	a.Run(steps[:cut]...)
	mark := len(a.tr.Lines)
	a.Run(steps[cut:]...)
	b := mk()
	b.Run(steps[:cut]...)
	if atCut != nil {
		atCut(b)
	}
	c := mk()
	snap, err := optest.RoundTrip(b.op, c.op)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if got, want := dumpState(c.op), dumpState(b.op); got != want {
		t.Fatalf("seed %d: restored state differs:\n got %s\nwant %s", seed, got, want)
	}
	if again := optest.Snapshot(t, c.op); !bytes.Equal(again, snap) {
		t.Errorf("seed %d: snapshot after restore differs from the original (%d vs %d bytes)", seed, len(again), len(snap))
	}
	for i, s := range steps[cut:] {
		if err := c.Step(s); err != nil {
			t.Fatalf("seed %d: step %d after the cut at %d: %v", seed, i, cut, err)
		}
	}
	if want := a.tr.Lines[mark:]; fmt.Sprint(c.tr.Lines) != fmt.Sprint(want) {
		t.Fatalf("seed %d (cut at step %d of %d): output after the cut differs:\n got %v\nwant %v", seed, cut, len(steps), c.tr.Lines, want)
	}
	if got, want := dumpState(c.op), dumpState(a.op); got != want {
		t.Fatalf("seed %d: final states differ:\n got %s\nwant %s", seed, got, want)
	}
	for _, x := range []*runner{a, b, c} {
		if err := x.op.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// snapshotOf runs a script through a new Top-N and returns its snapshot
// and state dump.
func snapshotOf(t *testing.T, mem memory.Allocator, spec Spec, seed uint64) ([]byte, string) {
	t.Helper()
	rn := newRunner(t, mem, spec)
	defer rn.op.Close()
	rn.Run(randScript(rand.New(rand.NewPCG(seed, 99)), 20)...)
	return optest.Snapshot(t, rn.op), dumpState(rn.op)
}

func TestTopNCheckpointConfigMismatch(t *testing.T) {
	mem := optest.CheckedMem(t)
	spec := Spec{PartitionCols: []int{0}, Order: []OrderKey{{Col: 1, Desc: true}}, N: 2, EmitRank: true}
	snap, _ := snapshotOf(t, mem, spec, 1)
	others := map[string]Spec{}
	s := spec
	s.N = 3
	others["N"] = s
	s = spec
	s.Offset = 1
	others["offset"] = s
	s = spec
	s.Kind = Rank
	others["kind"] = s
	s = spec
	s.EmitRank = false
	others["emit rank"] = s
	s = spec
	s.PartitionCols = []int{2}
	others["partition"] = s
	s = spec
	s.Order = []OrderKey{{Col: 1}}
	others["order"] = s
	for name, o := range others {
		rn := newRunner(t, mem, o)
		err := rn.op.Restore(bytes.NewReader(snap))
		if err == nil || !strings.Contains(err.Error(), "differently configured") {
			t.Errorf("%s: restore into another configuration: %v", name, err)
		}
		if rn.op.Partitions() != 0 {
			t.Errorf("%s: state after a failed restore", name)
		}
		rn.op.Close()
	}
	// Other input types.
	cols := []types.Column{{Name: "p", Type: tBig}, {Name: "a", Type: tBig}, {Name: "b", Type: tTxt}, {Name: "c", Type: tBig}}
	schema := types.Schema(cols).Arrow()
	op, err := New(mem, schema, []types.T{tBig, tBig, tTxt, tBig}, spec, operators.OutputFunc(func(operators.Message) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if err := op.Restore(bytes.NewReader(snap)); err == nil || !strings.Contains(err.Error(), "differently configured") {
		t.Errorf("restore with other input types: %v", err)
	}
	// Another version, and another format.
	rn := newRunner(t, mem, spec)
	defer rn.op.Close()
	h := ckptio.Header{Format: ckptFormat, Version: ckptVersion, Config: rn.op.config(), Names: []string{"partitions", "entries", "tops"}, Counts: []int64{0, 0, 0}}
	optest.CheckForeignHeaders(t, mem, snap, h, []optest.ForeignHeader{
		{Format: ckptFormat, Version: 2, Want: "version 2"},
		{Format: "sluice.agg", Version: 1, Want: "not a sluice.topn checkpoint"},
	}, rn.op)
	// Restore into an operator with state.
	if err := rn.op.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if err := rn.op.Restore(bytes.NewReader(snap)); err == nil {
		t.Error("second restore: no error")
	}
}

// TestTopNCheckpointCorrupt feeds truncated, bit-flipped and garbage
// snapshots: every one must fail with an error, without a panic (even a
// recovered one) and without leaving state.
func TestTopNCheckpointCorrupt(t *testing.T) {
	mem := optest.CheckedMem(t)
	spec := Spec{PartitionCols: []int{0}, Order: []OrderKey{{Col: 3, NullsFirst: true}, {Col: 2, Desc: true}}, N: 3, EmitRank: true, Kind: Rank}
	snap, _ := snapshotOf(t, mem, spec, 7)
	rn := newRunner(t, mem, spec)
	defer rn.op.Close()
	mustFail := func(what string, data []byte) {
		t.Helper()
		err := rn.op.Restore(bytes.NewReader(data))
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if strings.Contains(err.Error(), "panic") {
			t.Fatalf("%s: a panic was recovered: %v", what, err)
		}
		if rn.op.Partitions() != 0 {
			t.Fatalf("%s: state after a failed restore", what)
		}
	}
	optest.ForEachDamage(snap, mustFail)
	// The intact snapshot still restores.
	if err := rn.op.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
}

// TestTopNCheckpointBadContent checks that a checkpoint whose checksum is
// right but whose content is inconsistent (as a bug in a writer would
// make it) is refused by the content checks behind the checksum.
func TestTopNCheckpointBadContent(t *testing.T) {
	mem := optest.CheckedMem(t)
	spec := Spec{PartitionCols: []int{0}, Order: []OrderKey{{Col: 2, Desc: true}, {Col: 1}}, N: 2, EmitRank: true}
	cases := map[string]struct {
		spoil func(op *TopN)
		want  string
	}{
		"count 0":             {func(op *TopN) { op.parts[0].rows.blocks[0].cnt[0] = 0 }, "count NULL or 0"},
		"rows out of order":   {swapFirstKeys, "out of order"},
		"duplicate partition": {func(op *TopN) { op.parts[1].key = op.parts[0].key }, "duplicate partition key"},
		"rank outside top":    {func(op *TopN) { op.parts[0].snap.rank[0] = 99 }, "outside the top"},
		"tops out of order": {func(op *TopN) {
			s := &op.parts[0].snap
			s.push(slices.Clone(s.key(0)), 1, 1, true) // the first entry again, last
		}, "out of order"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cols := []types.Column{{Name: "p", Type: tBig}, {Name: "a", Type: tBig}, {Name: "n", Type: tBig}}
			schema := types.Schema(cols).Arrow()
			ts := []types.T{tBig, tBig, tBig}
			nop := operators.OutputFunc(func(operators.Message) error { return nil })
			b, err := New(mem, schema, ts, spec, nop)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var rows [][]types.Datum
			for p := int64(0); p < 3; p++ {
				for a := int64(0); a < 5; a++ {
					rows = append(rows, row(bi(p), bi(a), bi(a%3)))
				}
			}
			if err := optest.Feed(mem, b, schema, rows, nil, 4); err != nil {
				t.Fatal(err)
			}
			if err := b.Push(operators.Barrier{Epoch: 1}); err != nil {
				t.Fatal(err)
			}
			c.spoil(b)
			snap := optest.Snapshot(t, b)
			op, err := New(mem, schema, ts, spec, nop)
			if err != nil {
				t.Fatal(err)
			}
			defer op.Close()
			err = op.Restore(bytes.NewReader(snap))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("restore: %v, want an error with %q", err, c.want)
			}
			if op.Partitions() != 0 {
				t.Fatal("state after a failed restore")
			}
		})
	}
}

// swapFirstKeys swaps the first two row keys of the first partition
// (fixed-width keys).
func swapFirstKeys(op *TopN) {
	b := op.parts[0].rows.blocks[0]
	w := b.w
	k0 := slices.Clone(b.key(0))
	copy(b.data[:w], b.data[w:2*w])
	copy(b.data[w:2*w], k0)
}

// TestSnapshotWriteError checks a failing writer makes Snapshot return
// its error, at any point of the checkpoint.
func TestSnapshotWriteError(t *testing.T) {
	mem := optest.CheckedMem(t)
	rn := newRunner(t, mem, ckptSpecs()[3])
	defer rn.op.Close()
	rn.Run(randScript(rand.New(rand.NewPCG(4, 4)), 10)...)
	optest.CheckSnapshotWriteErrors(t, rn.op)
}

// TestTopNCheckpointLarge round-trips a state whose streams span several
// record batches.
func TestTopNCheckpointLarge(t *testing.T) {
	mem := optest.CheckedMem(t)
	spec := Spec{PartitionCols: []int{0}, Order: []OrderKey{{Col: 1, Desc: true}}, N: 5, EmitRank: true}
	b := newRunner(t, mem, spec)
	defer b.op.Close()
	var rows [][]types.Datum
	for i := range ckptBatchRows + 5000 {
		rows = append(rows, row(bi(int64(i%7)), bi(int64(i)), txt(fmt.Sprint("s", i%13)), dbl(float64(i%5))))
	}
	b.Run(optest.Step{Rows: rows}, optest.Step{Epoch: 1})
	c := newRunner(t, mem, spec)
	defer c.op.Close()
	if _, err := optest.RoundTrip(b.op, c.op); err != nil {
		t.Fatal(err)
	}
	if got, want := dumpState(c.op), dumpState(b.op); got != want {
		t.Fatal("restored state differs")
	}
}
