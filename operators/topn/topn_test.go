package topn

import (
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// cooc is (item, other, n), the co-occurrence count view.
var cooc = []types.Column{{Name: "item", Type: tBig}, {Name: "other", Type: tBig}, {Name: "n", Type: tBig}}

// similar is ROW_NUMBER() OVER (PARTITION BY item ORDER BY n DESC, other) <= n.
func similar(n int64, emitRank bool) Spec {
	return Spec{PartitionCols: []int{0}, Order: []OrderKey{{Col: 2, Desc: true}, {Col: 1}}, N: n, EmitRank: emitRank}
}

func TestTopNBasicAndBoundary(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		f := newFixture(t, cooc, similar(2, false), batch)
		f.Push(operators.Insert, row(bi(1), bi(10), bi(5)), row(bi(1), bi(11), bi(7)), row(bi(1), bi(12), bi(6)),
			row(bi(2), bi(10), bi(1)))
		f.Expect("+ 1,11,7", "+ 1,12,6", "+ 2,10,1")
		// A row below the top changes and stays below: nothing.
		f.update(row(bi(1), bi(10), bi(5)), row(bi(1), bi(10), bi(4)))
		f.Expect()
		// It climbs over the boundary: 12 leaves, 10 enters.
		f.update(row(bi(1), bi(10), bi(4)), row(bi(1), bi(10), bi(8)))
		f.Expect("+ 1,10,8", "- 1,12,6")
		// Deleting the top row brings the third in.
		f.Push(operators.Delete, row(bi(1), bi(10), bi(8)))
		f.Expect("- 1,10,8", "+ 1,12,6")
		// An update inside the top is a delete and an insert without rank.
		f.update(row(bi(1), bi(11), bi(7)), row(bi(1), bi(11), bi(9)))
		f.Expect("+ 1,11,9", "- 1,11,7")
		// The last row of a partition goes.
		f.Push(operators.Delete, row(bi(2), bi(10), bi(1)))
		f.Expect("- 2,10,1")
		if got := f.op.Partitions(); got != 1 {
			t.Errorf("partitions = %d, want 1", got)
		}
		f.Expect() // barrier without changes
	})
}

func TestTopNTiesRowNumberVsRank(t *testing.T) {
	rows := [][]types.Datum{
		row(bi(1), bi(13), bi(5)), row(bi(1), bi(11), bi(5)), row(bi(1), bi(12), bi(5)), row(bi(1), bi(14), bi(3)),
	}
	// ORDER BY n DESC only: ties among n=5 are broken by other (the
	// remaining column), so ROW_NUMBER <= 2 is 11 and 12.
	spec := Spec{PartitionCols: []int{0}, Order: []OrderKey{{Col: 2, Desc: true}}, N: 2, EmitRank: true}
	optest.ForBatches(t, func(t *testing.T, batch int) {
		f := newFixture(t, cooc, spec, batch)
		f.Push(operators.Insert, rows...)
		f.Expect("+ 1,11,5,1", "+ 1,12,5,2")
		rk := spec
		rk.Kind = Rank
		g := newFixture(t, cooc, rk, batch)
		g.Push(operators.Insert, rows...)
		g.Expect("+ 1,11,5,1", "+ 1,12,5,1", "+ 1,13,5,1")
		// One of the ties leaves: the 3 enters only at rank 3 > 2.
		g.Push(operators.Delete, row(bi(1), bi(13), bi(5)))
		g.Expect("- 1,13,5,1")
		g.Push(operators.Delete, row(bi(1), bi(12), bi(5)))
		g.Expect("- 1,12,5,1", "+ 1,14,3,2")
		// A new top row shifts the others' ranks: update pairs.
		g.Push(operators.Insert, row(bi(1), bi(15), bi(9)))
		g.Expect("+ 1,15,9,1", "1,11,5,1 -> 1,11,5,2", "- 1,14,3,2")
	})
}

func TestTopNRankShiftWithAndWithoutRank(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		for _, emit := range []bool{false, true} {
			f := newFixture(t, cooc, similar(3, emit), batch)
			f.Push(operators.Insert, row(bi(1), bi(1), bi(10)), row(bi(1), bi(2), bi(9)), row(bi(1), bi(3), bi(8)))
			f.Barrier()
			f.Push(operators.Insert, row(bi(1), bi(4), bi(11)))
			if emit {
				f.Expect("+ 1,4,11,1", "1,1,10,1 -> 1,1,10,2", "1,2,9,2 -> 1,2,9,3", "- 1,3,8,3")
			} else {
				// Without the rank a shift is one change, not N.
				f.Expect("+ 1,4,11", "- 1,3,8")
			}
		}
	})
}

func TestTopNNullsAndDirections(t *testing.T) {
	cols := []types.Column{{Name: "k", Type: tTxt}, {Name: "v", Type: tDbl}}
	rows := [][]types.Datum{row(txt("a"), dbl(1)), row(txt("b"), null(tDbl)), row(txt("c"), dbl(-2.5)), row(txt("d"), dbl(3))}
	cases := []struct {
		key  OrderKey
		want []string
	}{
		{OrderKey{Col: 1}, []string{"+ c,-2.5", "+ a,1"}},
		{OrderKey{Col: 1, NullsFirst: true}, []string{"+ b,NULL", "+ c,-2.5"}},
		{OrderKey{Col: 1, Desc: true}, []string{"+ d,3", "+ a,1"}},
		{OrderKey{Col: 1, Desc: true, NullsFirst: true}, []string{"+ b,NULL", "+ d,3"}},
	}
	optest.ForBatches(t, func(t *testing.T, batch int) {
		for _, c := range cases {
			f := newFixture(t, cols, Spec{Order: []OrderKey{c.key}, N: 2}, batch)
			f.Push(operators.Insert, rows...)
			f.Expect(c.want...)
		}
		// NULL partitions group together; strings with a NUL byte order
		// after their prefix.
		f := newFixture(t, cols, Spec{PartitionCols: []int{1}, Order: []OrderKey{{Col: 0, Desc: true}}, N: 1}, batch)
		f.Push(operators.Insert, row(txt("x"), null(tDbl)), row(txt("x\x00"), null(tDbl)), row(txt("y"), dbl(1)))
		f.Expect("+ x\x00,NULL", "+ y,1")
	})
}

func TestTopNDuplicatesAndOffset(t *testing.T) {
	cols := []types.Column{{Name: "v", Type: tBig}}
	optest.ForBatches(t, func(t *testing.T, batch int) {
		// ORDER BY v LIMIT 2 OFFSET 1 over a multiset.
		f := newFixture(t, cols, Spec{Order: []OrderKey{{Col: 0}}, N: 2, Offset: 1}, batch)
		f.Push(operators.Insert, row(bi(5)), row(bi(5)), row(bi(5)), row(bi(7)))
		f.Expect("+ 5", "+ 5")
		f.Push(operators.Delete, row(bi(5)))
		f.Expect("- 5", "+ 7")
		f.Push(operators.Insert, row(bi(1)))
		f.Expect("- 7", "+ 5")
		// N = 1 with rank: duplicates occupy distinct row numbers.
		g := newFixture(t, cols, Spec{Order: []OrderKey{{Col: 0}}, N: 1, EmitRank: true, RankName: "rn"}, batch)
		g.Push(operators.Insert, row(bi(4)), row(bi(4)))
		g.Expect("+ 4,1")
		g.Push(operators.Delete, row(bi(4)))
		g.Expect()
		g.Push(operators.Delete, row(bi(4)))
		g.Expect("- 4,1")
	})
}

func TestTopNPassThroughAndErrors(t *testing.T) {
	f := newFixture(t, cooc, similar(1, false), 1024)
	if err := f.op.Push(operators.Watermark{Column: 2, Time: 7}); err != nil {
		t.Fatal(err)
	}
	if len(f.Out.Watermarks) != 1 || f.Out.Watermarks[0].Column != 2 {
		t.Errorf("watermark not passed through: %v", f.Out.Watermarks)
	}
	err := f.Feed([][]types.Datum{row(bi(1), bi(1), bi(1))}, []operators.Op{operators.Delete}, 1)
	if err == nil {
		t.Error("retraction of an absent row: no error")
	}
	if _, err := New(f.Mem, f.InSchema, []types.T{tBig, tBig, tBig}, Spec{Order: []OrderKey{{Col: 3}}, N: 1}, f.Out); err == nil {
		t.Error("order column out of range: no error")
	}
	if _, err := New(f.Mem, f.InSchema, []types.T{tBig, tBig, tTxt}, Spec{Order: []OrderKey{{Col: 2}}, N: 1}, f.Out); err == nil {
		t.Error("type mismatch: no error")
	}
}

func TestTopNManyRowsSplitsBlocks(t *testing.T) {
	// One partition large enough to split and merge blocks: insert 5000
	// distinct rows, delete them from the top, checking the top each time.
	cols := []types.Column{{Name: "v", Type: tBig}, {Name: "s", Type: tTxt}}
	f := newFixture(t, cols, Spec{Order: []OrderKey{{Col: 0, Desc: true}}, N: 3}, 1024)
	var rows [][]types.Datum
	for i := 0; i < 5000; i++ {
		v := int64((i * 7919) % 5000)
		rows = append(rows, row(bi(v), txt("row-with-a-longer-string")))
	}
	f.Push(operators.Insert, rows...)
	f.Expect("+ 4999,row-with-a-longer-string", "+ 4998,row-with-a-longer-string", "+ 4997,row-with-a-longer-string")
	var del [][]types.Datum
	for v := int64(4999); v >= 100; v-- {
		del = append(del, row(bi(v), txt("row-with-a-longer-string")))
	}
	f.Push(operators.Delete, del...)
	f.Expect("- 4999,row-with-a-longer-string", "- 4998,row-with-a-longer-string", "- 4997,row-with-a-longer-string",
		"+ 99,row-with-a-longer-string", "+ 98,row-with-a-longer-string", "+ 97,row-with-a-longer-string")
	p := f.op.parts[0]
	if len(p.rows.blocks) > 10 {
		t.Errorf("%d blocks for 100 rows: blocks did not merge", len(p.rows.blocks))
	}
}
