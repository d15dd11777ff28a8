package state

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
)

// hydrateStore is a store of about 5M co-occurrence rows, built once for
// the hydrate-shaped benchmarks (building it takes seconds).
// BenchmarkStoreApplyCommit adds rows to it, of keys the others never
// probe.
var hydrateStore struct {
	once sync.Once
	s    *Store
	n    int
}

func bigPairStore(b *testing.B) (*Store, int) {
	hydrateStore.once.Do(func() {
		const n = 5 << 20
		s := NewStore(pairSchema, []int{0, 1}, true)
		fillStore(b, s, n, pairKey)
		hydrateStore.s, hydrateStore.n = s, n
	})
	if hydrateStore.s == nil {
		b.Fatal("no store")
	}
	return hydrateStore.s, hydrateStore.n
}

// BenchmarkStoreFindHydrate measures Find plus Int64s of the count as the
// committed-backed aggregate's hydrate does them: batches of 16384 random
// (item, other) keys, three quarters present, on a store of about 5M
// rows, far bigger than the caches.
func BenchmarkStoreFindHydrate(b *testing.B) {
	s, n := bigPairStore(b)
	benchFindCounts(b, s, n, 16384, rand.New(rand.NewPCG(3, 4)))
}

// benchFindCounts measures Find plus Int64s of the count (column 2) of s,
// which holds the pair keys 0..n-1 (pairKey), in batches of random keys,
// three quarters present.
func benchFindCounts(b *testing.B, s *Store, n, batch int, r *rand.Rand) {
	recs := keyBatches(memory.NewGoAllocator(), r, n, 2, batch, 16, pairKey)
	defer releaseRecords(recs)
	var p KeyProbe
	slots := make([]uint32, batch)
	vals := make([]int64, batch)
	b.ReportAllocs()
	i := 0
	var cpu time.Duration
	for b.Loop() {
		t0 := cpuTime()
		if err := s.Find(&p, recs[i%len(recs)], slots); err != nil {
			b.Fatal(err)
		}
		if err := s.Int64s(2, slots, vals); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - t0
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/key")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*batch), "cpu-ns/key")
}

// BenchmarkStoreApplyCommit measures Apply as a commit of the
// co-occurrence view does it, on a store of about 5M rows: chunks of 4096
// rows, 1536 update pairs on random present keys, hinted as the
// committed-backed aggregate hints them (Find's slots), and 1024 inserts
// of new keys, with the store out of the caches.
func BenchmarkStoreApplyCommit(b *testing.B) {
	s, n := bigPairStore(b)
	mem := memory.NewGoAllocator()
	r := rand.New(rand.NewPCG(7, 8))
	bld := array.NewRecordBuilder(mem, pairSchema.Arrow())
	defer bld.Release()
	kb := array.NewRecordBuilder(mem, arrow.NewSchema(pairSchema.Arrow().Fields()[:2], nil))
	defer kb.Release()
	const pairs, inserts = 1536, 1024
	ops := make([]operators.Op, 0, 2*pairs+inserts)
	for range pairs {
		ops = append(ops, operators.UpdateBefore, operators.UpdateAfter)
	}
	for range inserts {
		ops = append(ops, operators.Insert)
	}
	var p KeyProbe
	fresh := int64(0)
	mk := func() *operators.Chunk {
		app := func(a, o, v int64) {
			bld.Field(0).(*array.Int64Builder).Append(a)
			bld.Field(1).(*array.Int64Builder).Append(o)
			bld.Field(2).(*array.Int64Builder).Append(v)
			kb.Field(0).(*array.Int64Builder).Append(a)
			kb.Field(1).(*array.Int64Builder).Append(o)
		}
		for range pairs {
			a, o := pairKey(r.IntN(n))
			app(a, o, 1)
			app(a, o, 1)
		}
		for range inserts {
			fresh++
			app(-fresh, fresh, 1)
		}
		rec, keys := bld.NewRecordBatch(), kb.NewRecordBatch()
		defer keys.Release()
		slots := make([]uint32, rec.NumRows())
		if err := s.Find(&p, keys, slots); err != nil {
			b.Fatal(err)
		}
		id, gen := s.SlotStamp()
		return &operators.Chunk{Rec: rec, Ops: ops, Slots: &operators.SlotHint{Store: id, Gen: gen, Slots: slots}}
	}
	// Chunks are made (and their keys found) 64 at a time with the timer
	// stopped, then the caches are flushed, as the epoch's work between
	// an aggregate's hydrate and the commit does, and the heap collected.
	// At most 600 iterations keep the index from doubling (a one-off).
	flush := make([]int64, 8<<20)
	var pool []*operators.Chunk
	var cpu time.Duration
	for b.Loop() {
		if len(pool) == 0 {
			b.StopTimer()
			for range 64 {
				pool = append(pool, mk())
			}
			for i := range flush {
				flush[i]++
			}
			runtime.GC()
			b.StartTimer()
		}
		c := pool[0]
		pool = pool[1:]
		t0 := cpuTime()
		var err error
		// The label picks the timed Applies out of a CPU profile, which
		// also holds the store's building.
		pprof.Do(context.Background(), pprof.Labels("bench", "commit"), func(context.Context) { err = s.Apply(c) })
		cpu += cpuTime() - t0
		c.Rec.Release()
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range pool {
		c.Rec.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(2*pairs+inserts)), "ns/row")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*(2*pairs+inserts)), "cpu-ns/row")
}

// BenchmarkStoreFindCached measures Find on a store of 256K co-occurrence
// rows (8 MB, mostly in the caches), keyed on (item, other) and on one
// BIGINT, in batches of 4096 keys: the size below which Find probes key
// by key rather than in blocks (see touchBytes).
func BenchmarkStoreFindCached(b *testing.B) {
	const n = 1 << 18
	mem := memory.NewGoAllocator()
	r := rand.New(rand.NewPCG(3, 4))
	for _, key := range [][]int{{0, 1}, {0}} {
		kv := pairKey
		if len(key) == 1 {
			// item and other folded into the one key column
			kv = func(j int) (int64, int64) {
				a, o := pairKey(j)
				return a*1_000_003 + o, 0
			}
		}
		s := NewStore(pairSchema, key, true)
		fillStore(b, s, n, kv)
		keys := keyBatches(mem, r, n, len(key), 4096, 1, kv)[0]
		b.Run(fmt.Sprintf("%dkey", len(key)), func(b *testing.B) {
			var p KeyProbe
			slots := make([]uint32, keys.NumRows())
			var cpu time.Duration
			for b.Loop() {
				t0 := cpuTime()
				if err := s.Find(&p, keys, slots); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - t0
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(slots)), "cpu-ns/key")
		})
		keys.Release()
	}
}
