package state

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkStoreSnapshot snapshots and restores a keyed store of 1M rows
// (BIGINT key, count, sum), reporting the bytes written per row.
func BenchmarkStoreSnapshot(b *testing.B) {
	mem := memory.NewGoAllocator()
	const n = 1 << 20
	s := buildCountSumStore(b, mem, n)
	var buf bytes.Buffer
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			if err := s.SnapshotWith(mem, &buf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len())/n, "bytes/row")
		b.ReportMetric(float64(buf.Len())/(1<<20), "MB")
	})
	b.Run("restore", func(b *testing.B) {
		if buf.Len() == 0 {
			if err := s.SnapshotWith(mem, &buf); err != nil {
				b.Fatal(err)
			}
		}
		for b.Loop() {
			r := NewStore(countSumSchema, []int{0}, true)
			if err := r.RestoreWith(mem, bytes.NewReader(buf.Bytes())); err != nil {
				b.Fatal(err)
			}
			if r.Len() != n {
				b.Fatalf("%d rows", r.Len())
			}
		}
	})
}
