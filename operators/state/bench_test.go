package state

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

var countSumSchema = types.Schema{
	{Name: "k", Type: types.BigIntType},
	{Name: "cnt", Type: types.BigIntType},
	{Name: "sum", Type: types.BigIntType},
}

// buildCountSumStore fills a keyed store with n rows (k, k%7, k*3) in
// batches of 1024, as a 1M-group COUNT/SUM view would hold them.
func buildCountSumStore(tb testing.TB, mem memory.Allocator, n int) *Store {
	s := NewStore(countSumSchema, []int{0}, true)
	b := array.NewRecordBuilder(mem, countSumSchema.Arrow())
	defer b.Release()
	k := b.Field(0).(*array.Int64Builder)
	c := b.Field(1).(*array.Int64Builder)
	sm := b.Field(2).(*array.Int64Builder)
	for lo := 0; lo < n; lo += 1024 {
		hi := min(lo+1024, n)
		for i := lo; i < hi; i++ {
			k.Append(int64(i) * 7919)
			c.Append(int64(i % 7))
			sm.Append(int64(i) * 3)
		}
		rec := b.NewRecordBatch()
		err := s.Apply(&operators.Chunk{Rec: rec})
		rec.Release()
		if err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// BenchmarkStoreMemoryPerRow reports the heap bytes per row of a keyed
// store (BIGINT key, BIGINT count, BIGINT sum) of 1M rows, and of 800K
// rows (just past an index doubling, with append slack in the columns:
// about the worst case).
func BenchmarkStoreMemoryPerRow(b *testing.B) {
	for _, n := range []int{1 << 20, 800_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			mem := memory.NewGoAllocator()
			var perRow float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s := buildCountSumStore(b, mem, n)
				runtime.GC()
				runtime.ReadMemStats(&after)
				perRow = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
				runtime.KeepAlive(s)
			}
			b.ReportMetric(perRow, "B/row")
		})
	}
}

func lookupKeys(n int) [][]types.Datum {
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([][]types.Datum, 4096)
	for i := range keys {
		keys[i] = []types.Datum{types.NewBigInt(int64(r.IntN(n)) * 7919)}
	}
	return keys
}

// BenchmarkStoreLookup measures a point lookup (two columns back as
// Datums) by random key in a 1M-row store.
func BenchmarkStoreLookup(b *testing.B) {
	const n = 1 << 20
	s := buildCountSumStore(b, memory.NewGoAllocator(), n)
	keys := lookupKeys(n)
	cols := []int{1, 2}
	dst := make([]types.Datum, 0, 2)
	i := 0
	for b.Loop() {
		row, ok := s.Lookup(keys[i&4095], cols, dst[:0])
		i++
		if !ok || len(row) != 2 {
			b.Fatal("lookup missed")
		}
	}
}

// BenchmarkStoreLookupLatency times each lookup in a 1M-row store on its
// own and reports the p50 and p99 (time.Now costs a few tens of ns of
// each figure).
func BenchmarkStoreLookupLatency(b *testing.B) {
	const n = 1 << 20
	s := buildCountSumStore(b, memory.NewGoAllocator(), n)
	keys := lookupKeys(n)
	cols := []int{1, 2}
	dst := make([]types.Datum, 0, 2)
	lat := make([]time.Duration, 0, 1<<20)
	i := 0
	for b.Loop() {
		k := keys[i&4095]
		i++
		t0 := time.Now()
		row, ok := s.Lookup(k, cols, dst[:0])
		d := time.Since(t0)
		if !ok || len(row) != 2 {
			b.Fatal("lookup missed")
		}
		if len(lat) < cap(lat) {
			lat = append(lat, d)
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	}
}

// BenchmarkStoreApply measures folding inserts into a keyed store and
// deleting them again (rows/s counts both).
func BenchmarkStoreApply(b *testing.B) {
	mem := memory.NewGoAllocator()
	const n = 1 << 16
	bld := array.NewRecordBuilder(mem, countSumSchema.Arrow())
	defer bld.Release()
	var ins, del []*operators.Chunk
	ops := make([]operators.Op, 1024)
	for i := range ops {
		ops[i] = operators.Delete
	}
	for lo := 0; lo < n; lo += 1024 {
		for i := lo; i < lo+1024; i++ {
			bld.Field(0).(*array.Int64Builder).Append(int64(i) * 31)
			bld.Field(1).(*array.Int64Builder).Append(1)
			bld.Field(2).(*array.Int64Builder).Append(int64(i))
		}
		rec := bld.NewRecordBatch()
		defer rec.Release()
		ins = append(ins, &operators.Chunk{Rec: rec})
		del = append(del, &operators.Chunk{Rec: rec, Ops: ops})
	}
	s := NewStore(countSumSchema, []int{0}, true)
	for b.Loop() {
		for _, c := range ins {
			if err := s.Apply(c); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range del {
			if err := s.Apply(c); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkStoreScan measures scanning a 1M-row store into batches of 1024.
func BenchmarkStoreScan(b *testing.B) {
	const n = 1 << 20
	mem := memory.NewGoAllocator()
	s := buildCountSumStore(b, mem, n)
	cols := []int{0, 1, 2}
	for b.Loop() {
		if err := s.Scan(mem, cols, 1024, func(arrow.RecordBatch) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}
