package topn

import (
	"math"
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
	benchOthers = 100 // rows per partition of the uniform stream: 1M rows held
	benchChunk  = 1024
	benchEpoch  = 32 // chunks per barrier (16k updates)
)

// coocStream makes chunks of (item, other, n) changes: the initial
// counts as inserts, then count increments as update pairs. Partition i
// holds size[i] rows (others 0..size[i]-1).
type coocStream struct {
	mem    memory.Allocator
	schema *arrow.Schema
	r      *rand.Rand
	start  []int   // by item: index of its first count
	counts []int64 // by start[item]+other
	zi     *rand.Zipf
	zo     []*rand.Zipf // by item; nil: a shared one over benchOthers
	zo1    *rand.Zipf
	maxInc int // increments are 1..maxInc
	// inserts is the share of changes that insert a new row (a new
	// other, n 1 or 2) rather than update one; next is each item's next
	// new other. The new rows are never updated.
	inserts float64
	next    []int
	// epoch is the chunks per barrier; 0: benchEpoch.
	epoch int
	// popular: one update in popular is of a popular other (Zipf), the
	// others of any other (uniformly); skewed streams only.
	popular int
}

// newCoocStream is the uniform stream: 10k items × 100 others, counts
// uniform in [0, 50), items and others of the updates chosen Zipf-ishly.
func newCoocStream(mem memory.Allocator, schema *arrow.Schema) *coocStream {
	r := rand.New(rand.NewPCG(1, 2))
	s := &coocStream{mem: mem, schema: schema, r: r, counts: make([]int64, benchParts*benchOthers), maxInc: 1}
	s.start = make([]int, benchParts+1)
	for i := range s.start {
		s.start[i] = i * benchOthers
	}
	s.zi = rand.NewZipf(r, 1.1, 1, benchParts-1)
	s.zo1 = rand.NewZipf(r, 1.1, 1, benchOthers-1)
	for i := range s.counts {
		s.counts[i] = int64(r.IntN(50))
	}
	return s
}

// newSkewedCoocStream mimics the co-occurrence workload: 10k items whose
// partition sizes are Zipf-skewed (item i holds c/(i+1)^0.9 others,
// capped at 9999, avg on average), counts falling
// with the other's popularity (most counts small, many ties), and updates
// raising a count by 1 to 3, items chosen Zipf-ishly and others
// uniformly (7 in 8: s.popular) or Zipf-ishly (popular pairs), so most updates are
// far below the top 20.
func newSkewedCoocStream(mem memory.Allocator, schema *arrow.Schema, avg int) *coocStream {
	r := rand.New(rand.NewPCG(3, 4))
	s := &coocStream{mem: mem, schema: schema, r: r, maxInc: 3, popular: 8}
	size := func(c float64, i int) int { return min(9999, max(2, int(c*math.Pow(float64(i+1), -0.9)))) }
	c := float64(avg)
	for range 20 { // scale c so that the capped sizes average avg
		total := 0
		for i := range benchParts {
			total += size(c, i)
		}
		c *= float64(avg*benchParts) / float64(total)
	}
	s.start = make([]int, benchParts+1)
	s.zo = make([]*rand.Zipf, benchParts)
	for i := range benchParts {
		n := size(c, i)
		s.start[i+1] = s.start[i] + n
		s.zo[i] = rand.NewZipf(r, 1.05, 4, uint64(n-1))
	}
	s.counts = make([]int64, s.start[benchParts])
	for i := range benchParts {
		for j := range s.start[i+1] - s.start[i] {
			s.counts[s.start[i]+j] = 1 + int64(200/(j+1)) + int64(r.IntN(3))
		}
	}
	s.zi = rand.NewZipf(r, 1.1, 1, benchParts-1)
	return s
}

// initial returns the inserts of every count, in chunks.
func (s *coocStream) initial() []*operators.Chunk {
	var out []*operators.Chunk
	b := array.NewRecordBuilder(s.mem, s.schema)
	defer b.Release()
	item, other, n := b.Field(0).(*array.Int64Builder), b.Field(1).(*array.Int64Builder), b.Field(2).(*array.Int64Builder)
	for it := range benchParts {
		for j := s.start[it]; j < s.start[it+1]; j++ {
			item.Append(int64(it))
			other.Append(int64(j - s.start[it]))
			n.Append(s.counts[j])
			if item.Len() == benchChunk {
				out = append(out, &operators.Chunk{Rec: b.NewRecordBatch()})
			}
		}
	}
	if item.Len() > 0 {
		out = append(out, &operators.Chunk{Rec: b.NewRecordBatch()})
	}
	return out
}

// updates returns k chunks of benchChunk rows each: update pairs, and
// inserts of new rows in the share s.inserts of the changes. It also
// returns the number of changes (an update pair or an insert each).
func (s *coocStream) updates(k int) ([]*operators.Chunk, int) {
	out := make([]*operators.Chunk, 0, k)
	b := array.NewRecordBuilder(s.mem, s.schema)
	defer b.Release()
	item, other, n := b.Field(0).(*array.Int64Builder), b.Field(1).(*array.Int64Builder), b.Field(2).(*array.Int64Builder)
	changes := 0
	for range k {
		ops := make([]operators.Op, 0, benchChunk)
		for len(ops) < benchChunk {
			changes++
			it := int(s.zi.Uint64())
			if s.inserts > 0 && (len(ops)+1 == benchChunk || s.r.Float64() < s.inserts) {
				if s.next == nil {
					s.next = make([]int, benchParts)
					for i := range s.next {
						s.next[i] = s.start[i+1] - s.start[i]
					}
				}
				item.Append(int64(it))
				other.Append(int64(s.next[it]))
				n.Append(1 + int64(s.r.IntN(2)))
				s.next[it]++
				ops = append(ops, operators.Insert)
				continue
			}
			var ot int
			if s.zo != nil {
				if size := s.start[it+1] - s.start[it]; s.r.IntN(s.popular) != 0 {
					ot = s.r.IntN(size) // most updates: anywhere, mostly far below the top
				} else {
					ot = int(s.zo[it].Uint64())
				}
			} else {
				ot = int(s.zo1.Uint64())
			}
			c := &s.counts[s.start[it]+ot]
			inc := int64(1)
			if s.maxInc > 1 {
				inc += int64(s.r.IntN(s.maxInc))
			}
			for _, v := range [2]int64{*c, *c + inc} {
				item.Append(int64(it))
				other.Append(int64(ot))
				n.Append(v)
			}
			*c += inc
			ops = append(ops, operators.UpdateBefore, operators.UpdateAfter)
		}
		out = append(out, &operators.Chunk{Rec: b.NewRecordBatch(), Ops: ops})
	}
	return out, changes
}

// pushAll pushes chunks to op, a barrier after every every-th.
func pushAll(b *testing.B, op *TopN, chunks []*operators.Chunk, epoch *uint64, every int) {
	for i, c := range chunks {
		if err := op.Push(c); err != nil {
			b.Fatal(err)
		}
		c.Rec.Release()
		if (i+1)%every == 0 {
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
// BY n DESC, other, N = 20) fed a stream of count increments as update
// pairs (and inserts), a barrier every 16k updates unless said otherwise.
// b.N is the number of changes (an update pair or an insert, "updates").
// Reports ns per update and per input row, updates/s, bytes of heap and
// of StateBytes per row held, and output rows per update. Streams:
//   - uniform: 10k items × 100 others = 1M counts uniform in [0, 50),
//     increments of 1;
//   - zipf: the co-occurrence workload's shape, 10k items with Zipf-skewed
//     sizes (about 450 others on average, up to 9999), counts falling with
//     the other's popularity, increments of 1 to 3, most far below the
//     top 20 (see newSkewedCoocStream);
//   - zipf-monotone: the same through a monotone Top-N (Spec.Monotone:
//     counts only grow), which keeps only each item's top 20, with 15%
//     of the changes inserts of new rows and a barrier every 256k rows.
func BenchmarkTopNUpdates(b *testing.B) {
	b.Run("uniform", func(b *testing.B) {
		benchUpdates(b, false, func(mem memory.Allocator, s *arrow.Schema) *coocStream { return newCoocStream(mem, s) })
	})
	b.Run("zipf", func(b *testing.B) {
		benchUpdates(b, false, func(mem memory.Allocator, s *arrow.Schema) *coocStream { return newSkewedCoocStream(mem, s, 450) })
	})
	// The counts only grow: the same stream through a monotone Top-N,
	// which keeps only each partition's top, shaped like the cooc view's
	// changelog per epoch (~1.7M update pairs and ~0.3M inserts of new
	// pairs): 15% of the changes insert a new row with a small count, and
	// a barrier comes every 256 chunks.
	b.Run("zipf-monotone", func(b *testing.B) {
		benchUpdates(b, true, func(mem memory.Allocator, s *arrow.Schema) *coocStream {
			c := newSkewedCoocStream(mem, s, 450)
			c.inserts, c.epoch, c.popular = 0.15, 256, 3
			return c
		})
	})
}

func benchUpdates(b *testing.B, monotone bool, mk func(memory.Allocator, *arrow.Schema) *coocStream) {
	mem := memory.NewGoAllocator()
	schema := types.Schema(cooc).Arrow()
	var emitted int64
	sink := operators.OutputFunc(func(m operators.Message) error {
		if c, ok := m.(*operators.Chunk); ok {
			emitted += int64(c.Len())
		}
		return nil
	})
	stream := mk(mem, schema)
	before := heapInUse()
	spec := similar(20, false)
	spec.Monotone = monotone
	op, err := New(mem, schema, []types.T{tBig, tBig, tBig}, spec, sink)
	if err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	var epoch uint64
	every := benchEpoch
	if stream.epoch > 0 {
		every = stream.epoch
	}
	pushAll(b, op, stream.initial(), &epoch, every)
	epoch++
	if err := op.Push(operators.Barrier{Epoch: epoch}); err != nil {
		b.Fatal(err)
	}
	emitted = 0
	b.ResetTimer()
	updates, rows := 0, 0
	for updates < b.N {
		k := min(every, (b.N-updates+benchChunk/2-1)/(benchChunk/2))
		b.StopTimer()
		chunks, n := stream.updates(k)
		runtime.GC() // the stream's garbage: not the operator's
		b.StartTimer()
		pushAll(b, op, chunks, &epoch, every)
		updates += n
		rows += len(chunks) * benchChunk
	}
	b.StopTimer()
	// The state after the updates: measured then, since a Top-N that
	// reorganises its state lazily reaches its steady size only later.
	held := float64(len(stream.counts))
	heapPerRow := (float64(heapInUse()) - float64(before)) / held
	runtime.KeepAlive(stream) // measured in before too
	statePerRow := float64(op.StateBytes()) / held
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(updates), "ns/update")
	b.ReportMetric(float64(updates)/b.Elapsed().Seconds(), "updates/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	b.ReportMetric(heapPerRow, "heap-bytes/row")
	b.ReportMetric(statePerRow, "state-bytes/row")
	b.ReportMetric(float64(emitted)/float64(updates), "out/update")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkTopNRetractTop is the worst case of the sorted head: every
// change deletes the best row of a partition (so the top moves down, and
// the head must be refilled from the rest again and again) and inserts a
// new worst one, over 1000 partitions of 1000 rows, N = 20. b.N is the
// number of changes (a delete and an insert each).
func BenchmarkTopNRetractTop(b *testing.B) {
	const parts, size = 1000, 1000
	mem := memory.NewGoAllocator()
	schema := types.Schema(cooc).Arrow()
	op, err := New(mem, schema, []types.T{tBig, tBig, tBig}, similar(20, false), operators.OutputFunc(func(operators.Message) error { return nil }))
	if err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	top, bottom := make([]int64, parts), make([]int64, parts) // n of each partition's best and worst row
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	item, other, n := rb.Field(0).(*array.Int64Builder), rb.Field(1).(*array.Int64Builder), rb.Field(2).(*array.Int64Builder)
	add := func(it, v int64) {
		item.Append(it)
		other.Append(v & 0xFFFF)
		n.Append(v)
	}
	var epoch uint64
	var chunks []*operators.Chunk
	for it := range int64(parts) {
		top[it], bottom[it] = 1<<20+size, 1<<20+1
		for v := bottom[it]; v <= top[it]; v++ {
			add(it, v)
			if item.Len() == benchChunk {
				chunks = append(chunks, &operators.Chunk{Rec: rb.NewRecordBatch()})
			}
		}
	}
	if item.Len() > 0 {
		chunks = append(chunks, &operators.Chunk{Rec: rb.NewRecordBatch()})
	}
	pushAll(b, op, chunks, &epoch, benchEpoch)
	r := rand.New(rand.NewPCG(5, 6))
	changes := func(k int) []*operators.Chunk {
		out := make([]*operators.Chunk, 0, k)
		for range k {
			ops := make([]operators.Op, 0, benchChunk)
			for range benchChunk / 2 {
				it := r.Int64N(parts)
				add(it, top[it])
				top[it]--
				bottom[it]--
				add(it, bottom[it])
				ops = append(ops, operators.Delete, operators.Insert)
			}
			out = append(out, &operators.Chunk{Rec: rb.NewRecordBatch(), Ops: ops})
		}
		return out
	}
	b.ResetTimer()
	done := 0
	for done < b.N {
		k := min(64, (b.N-done+benchChunk/2-1)/(benchChunk/2))
		b.StopTimer()
		cs := changes(k)
		b.StartTimer()
		pushAll(b, op, cs, &epoch, benchEpoch)
		done += k * benchChunk / 2
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(done), "ns/change")
	b.ReportMetric(0, "ns/op")
}
