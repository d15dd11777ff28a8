package topn

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

const (
	benchParts  = 10_000
	benchOthers = 100 // rows per partition: 1M rows held
	benchChunk  = 1024
	benchEpoch  = 32 // chunks per barrier (16k updates)
)

// coocStream makes chunks of (item, other, n) changes: the initial
// counts as inserts, then count increments as update pairs, items and
// others chosen Zipf-ishly.
type coocStream struct {
	mem    memory.Allocator
	schema *arrow.Schema
	counts []int64 // by item*benchOthers+other
	zi, zo *rand.Zipf
}

func newCoocStream(mem memory.Allocator, schema *arrow.Schema) *coocStream {
	r := rand.New(rand.NewPCG(1, 2))
	s := &coocStream{mem: mem, schema: schema, counts: make([]int64, benchParts*benchOthers)}
	s.zi = rand.NewZipf(r, 1.1, 1, benchParts-1)
	s.zo = rand.NewZipf(r, 1.1, 1, benchOthers-1)
	for i := range s.counts {
		s.counts[i] = int64(r.IntN(50))
	}
	return s
}

// initial returns the inserts of every count, in chunks.
func (s *coocStream) initial() []*operators.Chunk {
	var out []*operators.Chunk
	b := array.NewRecordBuilder(s.mem, s.schema)
	defer b.Release()
	item, other, n := b.Field(0).(*array.Int64Builder), b.Field(1).(*array.Int64Builder), b.Field(2).(*array.Int64Builder)
	for i, c := range s.counts {
		item.Append(int64(i / benchOthers))
		other.Append(int64(i % benchOthers))
		n.Append(c)
		if item.Len() == benchChunk || i == len(s.counts)-1 {
			out = append(out, &operators.Chunk{Rec: b.NewRecordBatch()})
		}
	}
	return out
}

// updates returns k chunks of benchChunk/2 update pairs each.
func (s *coocStream) updates(k int) []*operators.Chunk {
	out := make([]*operators.Chunk, 0, k)
	b := array.NewRecordBuilder(s.mem, s.schema)
	defer b.Release()
	item, other, n := b.Field(0).(*array.Int64Builder), b.Field(1).(*array.Int64Builder), b.Field(2).(*array.Int64Builder)
	for range k {
		ops := make([]operators.Op, 0, benchChunk)
		for j := 0; j < benchChunk/2; j++ {
			it, ot := int(s.zi.Uint64()), int(s.zo.Uint64())
			c := &s.counts[it*benchOthers+ot]
			for _, v := range [2]int64{*c, *c + 1} {
				item.Append(int64(it))
				other.Append(int64(ot))
				n.Append(v)
			}
			*c++
			ops = append(ops, operators.UpdateBefore, operators.UpdateAfter)
		}
		out = append(out, &operators.Chunk{Rec: b.NewRecordBatch(), Ops: ops})
	}
	return out
}

func pushAll(b *testing.B, op *TopN, chunks []*operators.Chunk, epoch *uint64) {
	for i, c := range chunks {
		if err := op.Push(c); err != nil {
			b.Fatal(err)
		}
		c.Rec.Release()
		if (i+1)%benchEpoch == 0 {
			*epoch++
			if err := op.Push(operators.Barrier{Epoch: *epoch}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkTopNUpdates: the "similar items" Top-N (PARTITION BY item ORDER
// BY n DESC, other, N = 20) over 10k items × 100 others = 1M counts, fed a
// Zipf-ish stream of count increments as update pairs, a barrier every
// 16k updates. Reports updates/s and bytes of heap per row held.
func BenchmarkTopNUpdates(b *testing.B) {
	mem := memory.NewGoAllocator()
	schema := types.Schema(cooc).Arrow()
	var emitted int64
	sink := operators.OutputFunc(func(m operators.Message) error {
		if c, ok := m.(*operators.Chunk); ok {
			emitted += int64(c.Len())
		}
		return nil
	})
	stream := newCoocStream(mem, schema)
	before := heapInUse()
	op, err := New(mem, schema, []types.T{tBig, tBig, tBig}, similar(20, false), sink)
	if err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	var epoch uint64
	pushAll(b, op, stream.initial(), &epoch)
	epoch++
	if err := op.Push(operators.Barrier{Epoch: epoch}); err != nil {
		b.Fatal(err)
	}
	rows := float64(len(stream.counts))
	heapPerRow := float64(heapInUse()-before) / rows
	statePerRow := float64(op.StateBytes()) / rows
	emitted = 0
	b.ResetTimer()
	updates := 0
	for updates < b.N {
		k := min(64, (b.N-updates+benchChunk/2-1)/(benchChunk/2))
		b.StopTimer()
		chunks := stream.updates(k)
		b.StartTimer()
		pushAll(b, op, chunks, &epoch)
		updates += k * benchChunk / 2
	}
	b.StopTimer()
	b.ReportMetric(float64(updates)/b.Elapsed().Seconds(), "updates/s")
	b.ReportMetric(heapPerRow, "heap-bytes/row")
	b.ReportMetric(statePerRow, "state-bytes/row")
	b.ReportMetric(float64(emitted)/float64(updates), "out/update")
	b.ReportMetric(0, "ns/op")
}
