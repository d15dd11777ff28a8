package state

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// pairSchema is the co-occurrence view's row: (item, other) -> n.
var pairSchema = types.Schema{
	{Name: "item", Type: types.BigIntType},
	{Name: "other", Type: types.BigIntType},
	{Name: "n", Type: types.BigIntType},
}

// pairKey is the key of the i-th distinct co-occurrence row of the
// benchmarks: item and other drawn so that pairs spread like item ids do.
func pairKey(i int) (item, other int64) { return int64(i%4099) * 17, int64(i/4099)*31 + 5 }

// pairChunks builds n distinct (item, other, 1) rows (pairKey) in chunks
// of 1024.
func pairChunks(mem memory.Allocator, n int) []*operators.Chunk {
	return kvChunks(mem, n, 1024, pairKey)
}

// kvChunks builds rows (kv(i), 1) for i < n in chunks of size rows.
func kvChunks(mem memory.Allocator, n, size int, kv func(i int) (int64, int64)) []*operators.Chunk {
	b := array.NewRecordBuilder(mem, pairSchema.Arrow())
	defer b.Release()
	var out []*operators.Chunk
	for lo := 0; lo < n; lo += size {
		for i := lo; i < min(lo+size, n); i++ {
			a, o := kv(i)
			b.Field(0).(*array.Int64Builder).Append(a)
			b.Field(1).(*array.Int64Builder).Append(o)
			b.Field(2).(*array.Int64Builder).Append(1)
		}
		out = append(out, &operators.Chunk{Rec: b.NewRecordBatch()})
	}
	return out
}

// fillStore applies rows (kv(i), 1) for i < n to s, 4096 at a time.
func fillStore(b *testing.B, s *Store, n int, kv func(i int) (int64, int64)) {
	mem := memory.NewGoAllocator()
	for lo := 0; lo < n; lo += 1 << 16 {
		chunks := kvChunks(mem, min(1<<16, n-lo), 4096, func(i int) (int64, int64) { return kv(lo + i) })
		for _, c := range chunks {
			if err := s.Apply(c); err != nil {
				b.Fatal(err)
			}
		}
		releaseChunks(chunks)
	}
}

// keyBatches builds count records of size keys kv(j) (of key columns
// keyCols of pairSchema: 1 or 2) for random j < n*4/3: three quarters
// of them present in a store filled with kv(i), i < n.
func keyBatches(mem memory.Allocator, r *rand.Rand, n, keyCols, size, count int, kv func(i int) (int64, int64)) []arrow.RecordBatch {
	kb := array.NewRecordBuilder(mem, arrow.NewSchema(pairSchema.Arrow().Fields()[:keyCols], nil))
	defer kb.Release()
	var recs []arrow.RecordBatch
	for range count {
		for range size {
			a, o := kv(r.IntN(n * 4 / 3))
			kb.Field(0).(*array.Int64Builder).Append(a)
			if keyCols > 1 {
				kb.Field(1).(*array.Int64Builder).Append(o)
			}
		}
		recs = append(recs, kb.NewRecordBatch())
	}
	return recs
}

// releaseRecords releases every record of recs.
func releaseRecords(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

func releaseChunks(cs []*operators.Chunk) {
	for _, c := range cs {
		c.Rec.Release()
	}
}

// BenchmarkStoreMemoryPerRow2Key reports the heap bytes per row of a store
// of the co-occurrence view's shape: three BIGINT columns keyed on the
// first two, at 1M rows and at 800K (just past an index doubling).
func BenchmarkStoreMemoryPerRow2Key(b *testing.B) {
	for _, n := range []int{1 << 20, 800_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			mem := memory.NewGoAllocator()
			chunks := pairChunks(mem, n)
			defer releaseChunks(chunks)
			var perRow float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s := NewStore(pairSchema, []int{0, 1}, true)
				for _, c := range chunks {
					if err := s.Apply(c); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perRow = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
				runtime.KeepAlive(s)
			}
			b.ReportMetric(perRow, "B/row")
		})
	}
}

// applyCase is a store and the chunks one benchmark iteration applies to
// it, leaving it as it was.
type applyCase struct {
	name   string
	schema types.Schema
	key    []int
	keyed  bool
	rows   func(i int) []types.Datum
	update bool // update pairs (as an aggregate emits) rather than insert+delete
}

// BenchmarkStoreApplyKeys measures Apply with keys the int index does not
// take: two BIGINT columns, a VARCHAR, and a multiset (the whole row is
// the key). "ins-del" inserts 64K rows then deletes them; "update" sends
// an update pair for each of 64K present rows (rows/s counts every row of
// the chunks).
func BenchmarkStoreApplyKeys(b *testing.B) {
	textSchema := types.Schema{{Name: "k", Type: types.TextType}, {Name: "v", Type: types.BigIntType}}
	cases := []applyCase{
		{name: "2bigint/ins-del", schema: pairSchema, key: []int{0, 1}, keyed: true,
			rows: func(i int) []types.Datum {
				return []types.Datum{types.NewBigInt(int64(i%4099) * 17), types.NewBigInt(int64(i/4099)*31 + 5), types.NewBigInt(1)}
			}},
		{name: "2bigint/update", schema: pairSchema, key: []int{0, 1}, keyed: true, update: true,
			rows: func(i int) []types.Datum {
				return []types.Datum{types.NewBigInt(int64(i%4099) * 17), types.NewBigInt(int64(i/4099)*31 + 5), types.NewBigInt(1)}
			}},
		{name: "bigint/update", schema: pairSchema, key: []int{0}, keyed: true, update: true,
			rows: func(i int) []types.Datum {
				return []types.Datum{types.NewBigInt(int64(i) * 17), types.NewBigInt(5), types.NewBigInt(1)}
			}},
		{name: "varchar/ins-del", schema: textSchema, key: []int{0}, keyed: true,
			rows: func(i int) []types.Datum {
				return []types.Datum{types.NewText(fmt.Sprintf("user-%07d", i*7)), types.NewBigInt(int64(i))}
			}},
		{name: "multiset/ins-del", schema: pairSchema, keyed: false,
			rows: func(i int) []types.Datum {
				return []types.Datum{types.NewBigInt(int64(i % 1000)), types.NewBigInt(int64(i % 3000)), types.NewBigInt(int64(i % 7))}
			}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) { benchApply(b, tc) })
	}
}

func benchApply(b *testing.B, tc applyCase) {
	mem := memory.NewGoAllocator()
	const n = 1 << 16
	var rows [][]types.Datum
	for i := range n {
		rows = append(rows, tc.rows(i))
	}
	var first, second []*operators.Chunk
	var upd [][]types.Datum
	var updOps []operators.Op
	for lo := 0; lo < n; lo += 1024 {
		part := rows[lo : lo+1024]
		first = append(first, mkChunk(b, mem, tc.schema, part, nil))
		if !tc.update {
			del := make([]operators.Op, len(part))
			for i := range del {
				del[i] = operators.Delete
			}
			second = append(second, mkChunk(b, mem, tc.schema, part, del))
			continue
		}
		upd, updOps = upd[:0], updOps[:0]
		for _, r := range part[:512] {
			nw := append([]types.Datum(nil), r...)
			nw[2] = types.NewBigInt(r[2].I + 1)
			upd = append(upd, r, nw)
			updOps = append(updOps, operators.UpdateBefore, operators.UpdateAfter)
		}
		second = append(second, mkChunk(b, mem, tc.schema, upd, updOps))
		upd, updOps = upd[:0], updOps[:0]
		for _, r := range part[:512] {
			nw := append([]types.Datum(nil), r...)
			nw[2] = types.NewBigInt(r[2].I + 1)
			upd = append(upd, nw, r)
			updOps = append(updOps, operators.UpdateBefore, operators.UpdateAfter)
		}
		second = append(second, mkChunk(b, mem, tc.schema, upd, updOps))
	}
	defer releaseChunks(append(append([]*operators.Chunk(nil), first...), second...))
	s := NewStore(tc.schema, tc.key, tc.keyed)
	if tc.update {
		for _, c := range first {
			if err := s.Apply(c); err != nil {
				b.Fatal(err)
			}
		}
		first = nil
	}
	for b.Loop() {
		for _, c := range first {
			if err := s.Apply(c); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range second {
			if err := s.Apply(c); err != nil {
				b.Fatal(err)
			}
		}
	}
	perIter := 0
	for _, c := range append(first, second...) {
		perIter += c.Len()
	}
	b.ReportMetric(float64(perIter*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkStoreApplyLarge measures update pairs (as an aggregate emits
// them) on random keys of a store of 1M (item, other, n) rows, keyed on
// (item, other) as the co-occurrence view is, and on a single BIGINT: the
// index and columns are far bigger than the caches, as in the
// recommendation workload. "2key-hinted" carries the slots as a
// committed-backed aggregate's SlotHint does (found by Find beforehand).
func BenchmarkStoreApplyLarge(b *testing.B) {
	single := func(i int) (int64, int64) { return int64(i) * 7919, 5 }
	b.Run("2key", func(b *testing.B) { benchApplyLarge(b, []int{0, 1}, pairKey, false) })
	b.Run("2key-hinted", func(b *testing.B) { benchApplyLarge(b, []int{0, 1}, pairKey, true) })
	b.Run("1key", func(b *testing.B) { benchApplyLarge(b, []int{0}, single, false) })
}

func benchApplyLarge(b *testing.B, key []int, kv func(i int) (int64, int64), hinted bool) {
	mem := memory.NewGoAllocator()
	const n = 1 << 20
	s := NewStore(pairSchema, key, true)
	fillStore(b, s, n, kv)
	bld := array.NewRecordBuilder(mem, pairSchema.Arrow())
	defer bld.Release()
	// 64 chunks of 512 update pairs over a random permutation's keys,
	// then 64 that undo them.
	r := rand.New(rand.NewPCG(5, 6))
	perm := r.Perm(n)[:64*512]
	var upd []*operators.Chunk
	for _, back := range []bool{false, true} {
		for lo := 0; lo < len(perm); lo += 512 {
			var rows [][]types.Datum
			var ops []operators.Op
			for _, i := range perm[lo : lo+512] {
				item, other := kv(i)
				before := []types.Datum{types.NewBigInt(item), types.NewBigInt(other), types.NewBigInt(1)}
				after := []types.Datum{types.NewBigInt(item), types.NewBigInt(other), types.NewBigInt(2)}
				if back {
					before, after = after, before
				}
				rows = append(rows, before, after)
				ops = append(ops, operators.UpdateBefore, operators.UpdateAfter)
			}
			upd = append(upd, mkChunk(b, mem, pairSchema, rows, ops))
		}
	}
	defer releaseChunks(upd)
	if hinted {
		var probe KeyProbe
		for _, c := range upd {
			keys := c.Rec.NewSlice(0, c.Rec.NumRows())
			cols := make([]arrow.Array, len(key))
			for k, col := range key {
				cols[k] = keys.Column(col)
			}
			kr := array.NewRecordBatch(arrow.NewSchema(keyFields(keys.Schema(), key), nil), cols, keys.NumRows())
			slots := make([]uint32, c.Len())
			if err := s.Find(&probe, kr, slots); err != nil {
				b.Fatal(err)
			}
			kr.Release()
			keys.Release()
			id, gen := s.SlotStamp()
			c.Slots = &operators.SlotHint{Store: id, Gen: gen, Slots: slots}
		}
	}
	var cpu time.Duration
	for b.Loop() {
		t0 := cpuTime()
		for _, c := range upd {
			if err := s.Apply(c); err != nil {
				b.Fatal(err)
			}
		}
		cpu += cpuTime() - t0
	}
	b.ReportMetric(float64(len(upd)*512*b.N)/b.Elapsed().Seconds(), "pairs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(len(upd)*512*b.N), "cpu-ns/pair")
}

// keyFields returns the fields of s at cols.
func keyFields(s *arrow.Schema, cols []int) []arrow.Field {
	out := make([]arrow.Field, len(cols))
	for k, c := range cols {
		out[k] = s.Field(c)
	}
	return out
}

// BenchmarkStoreLookup2Key measures a point lookup by random (item,
// other) key in a store of 1M co-occurrence rows, returning the count.
func BenchmarkStoreLookup2Key(b *testing.B) {
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
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([][]types.Datum, 4096)
	for i := range keys {
		j := r.IntN(n)
		keys[i] = []types.Datum{types.NewBigInt(int64(j%4099) * 17), types.NewBigInt(int64(j/4099)*31 + 5)}
	}
	cols := []int{2}
	dst := make([]types.Datum, 0, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		row, ok := s.Lookup(keys[i&4095], cols, dst[:0])
		i++
		if !ok || len(row) != 1 {
			b.Fatal("lookup missed")
		}
	}
}
