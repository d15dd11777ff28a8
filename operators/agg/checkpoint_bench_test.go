package agg

import (
	"bytes"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

const snapGroups = 1 << 20

// buildSnapAgg fills an aggregate over (a BIGINT, b BIGINT) with
// snapGroups groups: pair counts (GROUP BY a, b: COUNT(*)) when pairs,
// else COUNT(*), SUM(b) GROUP BY a.
func buildSnapAgg(b *testing.B, mem memory.Allocator, pairs bool) *HashAgg {
	b.Helper()
	schema := types.Schema(kvCols).Arrow()
	bt := types.BigIntType
	sink := operators.OutputFunc(func(operators.Message) error { return nil })
	groupCols := []int{0}
	specs := []Spec{{Kind: CountStar, Result: bt, Name: "n"}, {Kind: Sum, Arg: 1, ArgType: bt, Result: bt, Name: "s"}}
	if pairs {
		groupCols, specs = []int{0, 1}, specs[:1]
	}
	h, err := New(mem, schema, []types.T{bt, bt}, groupCols, specs, false, sink)
	if err != nil {
		b.Fatal(err)
	}
	ks, vs := make([]int64, 4096), make([]int64, 4096)
	for lo := 0; lo < snapGroups; lo += len(ks) {
		for i := range ks {
			g := int64(lo + i)
			if pairs {
				ks[i], vs[i] = g/1000*7919, g%1000
			} else {
				ks[i], vs[i] = g*7919, g%1000
			}
		}
		rec := int64Rec(mem, schema, ks, vs)
		err := h.Push(&operators.Chunk{Rec: rec})
		rec.Release()
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := h.Push(operators.Barrier{Epoch: 1}); err != nil {
		b.Fatal(err)
	}
	if h.Groups() != snapGroups {
		b.Fatalf("%d groups", h.Groups())
	}
	return h
}

// BenchmarkAggSnapshot measures the checkpoint of 1M groups: pair counts
// (two BIGINT keys, COUNT(*): the target, under 1 s and 64 MB)
// and COUNT/SUM over one BIGINT key. It reports the snapshot's bytes per
// group and size, and the time of Snapshot and of Restore.
func BenchmarkAggSnapshot(b *testing.B) {
	for _, tc := range []struct {
		name  string
		pairs bool
	}{{"pairCount", true}, {"countSum", false}} {
		b.Run(tc.name, func(b *testing.B) {
			mem := memory.NewGoAllocator()
			h := buildSnapAgg(b, mem, tc.pairs)
			defer h.Close()
			var buf bytes.Buffer
			b.Run("snapshot", func(b *testing.B) {
				for b.Loop() {
					buf.Reset()
					if err := h.Snapshot(&buf); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(buf.Len())/snapGroups, "bytes/group")
				b.ReportMetric(float64(buf.Len())/(1<<20), "MB")
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms")
			})
			b.Run("restore", func(b *testing.B) {
				if buf.Len() == 0 {
					if err := h.Snapshot(&buf); err != nil {
						b.Fatal(err)
					}
				}
				var total time.Duration
				for b.Loop() {
					start := time.Now()
					c := buildEmpty(b, mem, h)
					if err := c.Restore(bytes.NewReader(buf.Bytes())); err != nil {
						b.Fatal(err)
					}
					total += time.Since(start)
					if c.Groups() != snapGroups {
						b.Fatalf("%d groups", c.Groups())
					}
					c.Close()
				}
				b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms")
			})
		})
	}
}

// buildEmpty returns a fresh aggregate configured as h.
func buildEmpty(b *testing.B, mem memory.Allocator, h *HashAgg) *HashAgg {
	c, err := NewWithOptions(mem, h.in, h.inTypes, h.groupCols, h.specs, h.appendOnly, h.opts, h.out)
	if err != nil {
		b.Fatal(err)
	}
	return c
}
