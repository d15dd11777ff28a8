package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// storeOrder returns every row of s in Scan (slot) order, formatted.
func storeOrder(t testing.TB, mem memory.Allocator, s *Store) []string {
	t.Helper()
	all := make([]int, len(s.Schema()))
	for i := range all {
		all[i] = i
	}
	var out []string
	err := s.Scan(mem, all, 7, func(rec arrow.RecordBatch) error {
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]types.Datum, len(all))
			for j := range all {
				row[j] = types.DatumAt(rec.Column(j), i, s.Schema()[j].Type)
			}
			out = append(out, fmtRow(row))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// randomChanges draws a chunk of changes consistent with m (keyed on
// keyCols), applying them to m.
func randomChanges(r *rand.Rand, m *model, schema types.Schema, keyCols []int, keyed bool) ([][]types.Datum, []operators.Op) {
	var rows [][]types.Datum
	var ops []operators.Op
	n := 1 + r.IntN(30)
	for len(rows) < n {
		live := keysOf(m)
		switch x := r.IntN(10); {
		case x < 3 && len(live) > 0:
			k := live[r.IntN(len(live))]
			rows = append(rows, m.rows[k])
			ops = append(ops, operators.Delete)
			if m.count[k]--; m.count[k] == 0 {
				delete(m.count, k)
				delete(m.rows, k)
			}
		default:
			row := randRow(r, schema, 0.2, 12)
			k := encodeRow(row, schema, keyCols)
			if keyed && m.count[k] > 0 {
				continue
			}
			rows = append(rows, row)
			ops = append(ops, operators.Insert)
			m.rows[k] = row
			m.count[k]++
		}
	}
	return rows, ops
}

// TestStoreSnapshotRoundTrip fills stores of every shape with random
// changes, snapshots them at random points, restores into fresh stores,
// and checks the copy holds the same rows in the same slot order, answers
// the same lookups, and then evolves identically under the same changes
// (same errors included).
func TestStoreSnapshotRoundTrip(t *testing.T) {
	all := make([]int, len(allTypes))
	for i := range all {
		all[i] = i
	}
	cases := []struct {
		name  string
		keyed bool
		key   []int
	}{
		{"multiset", false, nil},
		{"global", true, []int{}},
		{"composite", true, []int{5, 1, 3}},
		{"intKey", true, []int{0}},
		{"int32Key", true, []int{1}},
		{"tsKey", true, []int{6}},
		{"varcharKey", true, []int{5}},
		{"doubleKey", true, []int{3}},
	}
	for ci, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r := rand.New(rand.NewPCG(uint64(ci), 7))
			keyCols := tc.key
			if !tc.keyed {
				keyCols = all
			}
			a := NewStore(allTypes, tc.key, tc.keyed)
			m := &model{rows: map[string][]types.Datum{}, count: map[string]int{}}
			restores := 0
			for step := 0; step < 80; step++ {
				rows, ops := randomChanges(r, m, allTypes, keyCols, tc.keyed)
				if err := apply(t, mem, a, rows, ops); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				if r.IntN(8) != 0 {
					continue
				}
				var buf bytes.Buffer
				if err := a.SnapshotWith(mem, &buf); err != nil {
					t.Fatal(err)
				}
				b := NewStore(allTypes, tc.key, tc.keyed)
				if err := b.RestoreWith(mem, bytes.NewReader(buf.Bytes())); err != nil {
					t.Fatalf("step %d: restore: %v", step, err)
				}
				restores++
				if got, want := storeOrder(t, mem, b), storeOrder(t, mem, a); !slices.Equal(got, want) {
					t.Fatalf("step %d: restored rows\n%q\nwant\n%q", step, got, want)
				}
				checkStore(t, mem, b, m, keyCols, tc.keyed, all)
				// Both evolve the same way, errors included.
				for k := 0; k < 5; k++ {
					mm := &model{rows: maps(m.rows), count: mapsInt(m.count)}
					rows, ops := randomChanges(r, mm, allTypes, keyCols, tc.keyed)
					if r.IntN(3) == 0 {
						ops[r.IntN(len(ops))] = operators.Delete // maybe inconsistent
					}
					ea, eb := apply(t, mem, a, rows, ops), apply(t, mem, b, rows, ops)
					if fmt.Sprint(ea) != fmt.Sprint(eb) {
						t.Fatalf("after restore: errors differ: %v vs %v", ea, eb)
					}
					if got, want := storeOrder(t, mem, b), storeOrder(t, mem, a); !slices.Equal(got, want) {
						t.Fatalf("after restore: rows\n%q\nwant\n%q", got, want)
					}
					if ea == nil {
						m = mm
					}
				}
				checkStore(t, mem, a, m, keyCols, tc.keyed, all)
				a = b
			}
			if restores < 5 {
				t.Fatalf("only %d restores", restores)
			}
		})
	}
}

func TestStoreSnapshotNullIntKeyAndEmpty(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{{Name: "k", Type: types.BigIntType}, {Name: "v", Type: types.TextType}}
	a := NewStore(schema, []int{0}, true)
	roundTrip := func() *Store {
		t.Helper()
		var buf bytes.Buffer
		if err := a.SnapshotWith(mem, &buf); err != nil {
			t.Fatal(err)
		}
		b := NewStore(schema, []int{0}, true)
		if err := b.RestoreWith(mem, &buf); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if b := roundTrip(); b.Len() != 0 {
		t.Fatalf("empty store restored with %d rows", b.Len())
	}
	rows := [][]types.Datum{
		{types.NewNull(types.BigIntType), types.NewText("null key")},
		{types.NewBigInt(1), types.NewNull(types.TextType)},
		{types.NewBigInt(2), types.NewText("two")},
	}
	if err := apply(t, mem, a, rows, nil); err != nil {
		t.Fatal(err)
	}
	b := roundTrip()
	if b.nullSlot < 0 || b.Len() != 3 {
		t.Fatalf("NULL key slot %d, %d rows", b.nullSlot, b.Len())
	}
	if row, ok := b.Row([]types.Datum{types.NewBigInt(2)}); !ok || row[1].S != "two" {
		t.Fatalf("lookup of 2: %v %v", row, ok)
	}
	// The NULL-keyed row is indexed: inserting it again fails, deleting works.
	if err := apply(t, mem, b, rows[:1], nil); err == nil {
		t.Fatal("second NULL-keyed row accepted after restore")
	}
	if err := apply(t, mem, b, rows[:1], []operators.Op{operators.Delete}); err != nil {
		t.Fatal(err)
	}
}

func TestStoreSnapshotConfigMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := types.Schema{{Name: "k", Type: types.BigIntType}, {Name: "v", Type: types.TextType}}
	a := NewStore(schema, []int{0}, true)
	if err := apply(t, mem, a, [][]types.Datum{{types.NewBigInt(1), types.NewText("x")}}, nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := a.SnapshotWith(mem, &buf); err != nil {
		t.Fatal(err)
	}
	others := []*Store{
		NewStore(types.Schema{{Name: "k", Type: types.IntType}, {Name: "v", Type: types.TextType}}, []int{0}, true),
		NewStore(schema, []int{1}, true),
		NewStore(schema, nil, false),
	}
	for _, o := range others {
		err := o.RestoreWith(mem, bytes.NewReader(buf.Bytes()))
		if err == nil || !strings.Contains(err.Error(), "differently configured") {
			t.Fatalf("restore into %s: %v", o.config(), err)
		}
		if o.Len() != 0 {
			t.Fatal("failed restore changed the store")
		}
	}
}

// corruptions returns damaged variants of snap: every truncation (or a
// sample of them), and single-bit and byte flips at random positions.
func corruptions(r *rand.Rand, snap []byte, n int) [][]byte {
	var out [][]byte
	step := max(1, len(snap)/n)
	for l := 0; l < len(snap); l += 1 + r.IntN(step) {
		out = append(out, snap[:l])
	}
	for range n {
		c := slices.Clone(snap)
		p := r.IntN(len(c))
		if r.IntN(2) == 0 {
			c[p] ^= 1 << r.IntN(8)
		} else {
			c[p] = byte(r.IntN(256))
			if c[p] == snap[p] {
				c[p]++
			}
		}
		out = append(out, c)
	}
	return out
}

func TestStoreSnapshotCorrupt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(5, 5))
	for _, keyed := range []bool{true, false} {
		a := NewStore(allTypes, []int{5, 0}, keyed)
		m := &model{rows: map[string][]types.Datum{}, count: map[string]int{}}
		keyCols := []int{5, 0}
		if !keyed {
			keyCols = []int{0, 1, 2, 3, 4, 5, 6, 7}
		}
		for range 5 {
			rows, ops := randomChanges(r, m, allTypes, keyCols, keyed)
			if err := apply(t, mem, a, rows, ops); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := a.SnapshotWith(mem, &buf); err != nil {
			t.Fatal(err)
		}
		snap := buf.Bytes()
		// A snapshot is a whole file: a byte after it is damage too.
		damaged := append(corruptions(r, snap, 400), append(bytes.Clone(snap), 0))
		for i, c := range damaged {
			b := NewStore(allTypes, []int{5, 0}, keyed)
			err := b.RestoreWith(mem, bytes.NewReader(c))
			if err == nil {
				t.Fatalf("corruption %d (len %d of %d) restored without error", i, len(c), len(snap))
			}
			if b.Len() != 0 {
				t.Fatalf("corruption %d: failed restore left %d rows", i, b.Len())
			}
		}
	}
}

// TestColumnsSnapshotRoundTrip checks Columns keep slot numbers, values
// and the free list (so later Adds pick the same slots).
func TestColumnsSnapshotRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(3, 4))
	ts := make([]types.T, len(allTypes))
	for i, c := range allTypes {
		ts[i] = c.Type
	}
	a, err := NewColumns(ts)
	if err != nil {
		t.Fatal(err)
	}
	var live []uint32
	addRows := func(c *Columns, rows [][]types.Datum) []uint32 {
		ch := mkChunk(t, mem, allTypes, rows, nil)
		defer ch.Rec.Release()
		if err := c.Bind(ch.Rec); err != nil {
			t.Fatal(err)
		}
		defer c.Unbind()
		var slots []uint32
		for i := range rows {
			slots = append(slots, c.Add(i))
		}
		return slots
	}
	for round := 0; round < 30; round++ {
		var rows [][]types.Datum
		for n := r.IntN(50); n > 0; n-- {
			rows = append(rows, randRow(r, allTypes, 0.2, 40))
		}
		live = append(live, addRows(a, rows)...)
		for n := r.IntN(30); n > 0 && len(live) > 0; n-- {
			j := r.IntN(len(live))
			a.Remove(live[j])
			live = slices.Delete(live, j, j+1)
		}
		var buf bytes.Buffer
		sw := NewSnapshotWriter(&buf, mem)
		if err := sw.Header("test.columns", 1, "cfg"); err != nil {
			t.Fatal(err)
		}
		if err := a.SnapshotTo(sw, "rows"); err != nil {
			t.Fatal(err)
		}
		b, _ := NewColumns(ts)
		sr := NewSnapshotReader(bytes.NewReader(buf.Bytes()), mem)
		if err := sr.Header("test.columns", 1, "cfg"); err != nil {
			t.Fatal(err)
		}
		if err := b.RestoreFrom(sr, "rows"); err != nil {
			t.Fatal(err)
		}
		if b.Len() != a.Len() || b.Len() != len(live) {
			t.Fatalf("restored %d rows, want %d", b.Len(), a.Len())
		}
		var la, lb []uint32
		a.ForEachLive(func(s uint32) { la = append(la, s) })
		b.ForEachLive(func(s uint32) { lb = append(lb, s) })
		if !slices.Equal(la, lb) {
			t.Fatalf("live slots %v, want %v", lb, la)
		}
		for _, s := range la {
			for c := range ts {
				if da, db := a.Datum(s, c), b.Datum(s, c); da.String() != db.String() || da.Null != db.Null {
					t.Fatalf("slot %d column %d: %v, want %v", s, c, db, da)
				}
			}
		}
		// Same future slot choices.
		var rows2 [][]types.Datum
		for range 10 {
			rows2 = append(rows2, randRow(r, allTypes, 0.2, 40))
		}
		sa, sb := addRows(a, rows2), addRows(b, rows2)
		if !slices.Equal(sa, sb) {
			t.Fatalf("after restore Add chose %v, want %v", sb, sa)
		}
		live = append(live, sa...)
		a = b
	}
}

func TestColumnsSnapshotCorrupt(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(8, 8))
	ts := []types.T{types.BigIntType, types.TextType}
	schema := types.Schema{{Name: "a", Type: ts[0]}, {Name: "b", Type: ts[1]}}
	a, _ := NewColumns(ts)
	var rows [][]types.Datum
	for range 100 {
		rows = append(rows, randRow(r, schema, 0.2, 50))
	}
	ch := mkChunk(t, mem, schema, rows, nil)
	if err := a.Bind(ch.Rec); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		a.Add(i)
	}
	a.Unbind()
	ch.Rec.Release()
	for s := uint32(0); s < 100; s += 3 {
		a.Remove(s)
	}
	var buf bytes.Buffer
	sw := NewSnapshotWriter(&buf, mem)
	if err := a.SnapshotTo(sw, "rows"); err != nil {
		t.Fatal(err)
	}
	for i, c := range corruptions(r, buf.Bytes(), 300) {
		b, _ := NewColumns(ts)
		err := b.RestoreFrom(NewSnapshotReader(bytes.NewReader(c), mem), "rows")
		if err == nil {
			t.Fatalf("corruption %d restored without error", i)
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("corruption %d: error %v does not wrap ErrCorrupt", i, err)
		}
		if b.Len() != 0 {
			t.Fatalf("corruption %d: failed restore left rows", i)
		}
	}
	// Wrong section name and wrong types are errors too.
	b, _ := NewColumns(ts)
	if err := b.RestoreFrom(NewSnapshotReader(bytes.NewReader(buf.Bytes()), mem), "other"); err == nil {
		t.Fatal("restore of section rows as other succeeded")
	}
	c, _ := NewColumns([]types.T{types.BigIntType, types.BigIntType})
	if err := c.RestoreFrom(NewSnapshotReader(bytes.NewReader(buf.Bytes()), mem), "rows"); err == nil {
		t.Fatal("restore into other column types succeeded")
	}
}

func TestSnapshotHeaderErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var buf bytes.Buffer
	sw := NewSnapshotWriter(&buf, mem)
	if err := sw.Header("fmt", 2, "cfg A"); err != nil {
		t.Fatal(err)
	}
	if err := sw.Scalars("meta", []string{"x", "y"}, []int64{-3, 9}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		format  string
		version uint32
		config  string
		want    string
	}{
		{"other", 2, "cfg A", `is a "fmt" snapshot`},
		{"fmt", 1, "cfg A", "format version 2"},
		{"fmt", 2, "cfg B", "differently configured"},
	} {
		err := NewSnapshotReader(bytes.NewReader(buf.Bytes()), mem).Header(tc.format, tc.version, tc.config)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("header %v: %v, want %q", tc, err, tc.want)
		}
	}
	sr := NewSnapshotReader(bytes.NewReader(buf.Bytes()), mem)
	if err := sr.Header("fmt", 2, "cfg A"); err != nil {
		t.Fatal(err)
	}
	vals, err := sr.Scalars("meta", []string{"x", "y"})
	if err != nil || vals[0] != -3 || vals[1] != 9 {
		t.Fatalf("scalars %v %v", vals, err)
	}
	if _, err := sr.Scalars("more", []string{"x"}); err == nil || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading past the end: %v", err)
	}
}
