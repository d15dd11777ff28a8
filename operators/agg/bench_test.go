package agg

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/types"
)

const (
	benchKeys      = 100_000
	benchBatch     = 4096
	benchBatches   = 64
	benchBarrierEv = 256 // batches between barriers (~1M rows)
)

func benchAgg(b *testing.B, mem memory.Allocator) *HashAgg {
	b.Helper()
	schema := types.Schema(kvCols).Arrow()
	specs := []Spec{
		{Kind: CountStar, Result: types.BigIntType, Name: "n"},
		{Kind: Sum, Arg: 1, ArgType: types.BigIntType, Result: types.BigIntType, Name: "s"},
	}
	sink := operators.OutputFunc(func(operators.Message) error { return nil })
	h, err := New(mem, schema, []types.T{types.BigIntType, types.BigIntType}, []int{0}, specs, false, sink)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func int64Rec(mem memory.Allocator, schema *arrow.Schema, ks, vs []int64) arrow.RecordBatch {
	kb := array.NewInt64Builder(mem)
	defer kb.Release()
	vb := array.NewInt64Builder(mem)
	defer vb.Release()
	kb.AppendValues(ks, nil)
	vb.AppendValues(vs, nil)
	ka, va := kb.NewArray(), vb.NewArray()
	defer ka.Release()
	defer va.Release()
	return array.NewRecordBatch(schema, []arrow.Array{ka, va}, int64(len(ks)))
}

// benchChunks pre-builds a cycle of batches over benchKeys random keys.
// With deletePct > 0, that share of each batch's rows (from the second
// batch on) retracts rows inserted earlier in the same cycle, so the cycle
// can be replayed any number of times.
func benchChunks(b *testing.B, mem memory.Allocator, schema *arrow.Schema, deletePct int) []*operators.Chunk {
	r := rand.New(rand.NewPCG(1, 2))
	type kv struct{ k, v int64 }
	var pool []kv
	var chunks []*operators.Chunk
	for j := 0; j < benchBatches; j++ {
		ks, vs := make([]int64, benchBatch), make([]int64, benchBatch)
		var ops []operators.Op
		if deletePct > 0 {
			ops = make([]operators.Op, benchBatch)
		}
		for i := range ks {
			if deletePct > 0 && j > 0 && r.IntN(100) < deletePct && len(pool) > 0 {
				p := r.IntN(len(pool))
				ks[i], vs[i] = pool[p].k, pool[p].v
				pool[p] = pool[len(pool)-1]
				pool = pool[:len(pool)-1]
				ops[i] = operators.Delete
				continue
			}
			ks[i], vs[i] = int64(r.IntN(benchKeys)), int64(r.IntN(1000))
			if deletePct > 0 {
				pool = append(pool, kv{ks[i], vs[i]})
			}
		}
		chunks = append(chunks, &operators.Chunk{Rec: int64Rec(mem, schema, ks, vs), Ops: ops})
	}
	return chunks
}

func runCountSum(b *testing.B, deletePct int) {
	mem := memory.NewGoAllocator()
	h := benchAgg(b, mem)
	defer h.Close()
	chunks := benchChunks(b, mem, h.in, deletePct)
	defer func() {
		for _, c := range chunks {
			c.Rec.Release()
		}
	}()
	// Warm up: every key has a group.
	for _, c := range chunks {
		if err := h.Push(c); err != nil {
			b.Fatal(err)
		}
	}
	if err := h.Push(operators.Barrier{Epoch: 1}); err != nil {
		b.Fatal(err)
	}
	epoch := uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	rows := pushCycling(b, h, chunks, benchBarrierEv, &epoch)
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkAggCountSumAppendOnly: COUNT(*), SUM(BIGINT) GROUP BY one
// BIGINT key over 100k keys, 4096-row append-only batches, a barrier every
// 256 batches.
func BenchmarkAggCountSumAppendOnly(b *testing.B) { runCountSum(b, 0) }

// BenchmarkAggCountSumWithDeletes is the same with 20% of rows deletes.
func BenchmarkAggCountSumWithDeletes(b *testing.B) { runCountSum(b, 20) }

// BenchmarkAggMemoryPerGroup measures the heap held by 1M groups of
// COUNT(*), SUM(BIGINT) GROUP BY BIGINT.
func BenchmarkAggMemoryPerGroup(b *testing.B) {
	const groups = 1_000_000
	mem := memory.NewGoAllocator()
	schema := types.Schema(kvCols).Arrow()
	perm := rand.New(rand.NewPCG(3, 4)).Perm(groups)
	ks, vs := make([]int64, benchBatch), make([]int64, benchBatch)
	var perGroup float64
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		h := benchAgg(b, mem)
		for start := 0; start < groups; start += benchBatch {
			n := min(benchBatch, groups-start)
			for j := 0; j < n; j++ {
				ks[j], vs[j] = int64(perm[start+j])*7919, int64(j)
			}
			rec := int64Rec(mem, schema, ks[:n], vs[:n])
			err := h.Push(&operators.Chunk{Rec: rec})
			rec.Release()
			if err != nil {
				b.Fatal(err)
			}
		}
		if err := h.Push(operators.Barrier{Epoch: 1}); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perGroup = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / groups
		runtime.KeepAlive(h)
		h.Close()
	}
	b.ReportMetric(perGroup, "B/group")
}

// BenchmarkAggVarcharKey: COUNT(*), SUM(BIGINT) GROUP BY a VARCHAR key
// over 100k keys (the general encoded-key path), append-only.
func BenchmarkAggVarcharKey(b *testing.B) {
	mem := memory.NewGoAllocator()
	cols := []types.Column{{Name: "k", Type: types.TextType}, {Name: "v", Type: types.BigIntType}}
	schema := types.Schema(cols).Arrow()
	specs := []Spec{
		{Kind: CountStar, Result: types.BigIntType, Name: "n"},
		{Kind: Sum, Arg: 1, ArgType: types.BigIntType, Result: types.BigIntType, Name: "s"},
	}
	sink := operators.OutputFunc(func(operators.Message) error { return nil })
	h, err := New(mem, schema, []types.T{types.TextType, types.BigIntType}, []int{0}, specs, true, sink)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	r := rand.New(rand.NewPCG(5, 6))
	var chunks []*operators.Chunk
	for j := 0; j < benchBatches; j++ {
		kb := array.NewStringBuilder(mem)
		vb := array.NewInt64Builder(mem)
		for i := 0; i < benchBatch; i++ {
			kb.Append("user-" + string(rune('a'+r.IntN(26))) + "-" + strconv.Itoa(r.IntN(benchKeys/26)))
			vb.Append(int64(i))
		}
		ka, va := kb.NewArray(), vb.NewArray()
		kb.Release()
		vb.Release()
		chunks = append(chunks, &operators.Chunk{Rec: array.NewRecordBatch(schema, []arrow.Array{ka, va}, benchBatch)})
		ka.Release()
		va.Release()
	}
	defer func() {
		for _, c := range chunks {
			c.Rec.Release()
		}
	}()
	for _, c := range chunks {
		if err := h.Push(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	epoch := uint64(1)
	rows := pushCycling(b, h, chunks, benchBarrierEv, &epoch)
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// pushCycling pushes b.N chunks, cycling through chunks, with a barrier
// (numbered on from *epoch) after every barrierEvery, and returns the rows
// pushed.
func pushCycling(b *testing.B, h *HashAgg, chunks []*operators.Chunk, barrierEvery int, epoch *uint64) int {
	rows := 0
	for i := 0; i < b.N; i++ {
		c := chunks[i%len(chunks)]
		if err := h.Push(c); err != nil {
			b.Fatal(err)
		}
		rows += c.Len()
		if i%barrierEvery == barrierEvery-1 {
			*epoch++
			if err := h.Push(operators.Barrier{Epoch: *epoch}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return rows
}

// storeCommitted serves a committed-backed aggregate from a state.Store
// holding its output (column i of the store is output column i), as the
// executor does for a view's store.
type storeCommitted struct {
	st    *state.Store
	probe state.KeyProbe
}

func (s *storeCommitted) SlotStamp() (uint64, uint64) { return s.st.SlotStamp() }

func (s *storeCommitted) Read(keys arrow.RecordBatch, cols []int, found []bool, dst [][]int64, slots []uint32) error {
	if err := s.st.Find(&s.probe, keys, slots); err != nil {
		return err
	}
	for i, sl := range slots {
		found[i] = sl != state.NoSlot
	}
	for k, c := range cols {
		if err := s.st.Int64s(c, slots, dst[k]); err != nil {
			return err
		}
	}
	return nil
}

// storeSink applies an aggregate's output to a keyed store at each
// barrier: the commit of a view's epoch.
type storeSink struct {
	st      *state.Store
	pending []*operators.Chunk
}

func (s *storeSink) Push(m operators.Message) error {
	switch m := m.(type) {
	case *operators.Chunk:
		m.Rec.Retain()
		s.pending = append(s.pending, &operators.Chunk{Rec: m.Rec, Ops: m.Ops})
	case operators.Barrier:
		for _, c := range s.pending {
			err := s.st.Apply(c)
			c.Rec.Release()
			if err != nil {
				return err
			}
		}
		s.pending = s.pending[:0]
	}
	return nil
}

// BenchmarkAggPairCounts measures the co-occurrence view's aggregate:
// COUNT(*) GROUP BY two BIGINT columns over about 1M pairs, append-only
// 4096-row batches, a barrier every 64 batches whose output is applied to
// the view's store. "full" keeps every group in the aggregate, "committed"
// only the epoch's deltas, reading the old counts from the store at the
// barrier. It reports rows/s and the heap bytes per pair of the aggregate
// and the store together. "full4M" cycles through 1024 distinct batches
// over about 4M pairs, so the aggregate holds about 2.6M groups and its
// key probes miss the cache as in the co-occurrence view. "zipf" is
// committed with Zipf-skewed pairs (both items drawn with s = 1.25 over
// 10k items) and a barrier every 256 batches, so that an epoch's 1M rows
// fall into about 200k distinct pairs, about 5 rows per pair as in the
// co-occurrence view; it cycles through 4 distinct epochs.
func BenchmarkAggPairCounts(b *testing.B) {
	b.Run("full", func(b *testing.B) { benchPairCounts(b, false, uniformPairs(1<<20), benchBatches, benchBatches, 16) })
	b.Run("committed", func(b *testing.B) { benchPairCounts(b, true, uniformPairs(1<<20), benchBatches, benchBatches, 16) })
	b.Run("full4M", func(b *testing.B) { benchPairCounts(b, false, uniformPairs(1<<22), 1024, benchBatches, 1) })
	b.Run("zipf", func(b *testing.B) { benchPairCounts(b, true, zipfPairs(1.25, 10_000), 1024, 256, 1) })
}

// pairGen fills a batch of pairs with draws from r.
type pairGen func(r *rand.Rand, ks, vs []int64)

// uniformPairs draws pairs uniformly from pairs distinct pairs.
func uniformPairs(pairs int) pairGen {
	return func(r *rand.Rand, ks, vs []int64) {
		for i := range ks {
			p := r.IntN(pairs)
			ks[i], vs[i] = int64(p%4099)*17, int64(p/4099)*31+5
		}
	}
}

// zipfPairs draws both items of a pair independently from a Zipf
// distribution with exponent s over items items.
func zipfPairs(s float64, items uint64) pairGen {
	return func(r *rand.Rand, ks, vs []int64) {
		z := rand.NewZipf(r, s, 1, items-1)
		for i := range ks {
			ks[i], vs[i] = int64(z.Uint64())*17+3, int64(z.Uint64())*31+5
		}
	}
}

// benchPairCounts runs the pair-count benchmark cycling through batches
// distinct batches drawn by gen, after warm passes over them, with a
// barrier every epoch batches.
func benchPairCounts(b *testing.B, committed bool, gen pairGen, batches, epoch, warm int) {
	mem := memory.NewGoAllocator()
	cols := []types.Column{{Name: "a", Type: types.BigIntType}, {Name: "b", Type: types.BigIntType}}
	schema := types.Schema(cols).Arrow()
	outSchema := types.Schema{cols[0], cols[1], {Name: "n", Type: types.BigIntType}}
	r := rand.New(rand.NewPCG(7, 8))
	chunks := make([]*operators.Chunk, batches)
	ks, vs := make([]int64, benchBatch), make([]int64, benchBatch)
	for j := range chunks {
		gen(r, ks, vs)
		chunks[j] = &operators.Chunk{Rec: int64Rec(mem, schema, ks, vs)}
	}
	defer func() {
		for _, c := range chunks {
			c.Rec.Release()
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	st := state.NewStore(outSchema, []int{0, 1}, true)
	sink := &storeSink{st: st}
	opts := Options{WatermarkGroupCol: -1}
	if committed {
		opts.Committed = &storeCommitted{st: st}
	}
	h, err := NewWithOptions(mem, schema, []types.T{types.BigIntType, types.BigIntType}, []int{0, 1},
		[]Spec{{Kind: CountStar, Result: types.BigIntType, Name: "n"}}, true, opts, sink)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	ep := uint64(0)
	// Warm up: most pairs of the cycle have a row.
	for range warm {
		for i, c := range chunks {
			if err := h.Push(c); err != nil {
				b.Fatal(err)
			}
			if i%epoch == epoch-1 || i == len(chunks)-1 {
				ep++
				if err := h.Push(operators.Barrier{Epoch: ep}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	rows := pushCycling(b, h, chunks, epoch, &ep)
	ep++
	if err := h.Push(operators.Barrier{Epoch: ep}); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(st.Len()), "B/pair")
	runtime.KeepAlive(h)
	runtime.KeepAlive(st)
}
