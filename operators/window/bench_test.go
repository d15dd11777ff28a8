package window

import (
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/agg"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/types"
)

const (
	benchBatch = 4096
	benchItems = 10_000
	// Event time advances 10k events per second; the watermark trails the
	// newest event by 5 seconds.
	benchEventsPerSec = 10_000
	benchDelay        = 5_000_000
	benchBarrierEvery = 256 // batches (~1M events)
)

// eventStream makes 4096-row batches of (item, ts): items uniform over
// benchItems, timestamps advancing at benchEventsPerSec with jitter of up
// to half the watermark delay (out of order).
type eventStream struct {
	mem    memory.Allocator
	schema *arrow.Schema
	items  []arrow.Array // a cycle of prebuilt item columns
	jitter []int64
	next   int64 // events so far
}

func newEventStream(mem memory.Allocator, keys, cycle int) *eventStream {
	r := rand.New(rand.NewPCG(1, 2))
	s := &eventStream{mem: mem, schema: types.Schema(evCols).Arrow()}
	for j := 0; j < cycle; j++ {
		b := array.NewInt64Builder(mem)
		for i := 0; i < benchBatch; i++ {
			b.Append(int64(r.IntN(keys)))
		}
		s.items = append(s.items, b.NewArray())
		b.Release()
	}
	s.jitter = make([]int64, benchBatch)
	for i := range s.jitter {
		s.jitter[i] = r.Int64N(benchDelay / 2)
	}
	return s
}

func (s *eventStream) release() {
	for _, a := range s.items {
		a.Release()
	}
}

// batch returns the next batch and the watermark after it.
func (s *eventStream) batch() (arrow.RecordBatch, int64) {
	vals := make([]int64, benchBatch)
	base := s.next * 1_000_000 / benchEventsPerSec
	step := int64(1_000_000 / benchEventsPerSec)
	for i := range vals {
		vals[i] = base + int64(i)*step - s.jitter[i]
	}
	tsArr := state.Int64Array(s.mem, tsType, vals)
	defer tsArr.Release()
	items := s.items[(s.next/benchBatch)%int64(len(s.items))]
	s.next += benchBatch
	rec := array.NewRecordBatch(s.schema, []arrow.Array{items, tsArr}, benchBatch)
	return rec, base + benchBatch*step - benchDelay
}

func discard() operators.Output {
	return operators.OutputFunc(func(operators.Message) error { return nil })
}

// BenchmarkHopAssign: HOP(1 minute, 10 minutes) assignment of 4096-row
// batches (10 output rows per input row); rows/s counts input rows.
func BenchmarkHopAssign(b *testing.B) {
	mem := memory.NewGoAllocator()
	s := newEventStream(mem, benchItems, 16)
	defer s.release()
	a, err := NewAssign(mem, s.schema, 1, Hop, 10*60_000_000, 60_000_000, discard())
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]arrow.RecordBatch, 16)
	for i := range recs {
		recs[i], _ = s.batch()
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := a.Push(&operators.Chunk{Rec: recs[i%len(recs)]}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkHopCountPerItem: HOP(1 minute, 10 minutes) + COUNT(*) GROUP BY
// window_start, item over append-only 4096-row batches of 10k items, with
// a watermark after every batch (closing and evicting windows) and a
// barrier every ~1M events; events/s on one core.
func BenchmarkHopCountPerItem(b *testing.B) {
	for _, eowc := range []bool{false, true} {
		name := "update"
		if eowc {
			name = "emitOnClose"
		}
		b.Run(name, func(b *testing.B) { benchHopCount(b, eowc) })
	}
}

func benchHopCount(b *testing.B, eowc bool) {
	mem := memory.NewGoAllocator()
	s := newEventStream(mem, benchItems, 16)
	defer s.release()
	wschema := windowSchema(s.schema)
	wtypes := []types.T{types.BigIntType, types.TimestampType(6), types.TimestampType(6), types.TimestampType(6)}
	specs := []agg.Spec{{Kind: agg.CountStar, Result: types.BigIntType, Name: "views"}}
	h, err := agg.NewWithOptions(mem, wschema, wtypes, []int{2, 0}, specs, true, agg.Options{WatermarkGroupCol: 0, EmitOnClose: eowc}, discard())
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	a, err := NewAssign(mem, s.schema, 1, Hop, 10*60_000_000, 60_000_000, h)
	if err != nil {
		b.Fatal(err)
	}
	epoch := uint64(0)
	step := func(i int) {
		rec, wm := s.batch()
		err := a.Push(&operators.Chunk{Rec: rec})
		rec.Release()
		if err == nil {
			err = a.Push(operators.Watermark{Column: 1, Time: wm})
		}
		if err == nil && i%benchBarrierEvery == benchBarrierEvery-1 {
			epoch++
			err = a.Push(operators.Barrier{Epoch: epoch})
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	// Warm up past the first ten minutes of event time, so windows close.
	for i := 0; i < 2000; i++ {
		step(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step(i)
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(h.Groups()), "groups")
}

// BenchmarkSession: SESSION per user (200k users, each active every 20 s
// of event time on average in a pattern that repeats every 100 s,
// 30-second gap: sessions of a few events)
// over 4096-row batches, a watermark after every batch and a barrier
// every 64 batches (262k events); events/s, in update and emit-on-close
// mode. Update mode re-emits a session's rows each epoch it grows, by
// definition, so it costs more.
func BenchmarkSession(b *testing.B) {
	for _, eowc := range []bool{false, true} {
		name := "update"
		if eowc {
			name = "emitOnClose"
		}
		b.Run(name, func(b *testing.B) {
			mem := memory.NewGoAllocator()
			s := newEventStream(mem, 200_000, 256)
			defer s.release()
			ss, err := NewSession(mem, s.schema, 1, []int{0}, 30_000_000, eowc, discard())
			if err != nil {
				b.Fatal(err)
			}
			defer ss.Close()
			epoch := uint64(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec, wm := s.batch()
				err := ss.Push(&operators.Chunk{Rec: rec})
				rec.Release()
				if err == nil {
					err = ss.Push(operators.Watermark{Column: 1, Time: wm})
				}
				if err == nil && i%64 == 63 {
					epoch++
					err = ss.Push(operators.Barrier{Epoch: epoch})
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(ss.OpenRows()), "open_rows")
		})
	}
}
