package topn

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// monoCols are the columns of the monotone tests: partition p, key k
// (unique within p), the count n that only improves, and x, the same in
// every row.
var monoCols = []types.Column{{Name: "p", Type: tBig}, {Name: "k", Type: tBig}, {Name: "n", Type: tBig}, {Name: "x", Type: tTxt}}

// monoIntCols are monoCols without x: every key is of BIGINTs, of one
// width, as the fast paths of a monotone Top-N need.
var monoIntCols = monoCols[:3]

// monoSpec is a Top-N over monoCols ordered by n (DESC when desc),
// partitioned by p when partitioned.
func monoSpec(partitioned, desc bool, n, offset int64, emit bool) Spec {
	s := Spec{Order: []OrderKey{{Col: 2, Desc: desc}}, N: n, Offset: offset, EmitRank: emit, Monotone: true}
	if partitioned {
		s.PartitionCols = []int{0}
	}
	return s
}

// monoPart is one partition value of the generator and how many keys it
// grows to.
type monoPart struct {
	p    types.Datum
	max  int
	keys int
}

// monoGen makes a monotone input over monoCols: partitions 0, 1, 2 and
// NULL of up to 150 keys each (far larger than any head) and 3 of at most
// 2 keys (smaller than most tops); updates make n grow by 0 to 3 (desc)
// or fall by 0 to 3, NULL n (ordered last) turning into a value. It
// keeps the current rows.
type monoGen struct {
	r     *rand.Rand
	desc  bool
	extra string
	noX   bool // rows have no x (monoIntCols)
	dups  bool // some inserts repeat a current row (held twice)
	parts []*monoPart
	cur   [][]types.Datum
	epoch int
}

func newMonoGen(r *rand.Rand, desc bool, extra string) *monoGen {
	g := &monoGen{r: r, desc: desc, extra: extra}
	for _, p := range []types.Datum{bi(0), bi(1), bi(2), null(tBig)} {
		g.parts = append(g.parts, &monoPart{p: p, max: 150})
	}
	g.parts = append(g.parts, &monoPart{p: bi(3), max: 2})
	return g
}

// fresh is the n of a new row: NULL at times, else a value that grows
// (desc) or falls with the epoch, so that new rows can enter the top.
func (g *monoGen) fresh() types.Datum {
	if g.r.IntN(10) == 0 {
		return null(tBig)
	}
	v := int64(g.r.IntN(100) + 2*g.epoch)
	if !g.desc {
		v = -v
	}
	return bi(v)
}

// improve is n after an update: 0 to 3 better, a NULL some value.
func (g *monoGen) improve(n types.Datum) types.Datum {
	if n.Null {
		return g.fresh() // maybe NULL again: no change
	}
	d := int64(g.r.IntN(4))
	if !g.desc {
		d = -d
	}
	return bi(n.I + d)
}

// next makes one epoch of about inserts new keys and updates updates: an
// update is an UpdateBefore/UpdateAfter pair, or a Delete of the old row
// now and an Insert of the new one later in the epoch (not next to it).
func (g *monoGen) next(inserts, updates int) (rows [][]types.Datum, ops []operators.Op) {
	r := g.r
	var pending [][]types.Datum
	busy := map[int]bool{} // rows deleted whose replacement is pending
	flush := func() {
		i := r.IntN(len(pending))
		rows, ops = append(rows, pending[i]), append(ops, operators.Insert)
		pending = slices.Delete(pending, i, i+1)
	}
	for m := inserts + updates; m > 0; m-- {
		if len(pending) > 0 && r.IntN(3) == 0 {
			flush()
		}
		var room []*monoPart
		for _, p := range g.parts {
			if p.keys < p.max {
				room = append(room, p)
			}
		}
		if g.dups && len(g.cur) > 0 && r.IntN(inserts+updates) < inserts && r.IntN(3) == 0 {
			x := g.cur[r.IntN(len(g.cur))] // again: rows are never changed in place
			rows, ops = append(rows, x), append(ops, operators.Insert)
			g.cur = append(g.cur, x)
			continue
		}
		if len(room) > 0 && (len(g.cur) == 0 || r.IntN(inserts+updates) < inserts) {
			p := room[r.IntN(len(room))]
			x := row(p.p, bi(int64(p.keys)), g.fresh(), txt(g.extra))
			if g.noX {
				x = x[:3]
			}
			p.keys++
			rows, ops = append(rows, x), append(ops, operators.Insert)
			g.cur = append(g.cur, x)
			continue
		}
		// Early rows are updated more often: they climb to the top.
		i := min(r.IntN(len(g.cur)), r.IntN(len(g.cur)))
		if busy[i] {
			continue
		}
		old := g.cur[i]
		x := slices.Clone(old)
		x[2] = g.improve(old[2])
		g.cur[i] = x
		if r.IntN(2) == 0 {
			rows, ops = append(rows, old, x), append(ops, operators.UpdateBefore, operators.UpdateAfter)
			continue
		}
		busy[i] = true
		rows, ops = append(rows, old), append(ops, operators.Delete)
		pending = append(pending, x)
	}
	for len(pending) > 0 {
		flush()
	}
	g.epoch++
	return rows, ops
}

// epochSize is the inserts and updates of epoch e of a monotone script:
// the partitions grow past the heads in the first 4 epochs, then mostly
// updates.
func epochSize(r *rand.Rand, e int) (inserts, updates int) {
	if e < 4 {
		return 130, 10
	}
	return r.IntN(8), 5 + r.IntN(30)
}

// checkMonoState checks a monotone Top-N holds no rest and at most
// headKeep+headSlack rows per partition (counted with multiplicity unless
// dups), and that the copies of the heads' last keys are current; it
// reports whether some partition dropped rows.
func checkMonoState(t *testing.T, op *TopN, dups bool, when string) (dropped bool) {
	t.Helper()
	bound := op.headKeep + op.headSlack
	for _, p := range op.parts {
		if p == nil {
			continue
		}
		if p.rest != nil {
			t.Fatalf("%s: a partition of a monotone Top-N has a rest", when)
		}
		if p.rows.ent > bound || (!dups && p.count() > int64(bound)) {
			t.Fatalf("%s: a partition holds %d keys (%d rows), bound %d", when, p.rows.ent, p.count(), bound)
		}
		if p.lastOK && (p.rows.ent == 0 || !bytes.Equal(p.lastBuf[:p.lastN], p.rows.last())) {
			t.Fatalf("%s: a partition's copy of its head's last key is stale", when)
		}
		dropped = dropped || p.dropped
	}
	return dropped
}

// TestTopNMonotoneDifferential checks a monotone Top-N against the
// reference over the current rows after every barrier, for partitions
// far larger than the top whose rows improve by update pairs and by
// deletes with later inserts; it checks the state stays bounded by the
// heads and that rows were really dropped.
func TestTopNMonotoneDifferential(t *testing.T) {
	for _, desc := range []bool{true, false} {
		for _, partitioned := range []bool{true, false} {
			for _, n := range []int64{0, 1, 3, 20} {
				for _, offset := range []int64{0, 2} {
					for _, emit := range []bool{false, true} {
						for bx, batch := range []int{1, 3, 1024} {
							spec := monoSpec(partitioned, desc, n, offset, emit)
							// Keys over 32 bytes (a long x) make the
							// head's last key uncached.
							extra := "x"
							if (int(n)+bx)%2 == 0 {
								extra = strings.Repeat("long", 10)
							}
							name := fmt.Sprintf("desc=%v/part=%v/n%d/off%d/rank=%v/batch%d", desc, partitioned, n, offset, emit, batch)
							seed := uint64(len(name)*1000 + int(n)*10 + int(offset) + bx)
							t.Run(name, func(t *testing.T) { runMonotone(t, spec, batch, extra, seed) })
						}
					}
				}
			}
		}
	}
}

func runMonotone(t *testing.T, spec Spec, batch int, extra string, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 77))
	g := newMonoGen(r, spec.Order[0].Desc, extra)
	feedMonoEpochs(t, newFixture(t, monoCols, spec, batch), g, r, spec, batch, false)
}

// feedMonoEpochs feeds 24 epochs of g's changes to f, checking each
// (endMonoEpoch; dups: g repeats rows), and fails a run in which no
// partition dropped a row.
func feedMonoEpochs(t *testing.T, f *fixture, g *monoGen, r *rand.Rand, spec Spec, batch int, dups bool) {
	t.Helper()
	folded := optest.Fold{}
	dropped := false
	for e := range 24 {
		rows, ops := g.next(epochSize(r, e))
		if err := f.Feed(rows, ops, batch); err != nil {
			t.Fatalf("epoch %d: %v", e, err)
		}
		if endMonoEpoch(t, f, folded, spec, g.cur, dups, e) {
			dropped = true
		}
	}
	if !dropped {
		t.Error("no partition dropped rows: the test is vacuous")
	}
}

// TestTopNMonotoneInsertsOnly checks a monotone Top-N over inserts only,
// with many duplicate rows, against the reference after every barrier.
func TestTopNMonotoneInsertsOnly(t *testing.T) {
	specs := []Spec{
		monoSpec(true, true, 3, 0, false),
		monoSpec(true, true, 1, 0, true),
		monoSpec(true, false, 20, 0, true),
		monoSpec(false, true, 5, 2, true),
		monoSpec(false, false, 4, 1, false),
		{PartitionCols: []int{0}, N: 2, Monotone: true}, // no ORDER BY
	}
	for si, spec := range specs {
		for _, batch := range []int{1, 7, 1024} {
			t.Run(fmt.Sprintf("spec%d/batch%d", si, batch), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(si), uint64(batch)))
				f := newFixture(t, monoCols, spec, batch)
				var cur [][]types.Datum
				folded := optest.Fold{}
				dropped := false
				for e := range 25 {
					var rows [][]types.Datum
					for m := 1 + r.IntN(60); m > 0; m-- {
						var x []types.Datum
						if len(cur) > 0 && r.IntN(5) == 0 {
							x = cur[r.IntN(len(cur))] // again
						} else {
							p := []types.Datum{bi(0), bi(1), null(tBig)}[r.IntN(3)]
							n := bi(int64(r.IntN(30)))
							if r.IntN(8) == 0 {
								n = null(tBig)
							}
							x = row(p, bi(int64(r.IntN(10))), n, txt("x"))
						}
						rows = append(rows, x)
						cur = append(cur, x)
					}
					if err := f.Feed(rows, nil, batch); err != nil {
						t.Fatalf("epoch %d: %v", e, err)
					}
					if endMonoEpoch(t, f, folded, spec, cur, true, e) {
						dropped = true
					}
				}
				if !dropped {
					t.Error("no partition dropped rows: the test is vacuous")
				}
			})
		}
	}
}

// endMonoEpoch ends epoch e with a barrier, folds its output into folded
// and compares that with the reference top over cur, and checks the
// state's bounds (checkMonoState, dups as there). It reports whether some
// partition dropped rows.
func endMonoEpoch(t *testing.T, f *fixture, folded optest.Fold, spec Spec, cur [][]types.Datum, dups bool, e int) bool {
	t.Helper()
	f.Barrier()
	if err := folded.Apply(f.Out.LastEpoch(), nil); err != nil {
		t.Fatalf("epoch %d: %v", e, err)
	}
	want := referenceTop(spec, slices.Clone(cur))
	if fmt.Sprint(want) != fmt.Sprint(folded) {
		t.Fatalf("epoch %d: output\n got %v\nwant %v", e, folded, want)
	}
	return checkMonoState(t, f.op, dups, fmt.Sprintf("epoch %d", e))
}

// isInternal reports whether err is an internal *sqlerr.Error whose
// message holds want.
func isInternal(err error, want string) bool {
	e, ok := sqlerr.As(err)
	return ok && e.Phase == sqlerr.Internal && strings.Contains(e.Error(), want)
}

// TestTopNMonotoneBrokenPromise checks a monotone input that breaks its
// promise is an internal error, not a wrong answer: rows retracted from
// the top without replacement after rows were dropped fail the barrier,
// and a retraction of a row never held when none was dropped fails the
// push. Only ROW_NUMBER is allowed.
func TestTopNMonotoneBrokenPromise(t *testing.T) {
	for _, partitioned := range []bool{true, false} {
		t.Run(fmt.Sprintf("top short/part=%v", partitioned), func(t *testing.T) {
			for _, monotone := range []bool{true, false} {
				spec := monoSpec(partitioned, true, 2, 1, true)
				spec.Monotone = monotone
				f := newFixture(t, monoCols, spec, 16)
				var rows [][]types.Datum
				for k := range 100 {
					rows = append(rows, row(bi(0), bi(int64(k)), bi(int64(k)), txt("x")))
				}
				f.Push(operators.Insert, rows...)
				f.Expect(
					"+ 0,98,98,x,2",
					"+ 0,97,97,x,3",
				)
				if monotone && !checkMonoState(t, f.op, false, "after the inserts") {
					t.Fatal("nothing dropped")
				}
				// The best 40 rows go for good: all the head holds.
				slices.Reverse(rows)
				f.Push(operators.Delete, rows[:40]...)
				err := f.op.Push(operators.Barrier{Epoch: 2})
				if !monotone {
					if err != nil {
						t.Fatalf("not monotone: %v", err)
					}
					got := optest.ChangeLines(f.Out.LastEpoch(), nil)
					optest.CheckLines(t, "not monotone", got,
						"- 0,98,98,x,2", "- 0,97,97,x,3",
						"+ 0,58,58,x,2", "+ 0,57,57,x,3")
					continue
				}
				if !isInternal(err, "retracted rows without replacing them") {
					t.Fatalf("barrier after the top was retracted: %v, want an internal error", err)
				}
			}
		})
	}
	t.Run("not held", func(t *testing.T) {
		// A partition that dropped nothing: a row not held, ordered
		// before the head's last row or after it.
		for _, n := range []int64{7, 1} {
			g := newFixture(t, monoCols, monoSpec(true, true, 3, 0, false), 4)
			g.Push(operators.Insert, row(bi(0), bi(1), bi(5), txt("x")), row(bi(0), bi(2), bi(6), txt("x")))
			g.Expect("+ 0,1,5,x", "+ 0,2,6,x")
			err := g.Feed([][]types.Datum{row(bi(0), bi(3), bi(n), txt("x"))}, []operators.Op{operators.Delete}, 4)
			if !isInternal(err, "not held") {
				t.Fatalf("retraction of a row never held (n %d): %v, want an internal error", n, err)
			}
		}
		// A new partition.
		g := newFixture(t, monoCols, monoSpec(true, true, 3, 0, false), 4)
		err := g.Feed([][]types.Datum{row(bi(9), bi(3), bi(7), txt("x"))}, []operators.Op{operators.UpdateBefore}, 4)
		if !isInternal(err, "not held") {
			t.Fatalf("retraction in a new partition: %v, want an internal error", err)
		}
	})
	t.Run("rank", func(t *testing.T) {
		mem := optest.CheckedMem(t)
		spec := monoSpec(true, true, 3, 0, false)
		spec.Kind = Rank
		nop := operators.OutputFunc(func(operators.Message) error { return nil })
		op, err := New(mem, types.Schema(monoCols).Arrow(), optest.ColumnTypes(monoCols), spec, nop)
		if err == nil {
			op.Close()
			t.Fatal("monotone RANK: no error")
		}
		if !isInternal(err, "ROW_NUMBER") {
			t.Fatalf("monotone RANK: %v", err)
		}
	})
}

// monoSteps makes a monotone script of epochs over monoCols, each epoch
// cut into chunks of random sizes (update pairs kept together) and ended
// by a barrier.
func monoSteps(r *rand.Rand, desc bool, epochs int) []optest.Step {
	g := newMonoGen(r, desc, "x")
	var steps []optest.Step
	for e := range epochs {
		rows, ops := g.next(epochSize(r, e))
		steps = append(steps, optest.ChunkSteps(r, rows, ops, 40, true)...)
		steps = append(steps, optest.Step{Epoch: uint64(e + 1)})
	}
	return steps
}

// TestTopNMonotoneCheckpoint runs a monotone script through A
// uninterrupted and through B, snapshotted at a barrier after rows were
// dropped and restored into a new C that runs the rest: C's output must
// be A's after the cut, message for message, and the states equal. A
// snapshot of C right after the restore must be B's, byte for byte.
func TestTopNMonotoneCheckpoint(t *testing.T) {
	specs := []Spec{
		monoSpec(true, true, 3, 0, true),
		monoSpec(true, false, 1, 1, false),
		monoSpec(false, true, 20, 2, true),
		monoSpec(true, true, 20, 0, false),
		monoSpec(true, true, 0, 0, false), // every row dropped: partitions held empty
	}
	for si, spec := range specs {
		t.Run(fmt.Sprintf("spec%d", si), func(t *testing.T) {
			for seed := uint64(0); seed < 3; seed++ {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				r := rand.New(rand.NewPCG(seed, uint64(si)))
				steps := monoSteps(r, spec.Order[0].Desc, 16)
				var barriers []int // steps just after a barrier, once rows were dropped
				for i, s := range steps {
					if s.IsBarrier() && s.Epoch >= 4 {
						barriers = append(barriers, i+1)
					}
				}
				cut := barriers[r.IntN(len(barriers))]
				mk := func() *runner { return newRunnerCols(t, mem, spec, monoCols) }
				checkCut(t, seed, mk, steps, cut, func(b *runner) {
					if !checkMonoState(t, b.op, false, "at the cut") {
						t.Fatalf("seed %d: nothing dropped at the cut", seed)
					}
				})
				mem.AssertSize(t, 0)
			}
		})
	}
	t.Run("config mismatch", func(t *testing.T) {
		mem := optest.CheckedMem(t)
		mono := monoSpec(true, true, 3, 0, true)
		plain := mono
		plain.Monotone = false
		steps := monoSteps(rand.New(rand.NewPCG(5, 5)), true, 6)
		b := newRunnerCols(t, mem, mono, monoCols)
		b.Run(steps...)
		snap := optest.Snapshot(t, b.op)
		d := newRunnerCols(t, mem, plain, monoCols)
		err := d.op.Restore(bytes.NewReader(snap))
		if err == nil || !strings.Contains(err.Error(), "differently configured") {
			t.Errorf("restore of a monotone snapshot into a plain Top-N: %v", err)
		}
		if d.op.Partitions() != 0 {
			t.Error("state after a failed restore")
		}
		b.op.Close()
		d.op.Close()
	})
	t.Run("from a plain snapshot", func(t *testing.T) {
		for seed := uint64(0); seed < 4; seed++ {
			mem := optest.CheckedMem(t)
			mono := monoSpec(seed%2 == 0, true, 3, int64(seed%3), true)
			plain := mono
			plain.Monotone = false
			steps := monoSteps(rand.New(rand.NewPCG(seed, 6)), true, 14)
			cut := 0
			for i, s := range steps {
				if s.IsBarrier() && s.Epoch == 8 {
					cut = i + 1
				}
			}
			// A plain Top-N runs the whole script; at the cut its
			// snapshot is restored into a monotone one, which must go on
			// to the same tops (folded: the order of changes may differ).
			p := newRunnerCols(t, mem, plain, monoCols)
			folded := optest.Fold{}
			for _, s := range steps[:cut] {
				p.Run(s)
				if s.IsBarrier() {
					if err := folded.Apply(p.Out.LastEpoch(), nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			c := newRunnerCols(t, mem, mono, monoCols)
			if _, err := optest.RoundTrip(p.op, c.op); err != nil {
				t.Fatalf("seed %d: restore of a plain snapshot: %v", seed, err)
			}
			if !checkMonoState(t, c.op, false, "after the restore") {
				t.Fatalf("seed %d: the restore dropped nothing", seed)
			}
			cf := maps.Clone(folded)
			for i, s := range steps[cut:] {
				p.Run(s)
				if err := c.Step(s); err != nil {
					t.Fatalf("seed %d: step %d after the cut: %v", seed, i, err)
				}
				if !s.IsBarrier() {
					continue
				}
				if err := folded.Apply(p.Out.LastEpoch(), nil); err != nil {
					t.Fatal(err)
				}
				if err := cf.Apply(c.Out.LastEpoch(), nil); err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(cf) != fmt.Sprint(folded) {
					t.Fatalf("seed %d, epoch %d: monotone top\n got %v\nwant %v", seed, s.Epoch, cf, folded)
				}
			}
			p.op.Close()
			c.op.Close()
		}
	})
}

// TestTopNMonotoneRestoreSmallPartition checks that a partition smaller
// than its top (nothing of it was ever dropped) takes updates after a
// restore as it did before it.
func TestTopNMonotoneRestoreSmallPartition(t *testing.T) {
	mem := optest.CheckedMem(t)
	spec := monoSpec(true, true, 3, 0, false)
	b := newRunnerCols(t, mem, spec, monoCols)
	defer b.op.Close()
	b.Push(operators.Insert, row(bi(0), bi(1), bi(5), txt("x")), row(bi(0), bi(2), bi(6), txt("x")))
	b.Expect("+ 0,1,5,x", "+ 0,2,6,x")
	c := newRunnerCols(t, mem, spec, monoCols)
	defer c.op.Close()
	if _, err := optest.RoundTrip(b.op, c.op); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*runner{b, c} {
		x.update(row(bi(0), bi(1), bi(5), txt("x")), row(bi(0), bi(1), bi(9), txt("x")))
		if err := x.op.Push(operators.Barrier{Epoch: 2}); err != nil {
			t.Fatalf("restored=%v: an update of a partition of 2 rows with N 3: %v", x == c, err)
		}
		got := optest.ChangeLines(x.Out.LastEpoch(), nil)
		optest.CheckLines(t, fmt.Sprintf("restored=%v", x == c), got, "+ 0,1,9,x", "- 0,1,5,x")
	}
}
