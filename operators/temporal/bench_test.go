package temporal

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// clickChunks makes k chunks of 1024 (user, item, ts) rows with ts
// advancing 1 µs a row, jittered back by up to 5 µs (mostly in order);
// with retract, every tenth row of a chunk is followed by its Delete.
func clickChunks(mem memory.Allocator, schema *arrow.Schema, next *int64, k int, retract bool) []*operators.Chunk {
	out := make([]*operators.Chunk, 0, k)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	user, item, ts := b.Field(0).(*array.Int64Builder), b.Field(1).(*array.Int64Builder), b.Field(2).(*array.TimestampBuilder)
	for range k {
		var ops []operators.Op
		for i := 0; i < 1024; i++ {
			t := *next - int64(i%6)
			*next++
			u, it := (*next*7919)%100_000, (*next*104729)%10_000
			user.Append(u)
			item.Append(it)
			ts.Append(arrow.Timestamp(t))
			if retract {
				ops = append(ops, operators.Insert)
				if i%10 == 9 {
					user.Append(u)
					item.Append(it)
					ts.Append(arrow.Timestamp(t))
					ops = append(ops, operators.Delete)
					i++
				}
			}
		}
		out = append(out, &operators.Chunk{Rec: b.NewRecordBatch(), Ops: ops})
	}
	return out
}

// BenchmarkTemporalFilter: `ts > NOW() - window` over a click stream, a
// barrier every 16k rows advancing Now with the stream, the window holding
// about 256k rows, so every barrier expires about 16k of them.
func BenchmarkTemporalFilter(b *testing.B) {
	for _, retract := range []bool{false, true} {
		b.Run(fmt.Sprintf("retract=%v", retract), func(b *testing.B) {
			mem := memory.NewGoAllocator()
			cols := []types.Column{{Name: "user", Type: tBig}, {Name: "item", Type: tBig}, {Name: "ts", Type: tTS}}
			schema := types.Schema(cols).Arrow()
			var out int64
			sink := operators.OutputFunc(func(m operators.Message) error {
				if c, ok := m.(*operators.Chunk); ok {
					out += int64(c.Len())
				}
				return nil
			})
			f, err := NewFilter(mem, schema, []types.T{tBig, tBig, tTS}, 2, 256*1024, false, sink)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			next := int64(1)
			var epoch uint64
			rows := 0
			maxHeld := 0
			b.ResetTimer()
			for rows < b.N {
				b.StopTimer()
				chunks := clickChunks(mem, schema, &next, 64, retract)
				b.StartTimer()
				for i, c := range chunks {
					if err := f.Push(c); err != nil {
						b.Fatal(err)
					}
					rows += c.Len()
					c.Rec.Release()
					if i%16 == 15 {
						epoch++
						if err := f.Push(operators.Barrier{Epoch: epoch, Now: next}); err != nil {
							b.Fatal(err)
						}
						maxHeld = max(maxHeld, f.StateRows())
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(maxHeld), "max-rows-held")
			b.ReportMetric(float64(f.StateBytes())/float64(max(1, f.StateRows())), "order-bytes/row")
			b.ReportMetric(0, "ns/op")
		})
	}
}
