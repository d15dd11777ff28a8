package topn

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// loadedTopN returns the "similar items" Top-N (N = 20) holding 1M pair
// counts in 10k partitions, after a barrier.
func loadedTopN(b *testing.B, mem memory.Allocator) *TopN {
	b.Helper()
	schema := types.Schema(cooc).Arrow()
	nop := operators.OutputFunc(func(operators.Message) error { return nil })
	op, err := New(mem, schema, []types.T{tBig, tBig, tBig}, similar(20, false), nop)
	if err != nil {
		b.Fatal(err)
	}
	var epoch uint64
	pushAll(b, op, newCoocStream(mem, schema).initial(), &epoch, benchEpoch)
	if err := op.Push(operators.Barrier{Epoch: epoch + 1}); err != nil {
		b.Fatal(err)
	}
	return op
}

// BenchmarkTopNSnapshot1M: a snapshot of 1M rows held (10k partitions ×
// 100 rows, tops of 20). Reports the snapshot's size and rows/s.
func BenchmarkTopNSnapshot1M(b *testing.B) {
	mem := memory.NewGoAllocator()
	op := loadedTopN(b, mem)
	defer op.Close()
	var buf bytes.Buffer
	b.ResetTimer()
	for range b.N {
		buf.Reset()
		if err := op.Snapshot(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(buf.Len()), "snapshot-bytes")
	b.ReportMetric(float64(buf.Len())/1e6, "bytes/row")
	b.ReportMetric(1e6*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkTopNRestore1M: restoring that snapshot into a new operator.
func BenchmarkTopNRestore1M(b *testing.B) {
	mem := memory.NewGoAllocator()
	op := loadedTopN(b, mem)
	var buf bytes.Buffer
	if err := op.Snapshot(&buf); err != nil {
		b.Fatal(err)
	}
	op.Close()
	schema := types.Schema(cooc).Arrow()
	nop := operators.OutputFunc(func(operators.Message) error { return nil })
	b.ResetTimer()
	for range b.N {
		c, err := New(mem, schema, []types.T{tBig, tBig, tBig}, similar(20, false), nop)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Restore(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if c.Partitions() != benchParts {
			b.Fatalf("%d partitions restored", c.Partitions())
		}
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(1e6*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
