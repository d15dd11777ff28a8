package state

import (
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// keyRecord builds a record of the key columns of rows (cols of schema).
func keyRecord(t testing.TB, mem memory.Allocator, schema types.Schema, cols []int, rows [][]types.Datum) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	for k, c := range cols {
		fields[k] = arrow.Field{Name: schema[c].Name, Type: schema[c].Type.Arrow(), Nullable: true}
	}
	schemaK := arrow.NewSchema(fields, nil)
	if len(cols) == 0 {
		return array.NewRecordBatch(schemaK, nil, int64(len(rows)))
	}
	b := array.NewRecordBuilder(mem, schemaK)
	defer b.Release()
	for _, row := range rows {
		for k, c := range cols {
			types.AppendDatum(b.Field(k), row[c])
		}
	}
	return b.NewRecordBatch()
}

// TestStoreFind applies random changes to keyed stores over keys of every
// shape (one integer column, which uses the int index, composite keys,
// NULLs, -0 and NaN) and checks that Find returns, for probes of present
// and absent keys, the slot whose row holds the key, and Int64s the
// values there, against a model keyed by the encoded key (the store's key
// identity).
func TestStoreFind(t *testing.T) {
	cases := []struct {
		name string
		key  []int
	}{
		{"bigint", []int{0}},
		{"int", []int{1}},
		{"timestamp", []int{6}},
		{"big,int", []int{0, 1}},
		{"dbl", []int{3}},
		{"txt,dec", []int{5, 4}},
		{"bool,date", []int{2, 7}},
		{"none", []int{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runFind(t, tc.key) })
	}
}

func runFind(t *testing.T, key []int) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(uint64(len(key)), 17))
	s := NewStore(allTypes, key, true)
	live := map[string][]types.Datum{}
	var p KeyProbe
	domain := 12
	if len(key) == 0 {
		domain = 1
	}
	for round := 0; round < 40; round++ {
		// A chunk of changes consistent with live.
		var rows [][]types.Datum
		var ops []operators.Op
		seen := map[string]bool{}
		for i := 0; i < 20; i++ {
			row := randRow(r, allTypes, 0.15, domain)
			k := encodeRow(row, allTypes, key)
			if seen[k] {
				continue
			}
			seen[k] = true
			if old, ok := live[k]; ok {
				if r.IntN(2) == 0 {
					rows, ops = append(rows, old), append(ops, operators.Delete)
					delete(live, k)
				} else {
					rows, ops = append(rows, old, row), append(ops, operators.UpdateBefore, operators.UpdateAfter)
					live[k] = row
				}
				continue
			}
			rows, ops = append(rows, row), append(ops, operators.Insert)
			live[k] = row
		}
		if err := apply(t, mem, s, rows, ops); err != nil {
			t.Fatal(err)
		}
		// Probe present and absent keys, some twice.
		var probes [][]types.Datum
		for _, row := range live {
			probes = append(probes, row)
		}
		for i := 0; i < 10; i++ {
			probes = append(probes, randRow(r, allTypes, 0.15, domain+3))
		}
		if len(probes) > 0 {
			probes = append(probes, probes[0])
		}
		keys := keyRecord(t, mem, allTypes, key, probes)
		slots := make([]uint32, len(probes))
		if err := s.Find(&p, keys, slots); err != nil {
			t.Fatal(err)
		}
		keys.Release()
		vals := make([]int64, len(probes))
		if err := s.Int64s(0, slots, vals); err != nil {
			t.Fatal(err)
		}
		for i, pr := range probes {
			want, ok := live[encodeRow(pr, allTypes, key)]
			if !ok {
				if slots[i] != NoSlot {
					t.Fatalf("round %d: key of %s absent but Find returned slot %d", round, fmtRow(pr), slots[i])
				}
				if vals[i] != 0 {
					t.Fatalf("Int64s of NoSlot = %d", vals[i])
				}
				continue
			}
			if slots[i] == NoSlot {
				t.Fatalf("round %d: key of %s present but not found", round, fmtRow(pr))
			}
			got := make([]types.Datum, len(allTypes))
			for c := range got {
				got[c] = s.cols[c].datum(int(slots[i]))
			}
			if fmtRow(got) != fmtRow(want) {
				t.Fatalf("round %d: slot of %s holds %s, want %s", round, fmtRow(pr), fmtRow(got), fmtRow(want))
			}
			var wantV int64
			if !want[0].Null {
				wantV = want[0].I
			}
			if vals[i] != wantV {
				t.Fatalf("Int64s = %d, want %d", vals[i], wantV)
			}
		}
	}
}

func TestStoreFindErrors(t *testing.T) {
	mem := memory.NewGoAllocator()
	var p KeyProbe
	keys := keyRecord(t, mem, allTypes, []int{0}, [][]types.Datum{{types.NewBigInt(1)}})
	defer keys.Release()
	slots := make([]uint32, 1)
	if err := NewStore(allTypes, nil, false).Find(&p, keys, slots); err == nil {
		t.Error("Find on a multiset: no error")
	}
	if err := NewAppendStore(allTypes).Find(&p, keys, slots); err == nil {
		t.Error("Find on an append-only store: no error")
	}
	if err := NewStore(allTypes, []int{1}, true).Find(&p, keys, slots); err == nil {
		t.Error("Find with a BIGINT key for an INT key column: no error")
	}
	if err := NewStore(allTypes, []int{0, 1}, true).Find(&p, keys, slots); err == nil {
		t.Error("Find with one key column of two: no error")
	}
	if err := NewStore(allTypes, []int{0}, true).Find(&p, keys, nil); err == nil {
		t.Error("Find into too few slots: no error")
	}
	if err := NewStore(allTypes, []int{0}, true).Int64s(5, []uint32{NoSlot}, make([]int64, 1)); err == nil {
		t.Error("Int64s of a VARCHAR column: no error")
	}
}

// BenchmarkStoreFind2Key measures Find plus Int64s of the count on a
// store of 1M co-occurrence rows, probing batches of 4096 keys of which
// three quarters are present: the read a committed-backed aggregate does
// at each barrier for the groups its epoch touched.
func BenchmarkStoreFind2Key(b *testing.B) {
	const n = 1 << 20
	mem := memory.NewGoAllocator()
	chunks := pairChunks(mem, n)
	defer releaseChunks(chunks)
	s := NewStore(pairSchema, []int{0, 1}, true)
	for _, c := range chunks {
		if err := s.Apply(c); err != nil {
			b.Fatal(err)
		}
	}
	benchFindCounts(b, s, n, 4096, rand.New(rand.NewPCG(1, 2)))
}
