package wal

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkAppendSync measures durable appends of 100-byte records from
// 1, 8 and 64 concurrent writers, each waiting for its own fsync'd
// acknowledgement.
func BenchmarkAppendSync(b *testing.B) {
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, 100)
			var n atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n.Add(1) <= int64(b.N) {
						if _, err := l.AppendSync(context.Background(), 1, payload); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			secs := b.Elapsed().Seconds()
			fsyncs := l.fsyncs.Load()
			b.ReportMetric(float64(b.N)/secs, "records/s")
			b.ReportMetric(float64(fsyncs)/secs, "fsyncs/s")
			b.ReportMetric(float64(b.N)/float64(max(fsyncs, 1)), "records/fsync")
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkAppend measures buffered appends without waiting (NoSync).
func BenchmarkAppend(b *testing.B) {
	l, err := Open(b.TempDir(), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	payload := make([]byte, 100)
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := l.Append(1, payload); err != nil {
			b.Fatal(err)
		}
	}
}
