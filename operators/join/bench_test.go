package join

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

// BenchmarkHashJoinInner streams inserts into both sides of an inner join
// on a BIGINT key (about 4 rows per key per side, so each input row finds
// a few matches) and reports input and output rows per second.
func BenchmarkHashJoinInner(b *testing.B) { runJoinBench(b, false, false) }

// BenchmarkHashJoinInnerAppendOnly is BenchmarkHashJoinInner with both
// inputs declared append-only (Options.AppendOnly): no row index.
func BenchmarkHashJoinInnerAppendOnly(b *testing.B) { runJoinBench(b, false, true) }

// BenchmarkHashJoinInnerChurn inserts every row into both sides and then
// deletes it again, so half the input rows are retractions.
func BenchmarkHashJoinInnerChurn(b *testing.B) { runJoinBench(b, true, false) }

func runJoinBench(b *testing.B, churn, appendOnly bool) {
	const batch = 1024
	const batches = 64
	lt := []types.T{types.BigIntType, types.BigIntType, types.TextType}
	rt := []types.T{types.BigIntType, types.DoubleType}
	out := outSchema(lt, rt)
	mem := memory.NewGoAllocator()
	r := rand.New(rand.NewPCG(7, 7))
	keys := batch * batches / 4
	mk := func(ts []types.T) []arrow.RecordBatch {
		recs := make([]arrow.RecordBatch, batches)
		for n := range recs {
			bld := array.NewRecordBuilder(mem, typesSchema(ts))
			for i := 0; i < batch; i++ {
				bld.Field(0).(*array.Int64Builder).Append(int64(r.IntN(keys)))
				for c := 1; c < len(ts); c++ {
					switch f := bld.Field(c).(type) {
					case *array.Int64Builder:
						f.Append(r.Int64N(1000))
					case *array.Float64Builder:
						f.Append(r.Float64())
					case *array.StringBuilder:
						f.Append("item-name-of-some-length")
					}
				}
			}
			recs[n] = bld.NewRecordBatch()
			bld.Release()
		}
		return recs
	}
	lrecs, rrecs := mk(lt), mk(rt)
	defer func() {
		for i := range lrecs {
			lrecs[i].Release()
			rrecs[i].Release()
		}
	}()
	var outRows, inRows int64
	sink := operators.OutputFunc(func(m operators.Message) error {
		if c, ok := m.(*operators.Chunk); ok {
			outRows += int64(c.Len())
		}
		return nil
	})
	for b.Loop() {
		j := NewWithOptions(mem, Inner, lt, rt, []int{0}, []int{0}, nil, out, Options{AppendOnly: [2]bool{appendOnly, appendOnly}}, sink)
		for i := range lrecs {
			if err := j.Left().Push(&operators.Chunk{Rec: lrecs[i]}); err != nil {
				b.Fatal(err)
			}
			if err := j.Right().Push(&operators.Chunk{Rec: rrecs[i]}); err != nil {
				b.Fatal(err)
			}
			inRows += 2 * batch
		}
		if churn {
			ops := make([]operators.Op, batch)
			for i := range ops {
				ops[i] = operators.Delete
			}
			for i := range lrecs {
				if err := j.Right().Push(&operators.Chunk{Rec: rrecs[i], Ops: ops}); err != nil {
					b.Fatal(err)
				}
				if err := j.Left().Push(&operators.Chunk{Rec: lrecs[i], Ops: ops}); err != nil {
					b.Fatal(err)
				}
				inRows += 2 * batch
			}
		}
		j.Close()
	}
	b.ReportMetric(float64(inRows)/b.Elapsed().Seconds(), "in-rows/s")
	b.ReportMetric(float64(outRows)/b.Elapsed().Seconds(), "out-rows/s")
}

func typesSchema(ts []types.T) *arrow.Schema {
	fs := make([]arrow.Field, len(ts))
	for i, t := range ts {
		fs[i] = arrow.Field{Name: string(rune('a' + i)), Type: t.Arrow(), Nullable: true}
	}
	return arrow.NewSchema(fs, nil)
}

func outSchema(lt, rt []types.T) *arrow.Schema {
	return typesSchema(append(append([]types.T{}, lt...), rt...))
}

// BenchmarkIntervalJoin runs the co-occurrence self-join with eviction: a
// click stream of 100k users, each clicking about 20 times per 30 minutes
// (one click every 900µs of event time overall), joined with itself on
// the user within ±30 minutes, watermarks 5 seconds behind the newest
// click. The state is warmed up to its steady size (the last 30 minutes)
// before timing; each iteration is one batch of 1024 clicks pushed to both
// ports plus the watermarks. Both inputs are append-only, as the executor
// builds the view. It reports clicks (events) and output pairs per second
// and the rows held, and the live heap per row held (B/row, measured
// after the warm-up) and per click in the window (B/event: the rows held
// per click are 2 here, 1 for a self-join).
func BenchmarkIntervalJoin(b *testing.B) { runIntervalBench(b, true, false, nil) }

// BenchmarkIntervalJoinIndexed is BenchmarkIntervalJoin with inputs that
// are not declared append-only, so each side keeps its row index.
func BenchmarkIntervalJoinIndexed(b *testing.B) { runIntervalBench(b, false, false, nil) }

// BenchmarkIntervalJoinSelf is BenchmarkIntervalJoin as a self-join
// (Options.Self): each batch and watermark is pushed once, and each click
// is stored once. Its output is the same.
func BenchmarkIntervalJoinSelf(b *testing.B) { runIntervalBench(b, true, true, nil) }

// BenchmarkIntervalJoinSelfNarrow is BenchmarkIntervalJoinSelf emitting
// only the two item columns (Options.Output), as the co-occurrence view
// builds it.
func BenchmarkIntervalJoinSelfNarrow(b *testing.B) { runIntervalBench(b, true, true, []int{1, 4}) }

func runIntervalBench(b *testing.B, appendOnly, self bool, output []int) {
	const (
		batch = 1024
		users = 100_000
		gap   = 900 // µs between clicks
		sec   = int64(1e6)
	)
	ts := []types.T{types.BigIntType, types.BigIntType, types.TimestampType(6)}
	schema := typesSchema(ts)
	mem := memory.NewGoAllocator()
	r := rand.New(rand.NewPCG(3, 3))
	var outRows int64
	sink := operators.OutputFunc(func(m operators.Message) error {
		if c, ok := m.(*operators.Chunk); ok {
			outRows += int64(c.Len())
		}
		return nil
	})
	tb := TimeBound{LeftCol: 2, RightCol: 2, Lo: -1800 * sec, Hi: 1800 * sec}
	heap0 := liveHeap()
	out := outSchema(ts, ts)
	ports := []operators.Output{}
	if output != nil {
		fs := make([]arrow.Field, len(output))
		for i, c := range output {
			fs[i] = out.Field(c)
		}
		out = arrow.NewSchema(fs, nil)
	}
	j := NewWithOptions(mem, Inner, ts, ts, []int{0}, []int{0}, nil, out, Options{Time: &tb, AppendOnly: [2]bool{appendOnly, appendOnly}, Self: self, Output: output}, sink)
	defer j.Close()
	if self {
		ports = append(ports, j.Self())
	} else {
		ports = append(ports, j.Left(), j.Right())
	}
	bld := array.NewRecordBuilder(mem, schema)
	defer bld.Release()
	now := int64(1_800_000_000) * sec
	step := func() {
		ub := bld.Field(0).(*array.Int64Builder)
		ib := bld.Field(1).(*array.Int64Builder)
		tsb := bld.Field(2).(*array.TimestampBuilder)
		for range batch {
			now += gap
			ub.Append(r.Int64N(users))
			ib.Append(r.Int64N(10_000))
			tsb.Append(arrow.Timestamp(now - r.Int64N(2*sec))) // out of order within 2s
		}
		rec := bld.NewRecordBatch()
		defer rec.Release()
		for _, p := range ports {
			if err := p.Push(&operators.Chunk{Rec: rec}); err != nil {
				b.Fatal(err)
			}
		}
		for _, p := range ports {
			if err := p.Push(operators.Watermark{Column: 2, Time: now - 5*sec}); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Warm up: 31 minutes of event time fills the state to its steady size.
	for range int(31*60*sec/gap/batch) + 1 {
		step()
	}
	heap := float64(liveHeap() - heap0)
	perRow := heap / float64(j.StateRows())
	perEvent := heap / float64(j.StateRows()/len(ports))
	outRows = 0
	var events int64
	for b.Loop() {
		step()
		events += batch
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(outRows)/b.Elapsed().Seconds(), "out-pairs/s")
	b.ReportMetric(float64(j.StateRows()), "state-rows")
	b.ReportMetric(perRow, "B/row")
	b.ReportMetric(perEvent, "B/event")
}

// liveHeap is the live heap after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
