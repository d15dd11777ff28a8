package wire

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
)

// BenchmarkWirePointLookup runs a prepared point lookup on a 1M-group view
// from 8 concurrent pgx clients over loopback TCP and reports queries/s
// and p50/p99 latency.
//
//	go test -run '^$' -bench WirePointLookup -benchtime 200000x ./wire/
func BenchmarkWirePointLookup(b *testing.B) {
	const groups, clients = 1_000_000, 8
	ts := startServer(b, Config{})
	ctx := context.Background()
	setup := ts.connect(b, "")
	mustExec(b, setup, "CREATE TABLE ev (k BIGINT, v BIGINT) APPEND ONLY")
	mustExec(b, setup, "CREATE MATERIALIZED VIEW agg AS SELECT k, COUNT(*) AS c, SUM(v) AS s FROM ev GROUP BY k")
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	for start := 0; start < groups; start += 4096 {
		n := min(4096, groups-start)
		kb, vb := array.NewInt64Builder(mem), array.NewInt64Builder(mem)
		for i := 0; i < n; i++ {
			kb.Append(int64(start + i))
			vb.Append(int64(i))
		}
		ka, va := kb.NewArray(), vb.NewArray()
		rec := array.NewRecordBatch(schema, []arrow.Array{ka, va}, int64(n))
		if err := ts.eng.Append(ctx, "ev", rec); err != nil {
			b.Fatal(err)
		}
		rec.Release()
		ka.Release()
		va.Release()
		kb.Release()
		vb.Release()
	}
	mustExec(b, setup, "FLUSH")
	conns := make([]*pgx.Conn, clients)
	for i := range conns {
		conns[i] = ts.connect(b, "")
		if _, err := conns[i].Prepare(ctx, "lookup", "SELECT c, s FROM agg WHERE k = $1"); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([][]time.Duration, clients)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for ci := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(ci), 7))
			n := b.N / clients
			if ci < b.N%clients {
				n++
			}
			l := make([]time.Duration, 0, n)
			var c, s int64
			for i := 0; i < n; i++ {
				k := rng.Int64N(groups)
				t0 := time.Now()
				err := conns[ci].QueryRow(ctx, "lookup", k).Scan(&c, &s)
				l = append(l, time.Since(t0))
				if err != nil || c != 1 {
					b.Errorf("lookup %d: %v (c=%d)", k, err, c)
					return
				}
			}
			lat[ci] = l
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "queries/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkWireCopyCSV loads a 3-column CSV with COPY FROM STDIN into an
// append-only table under one view and reports rows/s.
//
//	go test -run '^$' -bench WireCopyCSV -benchtime 20x ./wire/
func BenchmarkWireCopyCSV(b *testing.B) {
	const rows = 200_000
	ts := startServer(b, Config{})
	ctx := context.Background()
	c := ts.connect(b, "")
	mustExec(b, c, "CREATE TABLE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3)) APPEND ONLY")
	mustExec(b, c, "CREATE MATERIALIZED VIEW per_item AS SELECT item_id, COUNT(*) AS n FROM clicks GROUP BY item_id")
	var buf bytes.Buffer
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var line []byte
	for i := 0; i < rows; i++ {
		line = strconv.AppendInt(line[:0], rng.Int64N(100_000), 10)
		line = append(line, ',')
		line = strconv.AppendInt(line, rng.Int64N(5000), 10)
		line = append(line, ',')
		line = base.Add(time.Duration(i)*time.Millisecond).AppendFormat(line, "2006-01-02 15:04:05.000")
		line = append(line, '\n')
		buf.Write(line)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		tag, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(data), "COPY clicks FROM STDIN WITH (FORMAT csv)")
		if err != nil || tag.RowsAffected() != rows {
			b.Fatalf("copy: %v %v", tag, err)
		}
	}
	mustExec(b, c, "FLUSH")
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(rows*b.N)/elapsed.Seconds(), "rows/s")
}
