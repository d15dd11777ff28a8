package topn

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

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
		parts[rowString(k)] = append(parts[rowString(k)], r)
	}
	out := map[string]int{}
	for _, pr := range parts {
		slices.SortFunc(pr, func(x, y []types.Datum) int { return refCompare(spec, len(diffCols), x, y, false) })
		var rank int64
		for i, r := range pr {
			pos := int64(i + 1)
			if spec.Kind == RowNumber || i == 0 || refCompare(spec, len(diffCols), pr[i-1], r, true) != 0 {
				rank = pos
			}
			if rank <= spec.Offset || rank > spec.Offset+spec.N {
				continue
			}
			vals := slices.Clone(r)
			if spec.EmitRank {
				vals = append(vals, bi(rank))
			}
			out[rowString(vals)]++
		}
	}
	return out
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
	var cur [][]types.Datum
	folded := map[string]int{}
	for epoch := 0; epoch < 60; epoch++ {
		var rows [][]types.Datum
		var ops []operators.Op
		for n := r.IntN(12); n > 0; n-- {
			switch k := r.IntN(10); {
			case k < 5 || len(cur) == 0:
				x := randRow(r)
				rows, ops = append(rows, x), append(ops, operators.Insert)
				cur = append(cur, x)
			case k < 8:
				i := r.IntN(len(cur))
				rows, ops = append(rows, cur[i]), append(ops, operators.Delete)
				cur = slices.Delete(cur, i, i+1)
			default:
				i := r.IntN(len(cur))
				x := slices.Clone(cur[i])
				x[1] = bi(x[1].I + int64(r.IntN(3)) - 1)
				rows, ops = append(rows, cur[i], x), append(ops, operators.UpdateBefore, operators.UpdateAfter)
				cur[i] = x
			}
		}
		if err := feed(f.mem, f.op, f.in, rows, ops, batch); err != nil {
			t.Fatalf("epoch %d: %v", epoch, err)
		}
		f.epoch++
		if err := f.op.Push(operators.Barrier{Epoch: f.epoch}); err != nil {
			t.Fatal(err)
		}
		for _, o := range f.c.epochs[len(f.c.epochs)-1] {
			k := rowString(o.vals)
			folded[k] += int(o.op.Sign())
			if folded[k] < 0 {
				t.Fatalf("epoch %d: retraction of %s, not in the output", epoch, k)
			}
			if folded[k] == 0 {
				delete(folded, k)
			}
		}
		want := referenceTop(spec, slices.Clone(cur))
		if fmt.Sprint(want) != fmt.Sprint(folded) {
			t.Fatalf("epoch %d: output\n got %v\nwant %v", epoch, folded, want)
		}
	}
	if spec.N > 0 && len(cur) > 0 && f.op.StateBytes() <= 0 {
		t.Error("StateBytes is zero with rows held")
	}
}

// TestTopNNoChangeNoEmit checks a barrier after changes that cancel out
// emits nothing.
func TestTopNNoChangeNoEmit(t *testing.T) {
	f := newFixture(t, cooc, similar(2, true), 3)
	f.push(operators.Insert, row(bi(1), bi(2), bi(3)))
	f.barrier()
	f.push(operators.Insert, row(bi(1), bi(5), bi(9)))
	f.push(operators.Delete, row(bi(1), bi(5), bi(9)))
	f.expect()
}
