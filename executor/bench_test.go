package executor

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/types"
)

// kvBatch builds a (k BIGINT, v BIGINT) batch with keys from next().
func kvBatch(mem memory.Allocator, n int, next func(i int) (int64, int64)) arrow.RecordBatch {
	kb := array.NewInt64Builder(mem)
	vb := array.NewInt64Builder(mem)
	defer kb.Release()
	defer vb.Release()
	for i := 0; i < n; i++ {
		k, v := next(i)
		kb.Append(k)
		vb.Append(v)
	}
	ka, va := kb.NewArray(), vb.NewArray()
	defer ka.Release()
	defer va.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{ka, va}, int64(n))
}

func mustExec(tb testing.TB, e *Engine, sql string) {
	tb.Helper()
	if _, err := e.Execute(context.Background(), sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// BenchmarkPointLookup measures a prepared point lookup on a view of 1M
// groups through the whole engine path (plan reuse, snapshot read,
// operators, result rows) and reports p50/p99 latency.
func BenchmarkPointLookup(b *testing.B) {
	const groups = 1_000_000
	e := openManual(b)
	defer e.Close()
	mustExec(b, e, "CREATE TABLE ev (k BIGINT, v BIGINT) APPEND ONLY")
	mustExec(b, e, "CREATE MATERIALIZED VIEW agg AS SELECT k, COUNT(*) AS c, SUM(v) AS s FROM ev GROUP BY k")
	mem := memory.NewGoAllocator()
	for start := 0; start < groups; start += 4096 {
		rec := kvBatch(mem, min(4096, groups-start), func(i int) (int64, int64) { return int64(start + i), int64(i) })
		if err := e.Append(context.Background(), "ev", rec); err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	mustExec(b, e, "FLUSH")
	stmt, err := parser.ParseOne("SELECT c, s FROM agg WHERE k = $1")
	if err != nil {
		b.Fatal(err)
	}
	p, err := e.Prepare(stmt)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	params := []types.Datum{{}}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		params[0] = types.NewBigInt(rng.Int64N(groups))
		t0 := time.Now()
		res, err := e.ExecutePrepared(ctx, p, params)
		lat = append(lat, time.Since(t0))
		if err != nil || len(res.Rows) != 1 {
			b.Fatalf("lookup: %v %v", err, res)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1000, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1000, "p99-µs")
}

// benchIngest appends b.N batches of 4096 (k, v) rows over 100k keys into
// a table under a COUNT/SUM GROUP BY view, ending an epoch every 256
// batches (about 1M rows), and reports rows/s through the whole engine.
func benchIngest(b *testing.B, keyed bool) {
	e := openManual(b)
	defer e.Close()
	mustExec(b, e, "CREATE TABLE ev (k BIGINT, v BIGINT) APPEND ONLY")
	mustExec(b, e, "CREATE MATERIALIZED VIEW agg AS SELECT k, COUNT(*) AS c, SUM(v) AS s FROM ev GROUP BY k")
	mem := memory.NewGoAllocator()
	rng := rand.New(rand.NewPCG(3, 4))
	batches := make([]arrow.RecordBatch, 64)
	for i := range batches {
		batches[i] = kvBatch(mem, 4096, func(int) (int64, int64) { return rng.Int64N(100_000), rng.Int64N(1000) })
		defer batches[i].Release()
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.Append(ctx, "ev", batches[i%len(batches)]); err != nil {
			b.Fatal(err)
		}
		if i%256 == 255 {
			mustExec(b, e, "FLUSH")
		}
	}
	mustExec(b, e, "FLUSH")
	b.StopTimer()
	b.ReportMetric(float64(b.N)*4096/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkEngineIngestGroupBy measures append-only ingest into a table
// (which keeps its rows) feeding a COUNT/SUM GROUP BY view.
func BenchmarkEngineIngestGroupBy(b *testing.B) { benchIngest(b, false) }

// BenchmarkViewMemoryPerGroup reports the heap a COUNT/SUM GROUP BY view
// of 1M groups holds: its aggregate state plus its materialized rows and
// index, measured as the live-heap growth from creating and filling the
// view over an already loaded table.
func BenchmarkViewMemoryPerGroup(b *testing.B) {
	const groups = 1_000_000
	for i := 0; i < b.N; i++ {
		e := openManual(b)
		mustExec(b, e, "CREATE TABLE ev (k BIGINT, v BIGINT) APPEND ONLY")
		mem := memory.NewGoAllocator()
		for start := 0; start < groups; start += 4096 {
			rec := kvBatch(mem, min(4096, groups-start), func(i int) (int64, int64) { return int64(start + i), int64(i) })
			if err := e.Append(context.Background(), "ev", rec); err != nil {
				b.Fatal(err)
			}
			rec.Release()
		}
		mustExec(b, e, "FLUSH")
		before := liveHeap()
		mustExec(b, e, "CREATE MATERIALIZED VIEW agg AS SELECT k, COUNT(*) AS c, SUM(v) AS s FROM ev GROUP BY k")
		mustExec(b, e, "FLUSH")
		after := liveHeap()
		b.ReportMetric(float64(after-before)/groups, "B/group")
		e.Close()
	}
}

func liveHeap() int64 {
	var m runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
