package state

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// appendRandom appends nChunks random chunks of allTypes rows (some NULL,
// some all-NULL columns, some sliced so the arrays have an offset) to
// both a and ref, returning the rows in insertion order.
func appendRandom(t *testing.T, mem memory.Allocator, r *rand.Rand, a, ref *Store, nChunks int) [][]types.Datum {
	t.Helper()
	var all [][]types.Datum
	for range nChunks {
		n := r.IntN(40)
		nullP := []float64{0, 0.2, 1}[r.IntN(3)]
		rows := make([][]types.Datum, n)
		for i := range rows {
			rows[i] = randRow(r, allTypes, nullP, 50)
		}
		var ops []operators.Op
		if r.IntN(2) == 0 {
			ops = make([]operators.Op, n)
			for i := range ops {
				ops[i] = []operators.Op{operators.Insert, operators.UpdateAfter}[r.IntN(2)]
			}
		}
		c := mkChunk(t, mem, allTypes, rows, ops)
		if n > 2 && r.IntN(2) == 0 { // apply a slice with an offset
			lo, hi := 1+r.IntN(n/2), n-r.IntN(n/2)
			sl := c.Rec.NewSlice(int64(lo), int64(hi))
			c.Rec.Release()
			c.Rec = sl
			rows = rows[lo:hi]
			if ops != nil {
				c.Ops = ops[lo:hi]
			}
		}
		for _, s := range []*Store{a, ref} {
			if err := s.Apply(c); err != nil {
				c.Rec.Release()
				t.Fatal(err)
			}
		}
		c.Rec.Release()
		all = append(all, rows...)
	}
	return all
}

func fmtRows(rows [][]types.Datum) []string {
	out := make([]string, len(rows))
	for i, row := range rows {
		out[i] = fmtRow(row)
	}
	return out
}

func storeRows(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	if err := s.Rows(func(row []types.Datum) error {
		out = append(out, fmtRow(row))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkAppendStore compares an append-only store with the rows appended
// (in order) and with an indexed multiset store fed the same chunks.
func checkAppendStore(t *testing.T, mem memory.Allocator, a, ref *Store, want [][]types.Datum) {
	t.Helper()
	w := fmtRows(want)
	if a.Len() != int64(len(want)) || ref.Len() != a.Len() {
		t.Fatalf("Len = %d (reference %d), want %d", a.Len(), ref.Len(), len(want))
	}
	if got := storeOrder(t, mem, a); !slices.Equal(got, w) {
		t.Fatalf("Scan order:\n got %v\nwant %v", got, w)
	}
	if got := storeRows(t, a); !slices.Equal(got, w) {
		t.Fatalf("Rows:\n got %v\nwant %v", got, w)
	}
	all := []int{0, 1, 2, 3, 4, 5, 6, 7}
	for _, cols := range [][]int{all, {5, 1}, {}} {
		for _, bs := range []int{1, 3, 1000} {
			got, exp := scanRows(t, mem, a, cols, bs), scanRows(t, mem, ref, cols, bs)
			if len(cols) == 0 {
				got, exp = nil, nil // scanRows formats no columns; Len covers it
			}
			if !slices.Equal(got, exp) {
				t.Fatalf("Scan %v/%d differs from the indexed store:\n got %v\nwant %v", cols, bs, got, exp)
			}
		}
	}
}

func TestAppendStoreRandomized(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(11, 12))
	for range 20 {
		a, ref := NewAppendStore(allTypes), NewStore(allTypes, nil, false)
		if !a.AppendOnly() || ref.AppendOnly() {
			t.Fatal("AppendOnly reports the wrong mode")
		}
		want := appendRandom(t, mem, r, a, ref, 1+r.IntN(8))
		checkAppendStore(t, mem, a, ref, want)

		// Empty-projection scans count every row.
		n := int64(0)
		if err := a.Scan(mem, nil, 4, func(rec arrow.RecordBatch) error {
			n += rec.NumRows()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != a.Len() {
			t.Fatalf("empty projection scanned %d rows, want %d", n, a.Len())
		}
	}
}

func TestAppendStoreRetractionIsAnError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a := NewAppendStore(allTypes)
	r := rand.New(rand.NewPCG(1, 2))
	rows := [][]types.Datum{randRow(r, allTypes, 0, 5), randRow(r, allTypes, 0, 5)}
	if err := apply(t, mem, a, rows, nil); err != nil {
		t.Fatal(err)
	}
	before := storeOrder(t, mem, a)
	for _, op := range []operators.Op{operators.Delete, operators.UpdateBefore} {
		// The retracted row is present, and the retraction comes after an
		// insert: still nothing may change.
		err := apply(t, mem, a, [][]types.Datum{rows[1], rows[0]}, []operators.Op{operators.Insert, op})
		if err == nil || !strings.Contains(err.Error(), "append-only") || !strings.Contains(err.Error(), "row 1") {
			t.Fatalf("retraction %v: err = %v", op, err)
		}
		if got := storeOrder(t, mem, a); !slices.Equal(got, before) || a.Len() != 2 {
			t.Fatalf("failed Apply changed the store: %v", got)
		}
	}
}

func TestAppendStoreLookupFindsNothing(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{{Name: "k", Type: types.BigIntType}}
	a := NewAppendStore(schema)
	if err := apply(t, mem, a, [][]types.Datum{{types.NewBigInt(7)}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Lookup([]types.Datum{types.NewBigInt(7)}, []int{0}, nil); ok {
		t.Fatal("Lookup found a row in an append-only store")
	}
	if _, ok := a.Row([]types.Datum{types.NewBigInt(7)}); ok {
		t.Fatal("Row found a row in an append-only store")
	}
}

func TestAppendStoreBadSchema(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a := NewAppendStore(types.Schema{{Name: "iv", Type: types.IntervalType}})
	if err := a.Scan(mem, []int{0}, 0, func(arrow.RecordBatch) error { return nil }); err == nil {
		t.Fatal("scan of a store with an INTERVAL column succeeded")
	}
	b := NewAppendStore(allTypes)
	c := mkChunk(t, mem, types.Schema{{Name: "k", Type: types.BigIntType}}, [][]types.Datum{{types.NewBigInt(1)}}, nil)
	defer c.Rec.Release()
	if err := b.Apply(c); err == nil {
		t.Fatal("Apply of a chunk of the wrong shape succeeded")
	}
}

func TestAppendStoreSnapshot(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(21, 22))
	for range 10 {
		a, ref := NewAppendStore(allTypes), NewStore(allTypes, nil, false)
		want := appendRandom(t, mem, r, a, ref, r.IntN(6))
		var buf bytes.Buffer
		if err := a.SnapshotWith(mem, &buf); err != nil {
			t.Fatal(err)
		}
		b := NewAppendStore(allTypes)
		if err := b.RestoreWith(mem, bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
		checkAppendStore(t, mem, b, ref, want)
		// The restored store keeps appending after the restored rows.
		more := appendRandom(t, mem, r, b, ref, 2)
		checkAppendStore(t, mem, b, ref, append(want, more...))
		// And a second snapshot of it restores too.
		buf.Reset()
		if err := b.SnapshotWith(mem, &buf); err != nil {
			t.Fatal(err)
		}
		c := NewAppendStore(allTypes)
		if err := c.RestoreWith(mem, bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
		checkAppendStore(t, mem, c, ref, append(want, more...))
	}
}

func TestAppendStoreSnapshotConfigMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{{Name: "k", Type: types.BigIntType}, {Name: "v", Type: types.TextType}}
	row := [][]types.Datum{{types.NewBigInt(1), types.NewText("x")}}
	a, m := NewAppendStore(schema), NewStore(schema, nil, false)
	for _, s := range []*Store{a, m} {
		if err := apply(t, mem, s, row, nil); err != nil {
			t.Fatal(err)
		}
	}
	snap := func(s *Store) []byte {
		var buf bytes.Buffer
		if err := s.SnapshotWith(mem, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	cases := []struct {
		snap []byte
		into *Store
	}{
		{snap(a), NewStore(schema, nil, false)},
		{snap(a), NewStore(schema, []int{0}, true)},
		{snap(a), NewAppendStore(types.Schema{{Name: "k", Type: types.IntType}, {Name: "v", Type: types.TextType}})},
		{snap(m), NewAppendStore(schema)},
	}
	for i, c := range cases {
		err := c.into.RestoreWith(mem, bytes.NewReader(c.snap))
		if err == nil || !strings.Contains(err.Error(), "differently configured") {
			t.Fatalf("case %d: restore into %s: %v", i, c.into.config(), err)
		}
		if c.into.Len() != 0 {
			t.Fatalf("case %d: failed restore changed the store", i)
		}
	}
}

func TestAppendStoreSnapshotCorrupt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(31, 32))
	a, ref := NewAppendStore(allTypes), NewStore(allTypes, nil, false)
	appendRandom(t, mem, r, a, ref, 5)
	var buf bytes.Buffer
	if err := a.SnapshotWith(mem, &buf); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()
	for i, c := range corruptions(r, snap, 300) {
		b := NewAppendStore(allTypes)
		if err := b.RestoreWith(mem, bytes.NewReader(c)); err == nil {
			t.Fatalf("corruption %d (len %d of %d) restored without error", i, len(c), len(snap))
		}
		if b.Len() != 0 {
			t.Fatalf("corruption %d: failed restore left %d rows", i, b.Len())
		}
	}
}
