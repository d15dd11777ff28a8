package agg

import (
	"errors"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

var kvCols = []types.Column{{Name: "k", Type: types.BigIntType}, {Name: "v", Type: types.BigIntType}}

func allIntSpecs() []Spec {
	b, d := types.BigIntType, types.DoubleType
	return []Spec{
		{Kind: CountStar, Result: b, Name: "n"},
		{Kind: Count, Arg: 1, ArgType: b, Result: b, Name: "cnt"},
		{Kind: Sum, Arg: 1, ArgType: b, Result: b, Name: "sum"},
		{Kind: Avg, Arg: 1, ArgType: b, Result: d, Name: "avg"},
		{Kind: Min, Arg: 1, ArgType: b, Result: b, Name: "min"},
		{Kind: Max, Arg: 1, ArgType: b, Result: b, Name: "max"},
		{Kind: CountDistinct, Arg: 1, ArgType: b, Result: b, Name: "dist"},
	}
}

func TestGroupAppearUpdateVanish(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		f := newFixture(t, kvCols, []int{0}, allIntSpecs(), false, batch)
		nb := null(types.BigIntType)
		f.Push(operators.Insert, row(bi(1), bi(10)), row(bi(1), bi(20)), row(bi(2), bi(5)), row(bi(1), bi(20)), row(bi(2), nb))
		f.Expect(
			"+ 1,3,3,50,16.666666666666668,10,20,2",
			"+ 2,2,1,5,5,5,5,1",
		)
		// Nothing touched: nothing emitted.
		f.Expect()
		// Delete the max of group 1 once (a duplicate remains), add group 3,
		// and touch group 2 without changing it (insert + delete).
		f.Push(operators.Delete, row(bi(1), bi(20)))
		f.Push(operators.Insert, row(bi(3), bi(7)), row(bi(2), bi(99)))
		f.Push(operators.Delete, row(bi(2), bi(99)))
		f.Expect(
			"1,3,3,50,16.666666666666668,10,20,2 -> 1,2,2,30,15,10,20,2",
			"+ 3,1,1,7,7,7,7,1",
		)
		// Delete the remaining max: MAX falls back to 10; group 2 vanishes.
		f.Push(operators.Delete, row(bi(1), bi(20)), row(bi(2), bi(5)), row(bi(2), nb))
		f.Expect(
			"1,2,2,30,15,10,20,2 -> 1,1,1,10,10,10,10,1",
			"- 2,2,1,5,5,5,5,1",
		)
		// Group 2 reappears with only a NULL value.
		f.Push(operators.Insert, row(bi(2), nb))
		f.Expect("+ 2,1,0,NULL,NULL,NULL,NULL,0")
		// A group inserted and deleted within one epoch emits nothing.
		f.Push(operators.Insert, row(bi(9), bi(1)))
		f.Push(operators.Delete, row(bi(9), bi(1)))
		f.Expect()
	})
}

func TestNullKeysGroupTogether(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		nb := null(types.BigIntType)
		f := newFixture(t, kvCols, []int{0}, allIntSpecs()[:3], false, batch)
		f.Push(operators.Insert, row(nb, bi(1)), row(bi(0), bi(2)), row(nb, bi(3)), row(nb, nb))
		f.Expect("+ NULL,3,2,4", "+ 0,1,1,2")
		f.Push(operators.Delete, row(nb, bi(1)), row(nb, bi(3)), row(nb, nb))
		f.Expect("- NULL,3,2,4")
		f.Push(operators.Insert, row(nb, bi(8)))
		f.Expect("+ NULL,1,1,8")
	})
}

// TestNullPairKeys checks that a two-integer key tells NULL from 0 in
// each column (the keys hash alike but for the NULL mask) and that such
// groups vanish and reappear cleanly.
func TestNullPairKeys(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		nb := null(types.BigIntType)
		cols := []types.Column{kvCols[0], {Name: "k2", Type: types.BigIntType}, {Name: "v", Type: types.BigIntType}}
		specs := []Spec{{Kind: CountStar, Result: types.BigIntType, Name: "n"}}
		f := newFixture(t, cols, []int{0, 1}, specs, false, batch)
		f.Push(operators.Insert, row(bi(0), bi(0), bi(1)), row(nb, bi(0), bi(1)), row(bi(0), nb, bi(1)),
			row(nb, nb, bi(1)), row(nb, bi(0), bi(1)), row(nb, nb, bi(1)), row(nb, nb, bi(1)))
		f.Expect("+ 0,0,1", "+ NULL,0,2", "+ 0,NULL,1", "+ NULL,NULL,3")
		f.Push(operators.Delete, row(nb, bi(0), bi(1)), row(nb, bi(0), bi(1)), row(bi(0), bi(0), bi(1)))
		f.Expect("- NULL,0,2", "- 0,0,1")
		f.Push(operators.Insert, row(bi(0), bi(0), bi(1)), row(nb, nb, bi(1)))
		f.Expect("+ 0,0,1", "NULL,NULL,3 -> NULL,NULL,4")
	})
}

func TestGlobalAggregate(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		f := newFixture(t, kvCols, nil, allIntSpecs(), false, batch)
		f.Expect("+ 0,0,NULL,NULL,NULL,NULL,0")
		f.Expect()
		f.Push(operators.Insert, row(bi(1), bi(4)), row(bi(2), bi(6)))
		f.Expect("0,0,NULL,NULL,NULL,NULL,0 -> 2,2,10,5,4,6,2")
		f.Push(operators.Delete, row(bi(1), bi(4)), row(bi(2), bi(6)))
		f.Expect("2,2,10,5,4,6,2 -> 0,0,NULL,NULL,NULL,NULL,0")
	})
	t.Run("firstBarrierAfterInput", func(t *testing.T) {
		f := newFixture(t, kvCols, nil, allIntSpecs()[:1], false, 3)
		f.Push(operators.Insert, row(bi(1), bi(4)))
		f.Expect("+ 1")
	})
}

func TestMinMaxAfterDeletingExtreme(t *testing.T) {
	cols := []types.Column{{Name: "k", Type: types.IntType}, {Name: "s", Type: types.TextType}, {Name: "d", Type: types.DoubleType}}
	specs := []Spec{
		{Kind: Min, Arg: 1, ArgType: types.TextType, Result: types.TextType, Name: "mins"},
		{Kind: Max, Arg: 1, ArgType: types.TextType, Result: types.TextType, Name: "maxs"},
		{Kind: Min, Arg: 2, ArgType: types.DoubleType, Result: types.DoubleType, Name: "mind"},
		{Kind: Max, Arg: 2, ArgType: types.DoubleType, Result: types.DoubleType, Name: "maxd"},
	}
	optest.ForBatches(t, func(t *testing.T, batch int) {
		f := newFixture(t, cols, []int{0}, specs, false, batch)
		var rows [][]types.Datum
		for i := 0; i < 600; i++ { // enough distinct values to split multiset blocks
			rows = append(rows, row(i32(1), txt(fmt.Sprintf("s%04d", i)), dbl(float64(i))))
		}
		f.Push(operators.Insert, rows...)
		f.Expect("+ 1,s0000,s0599,0,599")
		f.Push(operators.Delete, rows[0], rows[599])
		f.Expect("1,s0000,s0599,0,599 -> 1,s0001,s0598,1,598")
		f.Push(operators.Delete, rows[1:300]...)
		f.Push(operators.Delete, rows[301:599]...)
		f.Expect("1,s0001,s0598,1,598 -> 1,s0300,s0300,300,300")
		f.Push(operators.Insert, row(i32(1), txt("a"), dbl(-1)))
		f.Expect("1,s0300,s0300,300,300 -> 1,a,s0300,-1,300")
		// Removing a value that is not there is an error, not a panic.
		err := f.Feed([][]types.Datum{row(i32(1), txt("zz"), dbl(5))}, []operators.Op{operators.Delete}, 1)
		var se *sqlerr.Error
		if !errors.As(err, &se) || se.Code != sqlerr.InternalError {
			t.Fatalf("deleting an absent value: %v", err)
		}
	})
}

func TestCountDistinctRetraction(t *testing.T) {
	cols := []types.Column{{Name: "k", Type: types.BigIntType}, {Name: "s", Type: types.TextType}, {Name: "d", Type: types.DoubleType}}
	specs := []Spec{
		{Kind: CountDistinct, Arg: 1, ArgType: types.TextType, Result: types.BigIntType, Name: "ds"},
		{Kind: CountDistinct, Arg: 2, ArgType: types.DoubleType, Result: types.BigIntType, Name: "dd"},
	}
	optest.ForBatches(t, func(t *testing.T, batch int) {
		f := newFixture(t, cols, []int{0}, specs, false, batch)
		nt := null(types.TextType)
		f.Push(operators.Insert, row(bi(1), txt("a"), dbl(0)), row(bi(1), txt("a"), dbl(-0.0*1)), row(bi(1), txt("b"), dbl(1)), row(bi(1), nt, dbl(2)))
		f.Expect("+ 1,2,3")
		f.Push(operators.Delete, row(bi(1), txt("a"), dbl(0)))
		f.Expect() // "a" and 0 are still there once: unchanged
		f.Push(operators.Delete, row(bi(1), txt("a"), dbl(0)))
		f.Expect("1,2,3 -> 1,1,2")
		f.Push(operators.Insert, row(bi(1), txt("a"), dbl(0)))
		f.Expect("1,1,2 -> 1,2,3")
	})
}

func TestMultiColumnKeys(t *testing.T) {
	dec := types.DecimalType(10, 2)
	ts := types.TimestampType(6)
	cols := []types.Column{
		{Name: "s", Type: types.TextType}, {Name: "ts", Type: ts}, {Name: "p", Type: dec},
		{Name: "dt", Type: types.DateType}, {Name: "b", Type: types.BoolType}, {Name: "x", Type: dec},
	}
	specs := []Spec{
		{Kind: CountStar, Result: types.BigIntType, Name: "n"},
		{Kind: Sum, Arg: 5, ArgType: dec, Result: types.DecimalType(38, 2), Name: "sx"},
		{Kind: Avg, Arg: 5, ArgType: dec, Result: types.DecimalType(38, 6), Name: "ax"},
		{Kind: Min, Arg: 5, ArgType: dec, Result: dec, Name: "mx"},
	}
	d := func(v int64) types.Datum { return types.NewDecimal(decimal128.FromI64(v), 2) }
	optest.ForBatches(t, func(t *testing.T, batch int) {
		f := newFixture(t, cols, []int{0, 1, 2, 3, 4}, specs, false, batch)
		k1 := row(txt("a"), types.NewTimestamp(1_000_000), d(150), types.NewDate(3), types.NewBool(true))
		k2 := row(txt(""), null(ts), null(dec), types.NewDate(3), null(types.BoolType))
		with := func(k []types.Datum, x types.Datum) []types.Datum { return append(append([]types.Datum{}, k...), x) }
		f.Push(operators.Insert, with(k1, d(100)), with(k1, d(201)), with(k2, d(-5)), with(k1, d(100)))
		f.Expect(
			"+ ,NULL,NULL,1970-01-04,NULL,1,-0.05,-0.050000,-0.05",
			"+ a,1970-01-01 00:00:01,1.50,1970-01-04,t,3,4.01,1.336667,1.00",
		)
		f.Push(operators.Delete, with(k2, d(-5)), with(k1, d(100)))
		f.Expect(
			"- ,NULL,NULL,1970-01-04,NULL,1,-0.05,-0.050000,-0.05",
			"a,1970-01-01 00:00:01,1.50,1970-01-04,t,3,4.01,1.336667,1.00 -> a,1970-01-01 00:00:01,1.50,1970-01-04,t,2,3.01,1.505000,1.00",
		)
	})
}

func TestDoubleSumAndKeys(t *testing.T) {
	cols := []types.Column{{Name: "k", Type: types.DoubleType}, {Name: "v", Type: types.DoubleType}, {Name: "i", Type: types.IntType}}
	specs := []Spec{
		{Kind: Sum, Arg: 1, ArgType: types.DoubleType, Result: types.DoubleType, Name: "s"},
		{Kind: Avg, Arg: 1, ArgType: types.DoubleType, Result: types.DoubleType, Name: "a"},
		{Kind: Sum, Arg: 2, ArgType: types.IntType, Result: types.BigIntType, Name: "si"},
		{Kind: Max, Arg: 2, ArgType: types.IntType, Result: types.IntType, Name: "mi"},
	}
	optest.ForBatches(t, func(t *testing.T, batch int) {
		f := newFixture(t, cols, []int{0}, specs, false, batch)
		f.Push(operators.Insert, row(dbl(0), dbl(1.5), i32(2)), row(dbl(-0.0*1), dbl(2.5), i32(2147483647)), row(dbl(0.5), null(types.DoubleType), null(types.IntType)))
		f.Expect("+ 0,4,2,2147483649,2147483647", "+ 0.5,NULL,NULL,NULL,NULL")
	})
}

func TestSumOverflow(t *testing.T) {
	f := newFixture(t, kvCols, []int{0}, allIntSpecs()[2:3], false, 1024)
	err := f.Feed([][]types.Datum{row(bi(1), bi(1<<62)), row(bi(1), bi(1<<62))}, nil, 1024)
	if sqlerr.Code(err) != sqlerr.NumericOutOfRange {
		t.Fatalf("overflow: got %v, want code 22003", err)
	}
}

func TestDeleteNeverInserted(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		f := newFixture(t, kvCols, []int{0}, allIntSpecs(), false, batch)
		err := f.Feed([][]types.Datum{row(bi(5), bi(1))}, []operators.Op{operators.Delete}, batch)
		var se *sqlerr.Error
		if !errors.As(err, &se) || se.Code != sqlerr.InternalError {
			t.Fatalf("got %v, want an internal *sqlerr.Error", err)
		}
	})
}

func TestAppendOnlyRejectsRetraction(t *testing.T) {
	f := newFixture(t, kvCols, []int{0}, allIntSpecs(), true, 3)
	f.Push(operators.Insert, row(bi(1), bi(3)), row(bi(1), bi(1)), row(bi(1), bi(3)), row(bi(2), bi(2)))
	f.Expect("+ 1,3,3,7,2.3333333333333335,1,3,2", "+ 2,1,1,2,2,2,2,1")
	// UpdateAfter-only chunks are additions and fine.
	if err := f.Feed([][]types.Datum{row(bi(2), bi(9))}, []operators.Op{operators.UpdateAfter}, 1); err != nil {
		t.Fatal(err)
	}
	f.Expect("2,1,1,2,2,2,2,1 -> 2,2,2,11,5.5,2,9,2")
	err := f.Feed([][]types.Datum{row(bi(2), bi(9))}, []operators.Op{operators.Delete}, 1)
	if sqlerr.Code(err) != sqlerr.InternalError || err == nil {
		t.Fatalf("retraction into append-only: %v", err)
	}
}

func TestWatermarkRemap(t *testing.T) {
	cols := []types.Column{{Name: "a", Type: types.BigIntType}, {Name: "ts", Type: types.TimestampType(6)}}
	f := newFixture(t, cols, []int{1}, allIntSpecs()[:1], false, 1)
	for _, wm := range []operators.Watermark{{Column: 1, Time: 7}, {Column: 0, Time: 8}} {
		if err := f.h.Push(wm); err != nil {
			t.Fatal(err)
		}
	}
	// Watermarks are held until the barrier's rows are out.
	if len(f.Out.Watermarks) != 0 {
		t.Fatalf("watermarks %v before the barrier", f.Out.Watermarks)
	}
	f.Expect()
	if len(f.Out.Watermarks) != 1 || f.Out.Watermarks[0] != (operators.Watermark{Column: 0, Time: 7}) {
		t.Fatalf("watermarks %v, want [{0 7}]", f.Out.Watermarks)
	}
}

func TestLargeEpochChunking(t *testing.T) {
	f := newFixture(t, kvCols, []int{0}, allIntSpecs()[:3], false, 1024)
	const n = 10000
	var rows [][]types.Datum
	for i := 0; i < n; i++ {
		rows = append(rows, row(bi(int64(i)), bi(int64(i))))
	}
	f.Push(operators.Insert, rows...)
	if got := len(f.Barrier()); got != n {
		t.Fatalf("%d inserts, want %d", got, n)
	}
	f.Push(operators.Insert, rows...) // every group updated: 2n rows
	out := f.Barrier()
	if len(out) != n {
		t.Fatalf("%d updates, want %d", len(out), n)
	}
	if f.Out.MaxChunk > MaxChunkRows || f.Out.Chunks < 2+(2*n)/MaxChunkRows {
		t.Fatalf("chunks %d, largest %d", f.Out.Chunks, f.Out.MaxChunk)
	}
	// All groups vanish, then come back (reusing freed ids).
	ops := make([]operators.Op, 2*n)
	for i := range ops {
		ops[i] = operators.Delete
	}
	if err := f.Feed(append(rows, rows...), ops, 1024); err != nil {
		t.Fatal(err)
	}
	if out := f.Barrier(); len(out) != n || out[0][0] != '-' {
		t.Fatalf("vanish: %d rows, first %q", len(out), out[0])
	}
	f.Push(operators.Insert, rows[:5]...)
	f.Expect("+ 0,1,1,0", "+ 1,1,1,1", "+ 2,1,1,2", "+ 3,1,1,3", "+ 4,1,1,4")
	if f.h.numGroups != n {
		t.Fatalf("numGroups %d: freed ids not reused", f.h.numGroups)
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	mem := newFixture(t, kvCols, nil, nil, false, 1).Mem
	schema := types.Schema(kvCols).Arrow()
	in := []types.T{types.BigIntType, types.BigIntType}
	out := operators.OutputFunc(func(operators.Message) error { return nil })
	bad := [][]Spec{
		{{Kind: Sum, Arg: 1, ArgType: types.BigIntType, Result: types.DoubleType}},
		{{Kind: Min, Arg: 5, ArgType: types.BigIntType, Result: types.BigIntType}},
		{{Kind: Avg, Arg: 1, ArgType: types.TextType, Result: types.DoubleType}},
		{{Kind: Count, Arg: 1, ArgType: types.BigIntType, Result: types.IntType}},
	}
	for i, specs := range bad {
		if _, err := New(mem, schema, in, []int{0}, specs, false, out); err == nil {
			t.Errorf("case %d: New accepted %+v", i, specs)
		}
	}
	if _, err := New(mem, schema, in, []int{7}, nil, false, out); err == nil {
		t.Errorf("New accepted an out-of-range group column")
	}
}

// TestPushDoesNotAllocate checks the steady-state hot path (existing
// groups, within an epoch) makes no allocation per chunk.
func TestPushDoesNotAllocate(t *testing.T) {
	cases := []struct {
		name      string
		cols      []types.Column
		groupCols []int
	}{
		{"intKey", kvCols, []int{0}},
		{"bytesKey", []types.Column{{Name: "k", Type: types.TextType}, {Name: "v", Type: types.BigIntType}}, []int{0}},
		{"global", kvCols, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			specs := allIntSpecs()[:4]
			f := newFixture(t, tc.cols, tc.groupCols, specs, false, 1024)
			var rows [][]types.Datum
			var ops []operators.Op
			for i := 0; i < 1000; i++ {
				k := bi(int64(i % 50))
				if tc.cols[0].Type.Kind == types.Varchar {
					k = txt(fmt.Sprint(i % 50))
				}
				rows = append(rows, row(k, bi(int64(i))))
				ops = append(ops, operators.Insert)
			}
			rec := optest.BuildRecord(f.Mem, f.h.in, rows)
			defer rec.Release()
			ins := &operators.Chunk{Rec: rec}
			mixed := &operators.Chunk{Rec: rec, Ops: ops}
			// Warm up: groups exist, are dirty, scratch buffers are sized.
			for range 3 {
				if err := f.h.Push(ins); err != nil {
					t.Fatal(err)
				}
			}
			for name, c := range map[string]*operators.Chunk{"appendOnly": ins, "withOps": mixed} {
				if n := testing.AllocsPerRun(20, func() {
					if err := f.h.Push(c); err != nil {
						t.Fatal(err)
					}
				}); n != 0 {
					t.Errorf("%s: %v allocations per Push", name, n)
				}
			}
		})
	}
}

// TestPairKeysWiden pushes more pair groups than the table's initial
// group-id bits hold, so its entries are retagged while groups exist, then
// checks that every key still finds its group, retracted groups leave the
// table and come back to their reused ids.
func TestPairKeysWiden(t *testing.T) {
	const groups = 70000
	mem := optest.CheckedMem(t)
	cols := []types.Column{kvCols[0], {Name: "k2", Type: types.BigIntType}}
	schema := types.Schema(cols).Arrow()
	specs := []Spec{{Kind: CountStar, Result: types.BigIntType, Name: "n"}}
	c := &optest.Collector{T: t, Types: outTypes(optest.ColumnTypes(cols), []int{0, 1}, specs), MaxChunkRows: MaxChunkRows}
	h, err := NewWithOptions(mem, schema, optest.ColumnTypes(cols), []int{0, 1}, specs, false, Options{WatermarkGroupCol: -1}, c)
	if err != nil {
		t.Fatal(err)
	}
	c.Schema = h.Schema()
	optest.CloseAtEnd(t, h, nil)
	push := func(lo, step int, op operators.Op) {
		t.Helper()
		var ks, vs []int64
		for i := lo; i < groups; i += step {
			ks, vs = append(ks, int64(i%251)*1e12), append(vs, int64(i))
		}
		for s := 0; s < len(ks); s += 4096 {
			e := min(s+4096, len(ks))
			rec := int64Rec(mem, schema, ks[s:e], vs[s:e])
			ops := make([]operators.Op, e-s)
			for i := range ops {
				ops[i] = op
			}
			err := h.Push(&operators.Chunk{Rec: rec, Ops: ops})
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	epoch := uint64(0)
	barrier := func() {
		t.Helper()
		epoch++
		if err := h.Push(operators.Barrier{Epoch: epoch}); err != nil {
			t.Fatal(err)
		}
	}
	push(0, 1, operators.Insert)
	barrier()
	push(0, 1, operators.Insert)
	barrier()
	if h.numGroups != groups || h.ptable.n != groups || h.ptable.gbits < 17 {
		t.Fatalf("groups %d, table entries %d, gid bits %d; want %d, %d, >= 17", h.numGroups, h.ptable.n, h.ptable.gbits, groups, groups)
	}
	for g, n := range h.rowCount {
		if n != 2 {
			t.Fatalf("group %d counts %d rows, want 2", g, n)
		}
	}
	push(0, 2, operators.Delete)
	push(0, 2, operators.Delete)
	barrier()
	if h.ptable.n != groups/2 {
		t.Fatalf("table entries %d after retracting half, want %d", h.ptable.n, groups/2)
	}
	push(0, 2, operators.Insert)
	push(0, 1, operators.Insert)
	barrier()
	if h.numGroups != groups || h.ptable.n != groups {
		t.Fatalf("groups %d, table entries %d; want %d", h.numGroups, h.ptable.n, groups)
	}
	for g, n := range h.rowCount {
		want := int64(2)
		if h.pkeys.kv[g].b%2 != 0 {
			want = 3
		}
		if n != want {
			t.Fatalf("group %d (key %v) counts %d rows, want %d", g, h.pkeys.kv[g], n, want)
		}
	}
}
