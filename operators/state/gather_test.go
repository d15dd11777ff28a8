package state

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/types"
)

// TestColumnsGather gathers random runs of slots (NoSlot among them) and of
// bound rows (the record sometimes sliced, sometimes with all-NULL
// columns) of every type, through the bulk gathers, and checks each value
// against Datum and DatumAt, and that an array without NULLs has no
// validity bitmap.
func TestColumnsGather(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(9, 9))
	ts := make([]types.T, len(allTypes))
	for i, c := range allTypes {
		ts[i] = c.Type
	}
	schema := allTypes.Arrow()
	c, err := NewColumns(ts)
	if err != nil {
		t.Fatal(err)
	}
	var live []uint32
	for round := 0; round < 40; round++ {
		nullP := []float64{0, 0, 0.2, 1}[r.IntN(4)]
		n := 1 + r.IntN(60)
		rows := make([][]types.Datum, n)
		for i := range rows {
			rows[i] = randRow(r, allTypes, nullP, 40)
		}
		ch := mkChunk(t, mem, allTypes, rows, nil)
		rec := ch.Rec
		if n > 4 && r.IntN(2) == 0 {
			lo, hi := 1+r.IntN(n/2), n-r.IntN(n/2)
			rec = ch.Rec.NewSlice(int64(lo), int64(hi))
			ch.Rec.Release()
			rows = rows[lo:hi]
		}
		if err := c.Bind(rec); err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			if r.IntN(3) > 0 {
				live = append(live, c.Add(i))
			}
		}
		for k := r.IntN(10); k > 0 && len(live) > 0; k-- {
			x := r.IntN(len(live))
			c.Remove(live[x])
			live[x] = live[len(live)-1]
			live = live[:len(live)-1]
		}
		// Slots: live ones, repeated, and NoSlot now and then.
		var slots []uint32
		for k := r.IntN(80); k > 0 && len(live) > 0; k-- {
			if nullP == 0 && round%3 == 0 || r.IntN(8) > 0 {
				slots = append(slots, live[r.IntN(len(live))])
			} else {
				slots = append(slots, NoSlot)
			}
		}
		want := func(col int, s uint32) string {
			if s == NoSlot {
				return types.NewNull(ts[col]).String()
			}
			return c.Datum(s, col).String()
		}
		got, err := c.GatherSlots(mem, schema, 0, slots, nil)
		if err != nil {
			t.Fatal(err)
		}
		checkGathered(t, fmt.Sprintf("round %d: GatherSlots", round), got, ts, len(slots), func(col, i int) string { return want(col, slots[i]) })

		// Rows of the bound record, in any order, repeated.
		sel := make([]int32, r.IntN(2*len(rows)+1))
		for i := range sel {
			sel[i] = int32(r.IntN(len(rows)))
		}
		wantRow := func(col, i int) string { return types.DatumAt(rec.Column(col), int(sel[i]), ts[col]).String() }
		got, err = c.GatherRows(mem, schema, 0, sel, got)
		if err != nil {
			t.Fatal(err)
		}
		checkGathered(t, fmt.Sprintf("round %d: GatherRows", round), got[len(ts):], ts, len(sel), wantRow)
		for _, a := range got {
			a.Release()
		}
		for col := range ts {
			a, err := c.GatherRowsColumn(mem, schema.Field(col).Type, col, sel)
			if err != nil {
				t.Fatal(err)
			}
			checkGathered(t, fmt.Sprintf("round %d: GatherRowsColumn %d", round, col), []arrow.Array{a}, ts[col:col+1], len(sel), func(_, i int) string { return wantRow(col, i) })
			a.Release()
			a, err = c.GatherSlotsColumn(mem, schema.Field(col).Type, col, slots)
			if err != nil {
				t.Fatal(err)
			}
			checkGathered(t, fmt.Sprintf("round %d: GatherSlotsColumn %d", round, col), []arrow.Array{a}, ts[col:col+1], len(slots), func(_, i int) string { return want(col, slots[i]) })
			a.Release()
		}
		c.Unbind()
		rec.Release()
	}
	// A column cannot fill an array of another type.
	if _, err := c.GatherSlots(mem, arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.BinaryTypes.String}}, nil), 0, nil, nil); err == nil {
		t.Fatal("a BIGINT column filled a VARCHAR array")
	}
}

// checkGathered compares arrays (of types ts, n rows each) with want.
func checkGathered(t *testing.T, what string, arrs []arrow.Array, ts []types.T, n int, want func(col, i int) string) {
	t.Helper()
	if len(arrs) < len(ts) {
		t.Fatalf("%s: %d arrays, want %d", what, len(arrs), len(ts))
	}
	for col, typ := range ts {
		a := arrs[col]
		if a.Len() != n {
			t.Fatalf("%s: column %d has %d rows, want %d", what, col, a.Len(), n)
		}
		nulls := 0
		for i := 0; i < n; i++ {
			got := types.DatumAt(a, i, typ)
			if got.Null {
				nulls++
			}
			if w := want(col, i); got.String() != w {
				t.Fatalf("%s: column %d row %d is %s, want %s", what, col, i, got, w)
			}
		}
		if a.NullN() != nulls {
			t.Fatalf("%s: column %d counts %d NULLs, has %d", what, col, a.NullN(), nulls)
		}
	}
}

// TestGatherNoNullsNoBitmap checks a gathered array without NULLs carries
// no validity bitmap, and one with NULLs does.
func TestGatherNoNullsNoBitmap(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ts := []types.T{types.BigIntType, types.TextType}
	sch := types.Schema{{Name: "a", Type: ts[0]}, {Name: "b", Type: ts[1]}}
	c, err := NewColumns(ts)
	if err != nil {
		t.Fatal(err)
	}
	ch := mkChunk(t, mem, sch, [][]types.Datum{{types.NewBigInt(1), types.NewText("x")}, {types.NewBigInt(2), types.NewText("yz")}}, nil)
	defer ch.Rec.Release()
	if err := c.Bind(ch.Rec); err != nil {
		t.Fatal(err)
	}
	defer c.Unbind()
	s0, s1 := c.Add(0), c.Add(1)
	for _, tc := range []struct {
		slots []uint32
		nulls int
	}{{[]uint32{s1, s0, s1}, 0}, {[]uint32{s1, NoSlot}, 1}} {
		arrs, err := c.GatherSlots(mem, sch.Arrow(), 0, tc.slots, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, a := range arrs {
			hasBitmap := a.Data().Buffers()[0] != nil
			if a.NullN() != tc.nulls || hasBitmap != (tc.nulls > 0) {
				t.Fatalf("slots %v column %d: %d NULLs, bitmap %v", tc.slots, k, a.NullN(), hasBitmap)
			}
			a.Release()
		}
	}
}

// TestBatchLen checks BatchLen cuts slots where the text of the stored
// VARCHAR columns (an omitted one aside) would pass the limit, keeps at
// least one row, and skips NoSlot.
func TestBatchLen(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sch := types.Schema{{Name: "a", Type: types.TextType}, {Name: "n", Type: types.BigIntType}, {Name: "b", Type: types.TextType}, {Name: "c", Type: types.TextType}}
	ts := []types.T{sch[0].Type, sch[1].Type, sch[2].Type, sch[3].Type}
	c, err := NewColumns(ts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Omit(3); err != nil {
		t.Fatal(err)
	}
	// Rows of 3, 4 and 10 bytes of stored text (column c, omitted, adds none).
	big := types.NewText("0123456789abcdef")
	ch := mkChunk(t, mem, sch, [][]types.Datum{
		{types.NewText("ab"), types.NewBigInt(1), types.NewText("c"), big},
		{types.NewText("abcd"), types.NewBigInt(2), types.NewNull(types.TextType), big},
		{types.NewText("abcde"), types.NewBigInt(3), types.NewText("fghij"), big},
	}, nil)
	defer ch.Rec.Release()
	if err := c.Bind(ch.Rec); err != nil {
		t.Fatal(err)
	}
	defer c.Unbind()
	s0, s1, s2 := c.Add(0), c.Add(1), c.Add(2)
	for _, tc := range []struct {
		slots []uint32
		max   int
		want  int
	}{
		{nil, 10, 0},
		{[]uint32{s0, s1, s2}, 100, 3},
		{[]uint32{s0, s1, s2}, 17, 3},
		{[]uint32{s0, s1, s2}, 16, 2},
		{[]uint32{s0, s1, s2}, 7, 2},
		{[]uint32{s0, s1, s2}, 6, 1},
		{[]uint32{s2, s0}, 1, 1},
		{[]uint32{s0, NoSlot, NoSlot, s1}, 3, 3},
	} {
		if got := c.BatchLen(tc.slots, tc.max); got != tc.want {
			t.Errorf("BatchLen(%v, %d) = %d, want %d", tc.slots, tc.max, got, tc.want)
		}
	}
	n, err := NewColumns([]types.T{types.BigIntType})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.BatchLen([]uint32{0, 1, 2}, 0); got != 3 {
		t.Errorf("BatchLen without text = %d, want 3", got)
	}
}
