package state

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// allTypes has one column of every storable type.
var allTypes = types.Schema{
	{Name: "big", Type: types.BigIntType},
	{Name: "int", Type: types.IntType},
	{Name: "bool", Type: types.BoolType},
	{Name: "dbl", Type: types.DoubleType},
	{Name: "dec", Type: types.DecimalType(12, 2)},
	{Name: "txt", Type: types.TextType},
	{Name: "ts", Type: types.TimestampType(6)},
	{Name: "date", Type: types.DateType},
}

// randDatum draws a value of t from a small domain (so that keys repeat),
// NULL with probability nullP.
func randDatum(r *rand.Rand, t types.T, nullP float64, domain int) types.Datum {
	if r.Float64() < nullP {
		return types.NewNull(t)
	}
	v := int64(r.IntN(domain))
	switch t.Kind {
	case types.BigInt:
		return types.NewBigInt(v*1_000_003 - 7)
	case types.Int:
		return types.NewInt(int32(v) - 3)
	case types.Boolean:
		return types.NewBool(v%2 == 0)
	case types.Double:
		switch v % 7 {
		case 0:
			return types.NewDouble(math.Copysign(0, -1))
		case 1:
			return types.NewDouble(math.NaN())
		case 2:
			return types.NewDouble(math.Inf(-1))
		}
		return types.NewDouble(float64(v) / 4)
	case types.Decimal:
		return types.NewDecimal(decimal128.FromI64(v*101-50), t.Scale)
	case types.Varchar:
		if v == 0 {
			return types.NewText("")
		}
		return types.NewText(strings.Repeat("é", int(v%3)) + fmt.Sprint(v))
	case types.Timestamp:
		return types.NewTimestamp(v*86_400_000_001 - 5)
	case types.Date:
		return types.NewDate(int32(v) - 10)
	}
	panic("no such type")
}

func randRow(r *rand.Rand, schema types.Schema, nullP float64, domain int) []types.Datum {
	row := make([]types.Datum, len(schema))
	for i, c := range schema {
		row[i] = randDatum(r, c.Type, nullP, domain)
	}
	return row
}

// mkChunk builds a chunk of rows with ops (nil ops: append-only).
func mkChunk(t testing.TB, mem memory.Allocator, schema types.Schema, rows [][]types.Datum, ops []operators.Op) *operators.Chunk {
	t.Helper()
	b := array.NewRecordBuilder(mem, schema.Arrow())
	defer b.Release()
	for _, row := range rows {
		for i, d := range row {
			types.AppendDatum(b.Field(i), d)
		}
	}
	return &operators.Chunk{Rec: b.NewRecordBatch(), Ops: ops}
}

func apply(t testing.TB, mem memory.Allocator, s *Store, rows [][]types.Datum, ops []operators.Op) error {
	t.Helper()
	c := mkChunk(t, mem, s.Schema(), rows, ops)
	defer c.Rec.Release()
	return s.Apply(c)
}

func encodeRow(row []types.Datum, schema types.Schema, cols []int) string {
	var b []byte
	for _, c := range cols {
		b = AppendDatum(b, row[c], schema[c].Type)
	}
	return string(b)
}

func fmtRow(row []types.Datum) string {
	parts := make([]string, len(row))
	for i, d := range row {
		parts[i] = d.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// scanRows reads the store through Scan and returns its rows formatted and
// sorted, checking every batch is at most batchSize rows.
func scanRows(t *testing.T, mem memory.Allocator, s *Store, cols []int, batchSize int) []string {
	t.Helper()
	var out []string
	err := s.Scan(mem, cols, batchSize, func(rec arrow.RecordBatch) error {
		if rec.NumRows() == 0 || int(rec.NumRows()) > batchSize {
			t.Fatalf("batch of %d rows with batch size %d", rec.NumRows(), batchSize)
		}
		if int(rec.NumCols()) != len(cols) {
			t.Fatalf("batch has %d columns, want %d", rec.NumCols(), len(cols))
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]types.Datum, len(cols))
			for j, c := range cols {
				row[j] = types.DatumAt(rec.Column(j), i, s.Schema()[c].Type)
			}
			out = append(out, fmtRow(row))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// model is the reference: rows by encoded key with their copy counts.
type model struct {
	rows  map[string][]types.Datum
	count map[string]int
}

func (m *model) sorted(cols []int) []string {
	var out []string
	for k, row := range m.rows {
		proj := make([]types.Datum, len(cols))
		for j, c := range cols {
			proj[j] = row[c]
		}
		for n := 0; n < m.count[k]; n++ {
			out = append(out, fmtRow(proj))
		}
	}
	slices.Sort(out)
	return out
}

// TestStoreRandomized applies random inserts, deletes and update pairs to
// keyed stores (keys over every type, single and composite) and multisets,
// and checks Scan at several batch sizes, Rows and Lookup against a model.
func TestStoreRandomized(t *testing.T) {
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
		{"composite-dec-bool", true, []int{4, 2, 7}},
	}
	for c := range allTypes {
		cases = append(cases, struct {
			name  string
			keyed bool
			key   []int
		}{"key-" + allTypes[c].Name, true, []int{c}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r := rand.New(rand.NewPCG(uint64(len(tc.name)), 99))
			s := NewStore(allTypes, tc.key, tc.keyed)
			keyCols := tc.key
			if !tc.keyed {
				keyCols = all
			}
			m := &model{rows: map[string][]types.Datum{}, count: map[string]int{}}
			domain := 12
			for step := 0; step < 60; step++ {
				var rows [][]types.Datum
				var ops []operators.Op
				// Work on a copy of the model, as the chunk is built.
				next := &model{rows: maps(m.rows), count: mapsInt(m.count)}
				n := 1 + r.IntN(40)
				for len(rows) < n {
					live := keysOf(next)
					switch x := r.IntN(10); {
					case x < 3 && len(live) > 0: // delete
						k := live[r.IntN(len(live))]
						row := next.rows[k]
						if tc.keyed {
							// A keyed delete carries the key; other
							// columns need not match.
							row = slices.Clone(row)
							for c := range row {
								if !slices.Contains(keyCols, c) {
									row[c] = randDatum(r, allTypes[c].Type, 0.2, domain)
								}
							}
						}
						rows = append(rows, row)
						ops = append(ops, operators.Delete)
						next.count[k]--
						if next.count[k] == 0 {
							delete(next.count, k)
							delete(next.rows, k)
						}
					case x < 5 && len(live) > 0 && tc.keyed: // update pair
						k := live[r.IntN(len(live))]
						old := next.rows[k]
						nw := randRow(r, allTypes, 0.2, domain)
						for _, c := range keyCols {
							nw[c] = old[c]
						}
						rows = append(rows, old, nw)
						ops = append(ops, operators.UpdateBefore, operators.UpdateAfter)
						next.rows[k] = nw
					default: // insert
						row := randRow(r, allTypes, 0.2, domain)
						k := encodeRow(row, allTypes, keyCols)
						if tc.keyed && next.count[k] > 0 {
							continue
						}
						rows = append(rows, row)
						ops = append(ops, operators.Insert)
						next.rows[k] = row
						next.count[k]++
					}
				}
				if r.IntN(4) == 0 && !slices.ContainsFunc(ops, operators.Op.IsRetract) {
					ops = nil // append-only chunk
				}
				if err := apply(t, mem, s, rows, ops); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				m = next
				checkStore(t, mem, s, m, keyCols, tc.keyed, all)
			}
		})
	}
}

func checkStore(t *testing.T, mem memory.Allocator, s *Store, m *model, keyCols []int, keyed bool, all []int) {
	t.Helper()
	want := m.sorted(all)
	if int(s.Len()) != len(want) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(want))
	}
	for _, bs := range []int{1, 3, 1024} {
		if got := scanRows(t, mem, s, all, bs); !slices.Equal(got, want) {
			t.Fatalf("scan (batch %d):\n got %v\nwant %v", bs, got, want)
		}
	}
	proj := []int{5, 0}
	if got, w := scanRows(t, mem, s, proj, 3), m.sorted(proj); !slices.Equal(got, w) {
		t.Fatalf("projected scan:\n got %v\nwant %v", got, w)
	}
	var rows []string
	if err := s.Rows(func(row []types.Datum) error { rows = append(rows, fmtRow(row)); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(rows)
	if !slices.Equal(rows, want) {
		t.Fatalf("Rows:\n got %v\nwant %v", rows, want)
	}
	for _, row := range m.rows {
		key := make([]types.Datum, len(keyCols))
		hasNull := false
		for i, c := range keyCols {
			key[i] = row[c]
			hasNull = hasNull || row[c].Null
		}
		got, ok := s.Row(key)
		if hasNull {
			if ok {
				t.Fatalf("lookup with a NULL key %s found %s", fmtRow(key), fmtRow(got))
			}
			continue
		}
		if !ok || fmtRow(got) != fmtRow(row) {
			t.Fatalf("Row(%s) = %s, %v; want %s", fmtRow(key), fmtRow(got), ok, fmtRow(row))
		}
		if keyed {
			got, ok = s.Lookup(key, []int{3, 5}, nil)
			if !ok || fmtRow(got) != fmtRow([]types.Datum{row[3], row[5]}) {
				t.Fatalf("Lookup(%s) = %s, %v", fmtRow(key), fmtRow(got), ok)
			}
		}
	}
}

func maps(m map[string][]types.Datum) map[string][]types.Datum {
	out := make(map[string][]types.Datum, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func mapsInt(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func keysOf(m *model) []string {
	out := make([]string, 0, len(m.count))
	for k := range m.count {
		out = append(out, k)
	}
	slices.Sort(out) // deterministic under the seed
	return out
}

var kv = types.Schema{
	{Name: "k", Type: types.BigIntType},
	{Name: "v", Type: types.TextType},
}

func kvRow(k int64, v string) []types.Datum {
	return []types.Datum{types.NewBigInt(k), types.NewText(v)}
}

// TestStoreSlotReuse checks deleted slots are reused rather than grown.
func TestStoreSlotReuse(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := NewStore(kv, []int{0}, true)
	var rows [][]types.Datum
	for i := range 100 {
		rows = append(rows, kvRow(int64(i), fmt.Sprint("v", i)))
	}
	if err := apply(t, mem, s, rows, nil); err != nil {
		t.Fatal(err)
	}
	del := make([]operators.Op, 50)
	for i := range del {
		del[i] = operators.Delete
	}
	if err := apply(t, mem, s, rows[:50], del); err != nil {
		t.Fatal(err)
	}
	var fresh [][]types.Datum
	for i := range 50 {
		fresh = append(fresh, kvRow(int64(1000+i), "new"))
	}
	if err := apply(t, mem, s, fresh, nil); err != nil {
		t.Fatal(err)
	}
	if s.slots != 100 || s.Len() != 100 {
		t.Fatalf("slots = %d, rows = %d; want 100 and 100", s.slots, s.Len())
	}
	for i := range 100 {
		_, ok := s.Row([]types.Datum{types.NewBigInt(int64(i))})
		if ok != (i >= 50) {
			t.Fatalf("key %d present = %v", i, ok)
		}
	}
	for i := range 50 {
		row, ok := s.Row([]types.Datum{types.NewBigInt(int64(1000 + i))})
		if !ok || row[1].S != "new" {
			t.Fatalf("key %d: %v %v", 1000+i, row, ok)
		}
	}
}

// TestStoreErrorsAreAtomic checks an inconsistent chunk is refused with a
// clear error and leaves the store unchanged.
func TestStoreErrorsAreAtomic(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, keyCols := range [][]int{{0}, {1}, {0, 1}} {
		s := NewStore(kv, keyCols, true)
		base := [][]types.Datum{kvRow(1, "a"), kvRow(2, "b"), kvRow(3, "c")}
		if err := apply(t, mem, s, base, nil); err != nil {
			t.Fatal(err)
		}
		before := scanRows(t, mem, s, []int{0, 1}, 1024)
		cases := []struct {
			rows [][]types.Datum
			ops  []operators.Op
			msg  string
		}{
			{[][]types.Datum{kvRow(4, "d"), kvRow(2, "b"), kvRow(2, "x"), kvRow(5, "e")},
				[]operators.Op{operators.Insert, operators.UpdateBefore, operators.UpdateAfter, operators.Delete},
				"delete of a row that is not present: (5, e)"},
			{[][]types.Datum{kvRow(1, "a"), kvRow(4, "d"), kvRow(3, "c")},
				[]operators.Op{operators.Delete, operators.Insert, operators.Insert},
				"insert of a key that is present: (3, c)"},
			{[][]types.Datum{kvRow(1, "a"), kvRow(9, "z"), kvRow(1, "a")},
				[]operators.Op{operators.Delete, operators.Insert, operators.Delete},
				"delete of a row that is not present: (1, a)"},
		}
		for _, c := range cases {
			err := apply(t, mem, s, c.rows, c.ops)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("key %v: error %v, want %q", keyCols, err, c.msg)
			}
			if sqlerr.Code(err) != sqlerr.InternalError {
				t.Fatalf("code %s", sqlerr.Code(err))
			}
			if after := scanRows(t, mem, s, []int{0, 1}, 1024); !slices.Equal(after, before) || s.Len() != 3 {
				t.Fatalf("key %v: store changed by a failed Apply:\n%v\n%v", keyCols, before, after)
			}
			for _, row := range base {
				key := make([]types.Datum, len(keyCols))
				for i, c := range keyCols {
					key[i] = row[c]
				}
				if got, ok := s.Row(key); !ok || fmtRow(got) != fmtRow(row) {
					t.Fatalf("after rollback Row(%v) = %v %v", key, got, ok)
				}
			}
		}
		// The store still works after the failed calls.
		if err := apply(t, mem, s, [][]types.Datum{kvRow(1, "a"), kvRow(4, "d")}, []operators.Op{operators.Delete, operators.Insert}); err != nil {
			t.Fatal(err)
		}
		if got := scanRows(t, mem, s, []int{0, 1}, 2); !slices.Equal(got, []string{"(2, b)", "(3, c)", "(4, d)"}) {
			t.Fatalf("after recovery: %v", got)
		}
	}
	// A multiset refuses the delete of a missing row, atomically.
	s := NewStore(kv, nil, false)
	if err := apply(t, mem, s, [][]types.Datum{kvRow(1, "a"), kvRow(1, "a")}, nil); err != nil {
		t.Fatal(err)
	}
	d := []operators.Op{operators.Delete, operators.Delete, operators.Delete}
	err := apply(t, mem, s, [][]types.Datum{kvRow(1, "a"), kvRow(1, "a"), kvRow(1, "a")}, d)
	if err == nil || !strings.Contains(err.Error(), "not present: (1, a)") {
		t.Fatalf("error %v", err)
	}
	if s.Len() != 2 || len(scanRows(t, mem, s, []int{0, 1}, 1)) != 2 {
		t.Fatalf("multiset changed by a failed Apply: %d rows", s.Len())
	}
}

// TestStoreNullIntKey checks a NULL in a single integer key is a row of
// its own (a GROUP BY NULL group), never matched by Lookup.
func TestStoreNullIntKey(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, kt := range []types.T{types.BigIntType, types.IntType, types.DateType, types.TimestampType(6)} {
		schema := types.Schema{{Name: "k", Type: kt}, {Name: "v", Type: types.TextType}}
		s := NewStore(schema, []int{0}, true)
		null := []types.Datum{types.NewNull(kt), types.NewText("n")}
		one := []types.Datum{{Kind: kt.Kind, I: 0}, types.NewText("zero")}
		if err := apply(t, mem, s, [][]types.Datum{null, one}, nil); err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		if got := scanRows(t, mem, s, []int{0, 1}, 1024); len(got) != 2 {
			t.Fatalf("%s: %v", kt, got)
		}
		err := apply(t, mem, s, [][]types.Datum{null}, nil)
		if err == nil || !strings.Contains(err.Error(), "insert of a key that is present: (NULL, n)") {
			t.Fatalf("%s: duplicate NULL key: %v", kt, err)
		}
		if _, ok := s.Row([]types.Datum{types.NewNull(kt)}); ok {
			t.Fatalf("%s: lookup of NULL matched", kt)
		}
		if row, ok := s.Row([]types.Datum{{Kind: kt.Kind, I: 0}}); !ok || row[1].S != "zero" {
			t.Fatalf("%s: lookup of 0: %v %v", kt, row, ok)
		}
		upd := []types.Datum{types.NewNull(kt), types.NewText("m")}
		if err := apply(t, mem, s, [][]types.Datum{null, upd}, []operators.Op{operators.UpdateBefore, operators.UpdateAfter}); err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		if got := scanRows(t, mem, s, []int{1}, 1024); !slices.Equal(got, []string{"(m)", "(zero)"}) {
			t.Fatalf("%s: %v", kt, got)
		}
		if err := apply(t, mem, s, [][]types.Datum{upd}, []operators.Op{operators.Delete}); err != nil {
			t.Fatalf("%s: %v", kt, err)
		}
		if err := apply(t, mem, s, [][]types.Datum{upd}, []operators.Op{operators.Delete}); err == nil {
			t.Fatalf("%s: second delete of the NULL key succeeded", kt)
		}
		if s.Len() != 1 {
			t.Fatalf("%s: Len %d", kt, s.Len())
		}
	}
}

// TestStoreBadInput checks chunks and schemas the store cannot take are
// errors, not panics.
func TestStoreBadInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := NewStore(kv, []int{0}, true)
	wrongTypes := types.Schema{{Name: "k", Type: types.TextType}, {Name: "v", Type: types.TextType}}
	c := mkChunk(t, mem, wrongTypes, [][]types.Datum{{types.NewText("1"), types.NewText("a")}}, nil)
	err := s.Apply(c)
	c.Rec.Release()
	if err == nil || !strings.Contains(err.Error(), `column "k" is utf8 in the chunk, want BIGINT`) {
		t.Fatalf("wrong type: %v", err)
	}
	c = mkChunk(t, mem, kv[:1], [][]types.Datum{{types.NewBigInt(1)}}, nil)
	err = s.Apply(c)
	c.Rec.Release()
	if err == nil || !strings.Contains(err.Error(), "chunk has 1 columns, want 2") {
		t.Fatalf("wrong width: %v", err)
	}
	c = mkChunk(t, mem, kv, [][]types.Datum{kvRow(1, "a")}, []operators.Op{})
	err = s.Apply(c)
	c.Rec.Release()
	if err == nil || !strings.Contains(err.Error(), "1 rows but 0 ops") {
		t.Fatalf("ops length: %v", err)
	}
	iv := NewStore(types.Schema{{Name: "i", Type: types.IntervalType}}, []int{0}, true)
	c = mkChunk(t, mem, types.Schema{{Name: "i", Type: types.IntervalType}}, [][]types.Datum{{types.NewInterval(1, 2, 3)}}, nil)
	err = iv.Apply(c)
	c.Rec.Release()
	if err == nil || !strings.Contains(err.Error(), "INTERVAL cannot be stored") {
		t.Fatalf("interval: %v", err)
	}
	if err := iv.Scan(mem, []int{0}, 10, func(arrow.RecordBatch) error { return nil }); err == nil {
		t.Fatal("scan of a bad store succeeded")
	}
	oob := NewStore(kv, []int{5}, true)
	if err := apply(t, mem, oob, [][]types.Datum{kvRow(1, "a")}, nil); err == nil || !strings.Contains(err.Error(), "key column 5 out of range") {
		t.Fatalf("key out of range: %v", err)
	}
	if _, ok := oob.Row([]types.Datum{types.NewBigInt(1)}); ok {
		t.Fatal("lookup in a bad store matched")
	}
	if err := s.Scan(mem, []int{7}, 10, func(arrow.RecordBatch) error { return nil }); err == nil {
		t.Fatal("scan of a missing column succeeded")
	}
	// fn's error stops the scan and is returned as is.
	if err := apply(t, mem, s, [][]types.Datum{kvRow(1, "a"), kvRow(2, "b")}, nil); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	err = s.Scan(mem, []int{0, 1}, 1, func(arrow.RecordBatch) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("scan error %v after %d calls", err, calls)
	}
	// Wrong-width or wrong-kind lookup keys match nothing.
	if _, ok := s.Row(nil); ok {
		t.Fatal("lookup with no key values matched")
	}
	if _, ok := s.Row([]types.Datum{types.NewText("1")}); ok {
		t.Fatal("lookup with a text key matched a BIGINT key")
	}
	if _, ok := s.Lookup([]types.Datum{types.NewBigInt(1)}, []int{9}, nil); ok {
		t.Fatal("lookup of a missing column matched")
	}
}

// TestStoreGlobalAndEmptyProjection checks a keyed store without key
// columns holds one row, and a scan of no columns still counts rows.
func TestStoreGlobalAndEmptyProjection(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	g := NewStore(kv, []int{}, true)
	if err := apply(t, mem, g, [][]types.Datum{kvRow(7, "x")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := apply(t, mem, g, [][]types.Datum{kvRow(8, "y")}, nil); err == nil {
		t.Fatal("second row of a global store accepted")
	}
	if row, ok := g.Row(nil); !ok || row[0].I != 7 {
		t.Fatalf("Row() = %v %v", row, ok)
	}
	m := NewStore(kv, nil, false)
	rows := [][]types.Datum{kvRow(1, "a"), kvRow(1, "a"), kvRow(2, "b"), kvRow(1, "a"), kvRow(3, "c")}
	if err := apply(t, mem, m, rows, nil); err != nil {
		t.Fatal(err)
	}
	for _, bs := range []int{1, 3, 1024, 0} {
		total := 0
		err := m.Scan(mem, nil, bs, func(rec arrow.RecordBatch) error {
			total += int(rec.NumRows())
			return nil
		})
		if err != nil || total != 5 {
			t.Fatalf("batch %d: scan of no columns gave %d rows, %v", bs, total, err)
		}
	}
	if row, ok := m.Row(kvRow(1, "a")); !ok || row[1].S != "a" {
		t.Fatalf("multiset Row = %v %v", row, ok)
	}
}

// TestStoreLookupCoercion checks lookup values of a compatible type find
// the row (the planner casts keys, but INT for BIGINT and a decimal of
// another scale must not miss), and incompatible ones do not.
func TestStoreLookupCoercion(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := NewStore(allTypes, []int{0, 3, 4}, true)
	row := []types.Datum{types.NewBigInt(5), types.NewInt(1), types.NewBool(true), types.NewDouble(3),
		types.NewDecimal(decimal128.FromI64(250), 2), types.NewText("t"), types.NewTimestamp(1), types.NewDate(1)}
	if err := apply(t, mem, s, [][]types.Datum{row}, nil); err != nil {
		t.Fatal(err)
	}
	hit := [][]types.Datum{
		{types.NewBigInt(5), types.NewDouble(3), types.NewDecimal(decimal128.FromI64(250), 2)},
		{types.NewInt(5), types.NewBigInt(3), types.NewDecimal(decimal128.FromI64(25), 1)},
		{types.NewBigInt(5), types.NewDouble(3), types.NewDecimal(decimal128.FromI64(2500), 3)},
	}
	for _, k := range hit {
		if _, ok := s.Row(k); !ok {
			t.Fatalf("Row(%s) missed", fmtRow(k))
		}
	}
	miss := [][]types.Datum{
		{types.NewBigInt(5), types.NewDouble(3), types.NewDecimal(decimal128.FromI64(2501), 3)},
		{types.NewDouble(5), types.NewDouble(3), types.NewDecimal(decimal128.FromI64(250), 2)},
		{types.NewText("5"), types.NewDouble(3), types.NewDecimal(decimal128.FromI64(250), 2)},
	}
	for _, k := range miss {
		if _, ok := s.Row(k); ok {
			t.Fatalf("Row(%s) matched", fmtRow(k))
		}
	}
	is := NewStore(types.Schema{{Name: "k", Type: types.IntType}}, []int{0}, true)
	if err := apply(t, mem, is, [][]types.Datum{{types.NewInt(-1)}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := is.Row([]types.Datum{types.NewBigInt(-1)}); !ok {
		t.Fatal("BIGINT -1 missed INT key -1")
	}
	if _, ok := is.Row([]types.Datum{types.NewBigInt(1<<32 - 1)}); ok {
		t.Fatal("BIGINT 2^32-1 matched INT key -1")
	}
}

// TestStoreConcurrentReads runs lookups and scans at once (run with -race):
// readers must not write to the store.
func TestStoreConcurrentReads(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, key := range [][]int{{0}, {1}} {
		s := NewStore(kv, key, true)
		var rows [][]types.Datum
		for i := range 200 {
			rows = append(rows, kvRow(int64(i), fmt.Sprint(i)))
		}
		if err := apply(t, mem, s, rows, nil); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 200 {
					k := []types.Datum{rows[(i+g)%200][key[0]]}
					if _, ok := s.Lookup(k, []int{1}, nil); !ok {
						t.Errorf("lookup %v missed", k)
						return
					}
				}
				n := 0
				if err := s.Scan(mem, []int{0}, 64, func(rec arrow.RecordBatch) error { n += int(rec.NumRows()); return nil }); err != nil || n != 200 {
					t.Errorf("scan: %d rows, %v", n, err)
				}
			})
		}
		wg.Wait()
	}
}
