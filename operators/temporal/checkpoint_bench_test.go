package temporal

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// loadedFilter returns a filter over (user, item, ts) clicks holding
// about 1M rows (a window of 2^20 µs, one row a µs, mostly in order),
// after a barrier.
func loadedFilter(b *testing.B, mem memory.Allocator) *Filter {
	b.Helper()
	cols := []types.Column{{Name: "user", Type: tBig}, {Name: "item", Type: tBig}, {Name: "ts", Type: tTS}}
	schema := types.Schema(cols).Arrow()
	nop := operators.OutputFunc(func(operators.Message) error { return nil })
	f, err := NewFilter(mem, schema, []types.T{tBig, tBig, tTS}, 2, 1<<20, false, nop)
	if err != nil {
		b.Fatal(err)
	}
	next := int64(1)
	for _, c := range clickChunks(mem, schema, &next, 1<<20/1024, false) {
		if err := f.Push(c); err != nil {
			b.Fatal(err)
		}
		c.Rec.Release()
	}
	if err := f.Push(operators.Barrier{Epoch: 1, Now: next}); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkFilterSnapshot1M: a snapshot of about 1M held rows. Reports
// its size and rows/s.
func BenchmarkFilterSnapshot1M(b *testing.B) {
	mem := memory.NewGoAllocator()
	f := loadedFilter(b, mem)
	defer f.Close()
	var buf bytes.Buffer
	b.ResetTimer()
	for range b.N {
		buf.Reset()
		if err := f.Snapshot(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	rows := float64(f.StateRows())
	b.ReportMetric(rows, "rows-held")
	b.ReportMetric(float64(buf.Len()), "snapshot-bytes")
	b.ReportMetric(float64(buf.Len())/rows, "bytes/row")
	b.ReportMetric(rows*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkFilterRestore1M: restoring that snapshot into a new filter.
func BenchmarkFilterRestore1M(b *testing.B) {
	mem := memory.NewGoAllocator()
	f := loadedFilter(b, mem)
	var buf bytes.Buffer
	if err := f.Snapshot(&buf); err != nil {
		b.Fatal(err)
	}
	rows := f.StateRows()
	f.Close()
	nop := operators.OutputFunc(func(operators.Message) error { return nil })
	b.ResetTimer()
	for range b.N {
		c, err := NewFilter(mem, f.in, f.inTypes, f.tsCol, f.window, f.inclusive, nop)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Restore(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if c.StateRows() != rows {
			b.Fatalf("%d rows restored, want %d", c.StateRows(), rows)
		}
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
