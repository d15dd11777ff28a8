package topn

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

var diffCols = []types.Column{{Name: "p", Type: tBig}, {Name: "a", Type: tBig}, {Name: "b", Type: tTxt}, {Name: "c", Type: tDbl}}

func randRow(r *rand.Rand) []types.Datum {
	pick := func(n int) int { return r.IntN(n) }
	var p types.Datum
	if pick(8) == 0 {
		p = null(tBig)
	} else {
		p = bi(int64(pick(3)))
	}
	a := bi(int64(pick(5)))
	b := []types.Datum{txt("x"), txt("y"), txt(""), txt("x\x00z"), null(tTxt)}[pick(5)]
	c := []types.Datum{dbl(1.5), dbl(-2), dbl(0), dbl(7), null(tDbl)}[pick(5)]
	return row(p, a, b, c)
}

// refCompare orders rows as the spec does, with the remaining columns
// ascending (NULLs first) as the tie-break. orderOnly stops after the
// ORDER BY terms.
func refCompare(spec Spec, ncols int, x, y []types.Datum, orderOnly bool) int {
	cmpOne := func(a, b types.Datum, desc, nullsFirst bool) int {
		switch {
		case a.Null && b.Null:
			return 0
		case a.Null:
			if nullsFirst {
				return -1
			}
			return 1
		case b.Null:
			if nullsFirst {
				return 1
			}
			return -1
		}
		c := types.Compare(a, b)
		if desc {
			c = -c
		}
		return c
	}
	skip := make([]bool, ncols)
	for _, p := range spec.PartitionCols {
		skip[p] = true
	}
	for _, o := range spec.Order {
		if c := cmpOne(x[o.Col], y[o.Col], o.Desc, o.NullsFirst); c != 0 {
			return c
		}
		skip[o.Col] = true
	}
	if orderOnly {
		return 0
	}
	for i := 0; i < ncols; i++ {
		if skip[i] {
			continue
		}
		if c := cmpOne(x[i], y[i], false, true); c != 0 {
			return c
		}
	}
	return 0
}

// referenceTop computes the top from scratch over the input multiset.
func referenceTop(spec Spec, rows [][]types.Datum) map[string]int {
	parts := map[string][][]types.Datum{}
	for _, r := range rows {
		var k []types.Datum
		for _, p := range spec.PartitionCols {
			k = append(k, r[p])
		}
		parts[optest.FormatRow(k)] = append(parts[optest.FormatRow(k)], r)
	}
	out := map[string]int{}
	for _, pr := range parts {
		ncols := len(pr[0])
		slices.SortFunc(pr, func(x, y []types.Datum) int { return refCompare(spec, ncols, x, y, false) })
		var rank int64
		for i, r := range pr {
			pos := int64(i + 1)
			if spec.Kind == RowNumber || i == 0 || refCompare(spec, ncols, pr[i-1], r, true) != 0 {
				rank = pos
			}
			if rank <= spec.Offset || rank > spec.Offset+spec.N {
				continue
			}
			vals := slices.Clone(r)
			if spec.EmitRank {
				vals = append(vals, bi(rank))
			}
			out[optest.FormatRow(vals)]++
		}
	}
	return out
}

// edits is a multiset of rows (cur) and the changes made to it since the
// last take.
type edits struct {
	cur  [][]types.Datum
	rows [][]types.Datum
	ops  []operators.Op
}

// insert adds a copy of x.
func (e *edits) insert(x []types.Datum) {
	e.rows, e.ops = append(e.rows, x), append(e.ops, operators.Insert)
	e.cur = append(e.cur, x)
}

// remove deletes cur[i].
func (e *edits) remove(i int) {
	e.rows, e.ops = append(e.rows, e.cur[i]), append(e.ops, operators.Delete)
	e.cur = slices.Delete(e.cur, i, i+1)
}

// update replaces cur[i] by x, as an update pair.
func (e *edits) update(i int, x []types.Datum) {
	e.rows, e.ops = append(e.rows, e.cur[i], x), append(e.ops, operators.UpdateBefore, operators.UpdateAfter)
	e.cur[i] = x
}

// take returns the changes made since the last take.
func (e *edits) take() ([][]types.Datum, []operators.Op) {
	rows, ops := e.rows, e.ops
	e.rows, e.ops = nil, nil
	return rows, ops
}

func TestTopNDifferential(t *testing.T) {
	specs := []Spec{
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 1, Desc: true}}, N: 2},
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 3, NullsFirst: true}, {Col: 2, Desc: true}}, N: 3},
		{Order: []OrderKey{{Col: 2}, {Col: 1, Desc: true}}, N: 4, Offset: 2},
		{PartitionCols: []int{0, 2}, Order: []OrderKey{{Col: 1}}, N: 1},
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 3, Desc: true, NullsFirst: true}}, N: 3, Offset: 1},
		{PartitionCols: []int{0}, N: 2}, // no ORDER BY: all ties
	}
	for si, base := range specs {
		for _, kind := range []RankKind{RowNumber, Rank} {
			for _, emit := range []bool{false, true} {
				spec := base
				spec.Kind, spec.EmitRank = kind, emit
				for _, batch := range []int{1, 3, 1024} {
					name := fmt.Sprintf("spec%d/%s/rank=%v/batch%d", si, kind, emit, batch)
					t.Run(name, func(t *testing.T) {
						runDifferential(t, spec, batch, uint64(si*100+int(kind)*10+batch))
					})
				}
			}
		}
	}
}

func runDifferential(t *testing.T, spec Spec, batch int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 42))
	f := newFixture(t, diffCols, spec, batch)
	ed := &edits{}
	folded := optest.Fold{}
	for epoch := 0; epoch < 60; epoch++ {
		for n := r.IntN(12); n > 0; n-- {
			switch k := r.IntN(10); {
			case k < 5 || len(ed.cur) == 0:
				x := randRow(r)
				ed.insert(x)
			case k < 8:
				i := r.IntN(len(ed.cur))
				ed.remove(i)
			default:
				i := r.IntN(len(ed.cur))
				x := slices.Clone(ed.cur[i])
				x[1] = bi(x[1].I + int64(r.IntN(3)) - 1)
				ed.update(i, x)
			}
		}
		rows, ops := ed.take()
		if err := f.Feed(rows, ops, batch); err != nil {
			t.Fatalf("epoch %d: %v", epoch, err)
		}
		f.Barrier()
		if err := folded.Apply(f.Out.LastEpoch(), nil); err != nil {
			t.Fatalf("epoch %d: %v", epoch, err)
		}
		want := referenceTop(spec, slices.Clone(ed.cur))
		if fmt.Sprint(want) != fmt.Sprint(folded) {
			t.Fatalf("epoch %d: output\n got %v\nwant %v", epoch, folded, want)
		}
	}
	if spec.N > 0 && len(ed.cur) > 0 && f.op.StateBytes() <= 0 {
		t.Error("StateBytes is zero with rows held")
	}
}

// TestTopNNoChangeNoEmit checks a barrier after changes that cancel out
// emits nothing.
func TestTopNNoChangeNoEmit(t *testing.T) {
	f := newFixture(t, cooc, similar(2, true), 3)
	f.Push(operators.Insert, row(bi(1), bi(2), bi(3)))
	f.Barrier()
	f.Push(operators.Insert, row(bi(1), bi(5), bi(9)))
	f.Push(operators.Delete, row(bi(1), bi(5), bi(9)))
	f.Expect()
}

// fixedCols is diffCols with b a BIGINT: every key of fixed width (the
// rest sets compress them).
var fixedCols = []types.Column{{Name: "p", Type: tBig}, {Name: "a", Type: tBig}, {Name: "b", Type: tBig}, {Name: "c", Type: tDbl}}

// refillRow makes a row of diffCols (fixed: of fixedCols) for partitions
// larger than the sorted head: 3 partitions (one NULL), 40 values of a,
// NULLs in b and c.
func refillRow(r *rand.Rand, fixed bool) []types.Datum {
	p := bi(int64(r.IntN(2)))
	if r.IntN(6) == 0 {
		p = null(tBig)
	}
	var b types.Datum
	if fixed {
		b = bi(int64(r.IntN(6)))
		if r.IntN(7) == 0 {
			b = null(tBig)
		}
	} else {
		b = []types.Datum{txt("x"), txt("y"), txt(""), txt("x\x00z"), txt("zz"), null(tTxt)}[r.IntN(6)]
	}
	c := []types.Datum{dbl(1.5), dbl(-2), dbl(0), dbl(7), dbl(3), null(tDbl)}[r.IntN(6)]
	return row(p, bi(int64(r.IntN(40))), b, c)
}

// refillScript makes epochs that grow partitions well past the sorted
// head (about 180 rows each), then retract their top rows again and again
// (deleting a partition's best row, or moving it down or to another
// partition; every third epoch mostly from one partition), mixed with
// random inserts (some duplicates), deletes and updates. It returns the steps and the input multiset after each epoch.
func refillScript(r *rand.Rand, spec Spec, fixed bool, epochs int) ([]optest.Step, [][][]types.Datum) {
	ed := &edits{}
	partOf := func(x []types.Datum) string {
		var k []types.Datum
		for _, c := range spec.PartitionCols {
			k = append(k, x[c])
		}
		return optest.FormatRow(k)
	}
	// best is the index in ed.cur of the best row of x's partition.
	best := func(x []types.Datum) int {
		pk, bi := partOf(x), -1
		for i, y := range ed.cur {
			if partOf(y) == pk && (bi < 0 || refCompare(spec, len(y), y, ed.cur[bi], false) < 0) {
				bi = i
			}
		}
		return bi
	}
	var steps []optest.Step
	var after [][][]types.Datum
	for e := range epochs {
		n := 5 + r.IntN(25)
		if e < 4 {
			n = 140
		}
		// Every third epoch drains one partition's top.
		drain := e >= 4 && e%3 == 0
		var victim []types.Datum
		if len(ed.cur) > 0 {
			victim = ed.cur[r.IntN(len(ed.cur))]
		}
		for ; n > 0; n-- {
			k := r.IntN(20)
			switch {
			case e < 4 || len(ed.cur) < 300 || len(ed.cur) == 0:
				k = 9
			case drain && k < 18:
				k = 0
			}
			switch {
			case k < 7: // retract the best row of a partition
				x := ed.cur[r.IntN(len(ed.cur))]
				if drain {
					x = victim
				}
				i := best(x)
				if i < 0 { // the victim's partition is empty
					victim = ed.cur[r.IntN(len(ed.cur))]
					i = best(victim)
				}
				ed.remove(i)
			case k < 9: // move it
				i := best(ed.cur[r.IntN(len(ed.cur))])
				x := slices.Clone(ed.cur[i])
				x[1] = bi(x[1].I + int64(r.IntN(61)) - 30)
				if r.IntN(5) == 0 {
					x[0] = bi(int64(r.IntN(2)))
				}
				ed.update(i, x)
			case k < 14:
				x := refillRow(r, fixed)
				ed.insert(x)
				if r.IntN(6) == 0 {
					ed.insert(x)
				}
			case k < 17:
				i := r.IntN(len(ed.cur))
				ed.remove(i)
			default:
				i := r.IntN(len(ed.cur))
				x := slices.Clone(ed.cur[i])
				x[1] = bi(x[1].I + int64(r.IntN(3)) - 1)
				ed.update(i, x)
			}
		}
		rows, ops := ed.take()
		steps = append(steps, optest.ChunkSteps(r, rows, ops, 40, true)...)
		steps = append(steps, optest.Step{Epoch: uint64(e + 1)})
		after = append(after, slices.Clone(ed.cur))
	}
	return steps, after
}

// smallHead makes op's sorted heads hold Offset+N+1 keys plus a slack of
// 2, so that partitions of a few rows already have a rest and the top is
// refilled often.
func smallHead(op *TopN) {
	op.headSlack = 2
	op.headKeep = int(op.spec.Offset+op.spec.N) + 1
}

// TestTopNDifferentialRefill checks the top against the reference over
// partitions larger than the sorted head whose top rows are retracted
// again and again, so that heads give rows to their rests and are
// refilled from them: with the default head and with a small one, for
// fixed-width keys (compressed in the rests) and variable-width ones.
func TestTopNDifferentialRefill(t *testing.T) {
	specs := []Spec{
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 1, Desc: true}}, N: 2},
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 3, NullsFirst: true}, {Col: 2, Desc: true}}, N: 3},
		{Order: []OrderKey{{Col: 2}, {Col: 1, Desc: true}}, N: 4, Offset: 2},
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 1}}, N: 5, Offset: 3},
		{PartitionCols: []int{0}, Order: []OrderKey{{Col: 3, Desc: true, NullsFirst: true}}, N: 3, Offset: 1},
		{PartitionCols: []int{0}, N: 2}, // no ORDER BY: all ties
	}
	for si, base := range specs {
		for _, kind := range []RankKind{RowNumber, Rank} {
			for _, emit := range []bool{false, true} {
				for _, fixed := range []bool{false, true} {
					for _, small := range []bool{false, true} {
						spec := base
						spec.Kind, spec.EmitRank = kind, emit
						name := fmt.Sprintf("spec%d/%s/rank=%v/fixed=%v/small=%v", si, kind, emit, fixed, small)
						t.Run(name, func(t *testing.T) {
							seed := uint64(si*1000 + int(kind)*100 + len(name))
							runRefill(t, spec, fixed, small, seed)
						})
					}
				}
			}
		}
	}
}

func runRefill(t *testing.T, spec Spec, fixed, small bool, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 43))
	cols := diffCols
	if fixed {
		cols = fixedCols
	}
	f := newFixture(t, cols, spec, 1)
	if small {
		smallHead(f.op)
	}
	steps, after := refillScript(r, spec, fixed, 40)
	folded := optest.Fold{}
	epoch := 0
	for _, s := range steps {
		if !s.IsBarrier() {
			if err := f.Step(s); err != nil {
				t.Fatalf("epoch %d: %v", epoch, err)
			}
			continue
		}
		f.Run(s)
		if err := folded.Apply(f.Out.LastEpoch(), nil); err != nil {
			t.Fatalf("epoch %d: %v", epoch, err)
		}
		want := referenceTop(spec, slices.Clone(after[epoch]))
		if fmt.Sprint(want) != fmt.Sprint(folded) {
			t.Fatalf("epoch %d: output\n got %v\nwant %v", epoch, folded, want)
		}
		var held int64
		for _, p := range f.op.parts {
			if p != nil {
				held += p.count()
				if p.rest != nil && p.rows.ent > 0 && p.rest.n > 0 {
					checkSplit(t, f.op, p)
				}
			}
		}
		if held != int64(len(after[epoch])) {
			t.Fatalf("epoch %d: %d rows held, want %d", epoch, held, len(after[epoch]))
		}
		epoch++
	}
	// The script must have made the heads give rows to their rests and
	// take them back (except where all rows tie under RANK: then they
	// are all in the top, and the default head keeps them all).
	allTie := spec.Kind == Rank && len(spec.Order) == 0 && !small
	if !allTie && (f.op.evictions == 0 || f.op.refills == 0) {
		t.Errorf("%d evictions and %d refills: the rests were not exercised", f.op.evictions, f.op.refills)
	}
}

// checkSplit checks every key of p's rest orders after every key of its
// head.
func checkSplit(t *testing.T, op *TopN, p *partition) {
	t.Helper()
	last := p.rows.last()
	for _, i := range p.rest.sorted(nil) {
		if k := p.rest.expand(nil, int(i)); compareKeys(k, last) <= 0 {
			t.Fatalf("rest key %x not after the head's last %x", k, last)
		}
	}
}
