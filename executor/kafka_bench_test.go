package executor

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/types"
)

// benchEnvInt reads a positive integer from the environment, or def.
func benchEnvInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// benchScalar runs a query returning one BIGINT and returns it.
func benchScalar(b *testing.B, e *Engine, sql string) int64 {
	b.Helper()
	res, err := e.Execute(context.Background(), sql)
	if err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
	last := res[len(res)-1]
	if len(last.Rows) != 1 || len(last.Rows[0]) != 1 {
		b.Fatalf("%s: want one value, got %v", sql, last.Rows)
	}
	return last.Rows[0][0].I
}

// benchJSON5 is one 5-field clickstream event as JSON.
func benchJSON5(dst []byte, i int, item int64, ts time.Time) []byte {
	actions := [...]string{"view", "click", "cart", "buy"}
	dst = append(dst, `{"user_id":`...)
	dst = strconv.AppendInt(dst, int64(100000+i*7%50000), 10)
	dst = append(dst, `,"item_id":`...)
	dst = strconv.AppendInt(dst, item, 10)
	dst = append(dst, `,"action":"`...)
	dst = append(dst, actions[i%4]...)
	dst = append(dst, `","price":`...)
	dst = strconv.AppendInt(dst, int64(i%500), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(10+i%90), 10)
	dst = append(dst, `,"ts":"`...)
	dst = ts.AppendFormat(dst, "2006-01-02 15:04:05.000")
	return append(dst, `"}`...)
}

const benchSourceDDL = `CREATE SOURCE %s (user_id BIGINT, item_id BIGINT, action TEXT, price DOUBLE, ts TIMESTAMP(3))
	WITH (connector = 'kafka', brokers = '%s', topic = '%s', format = 'json', start = 'earliest')`

// BenchmarkKafkaSourceEngine measures Kafka ingest through the whole
// engine: SLUICE_KAFKA_EVENTS (default 2,000,000) 5-field JSON events are
// produced into an in-process kfake topic of 4 partitions beforehand; each
// iteration opens an engine (default 1 s barrier), creates a Kafka source
// reading the topic from the beginning and an append-only view
// `SELECT item_id, COUNT(*) ... GROUP BY item_id` over it, polls
// sluice_sources every 2 ms until its events reach the total, then
// FLUSHes and checks the view's counts add up. The broker runs in the same
// process, so with -cpu 1 it shares the one core with the engine.
//
//	go test ./executor/ -run '^$' -bench KafkaSourceEngine -benchtime 3x -cpu 1,2
func BenchmarkKafkaSourceEngine(b *testing.B) {
	total := benchEnvInt(b, "SLUICE_KAFKA_EVENTS", 2_000_000)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "ev"))
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]
	p, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100000))
	if err != nil {
		b.Fatal(err)
	}
	var failed atomic.Value
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := 0; i < total; i++ {
		v := benchJSON5(nil, i, int64(i*31%5000), base.Add(time.Duration(i)*time.Microsecond))
		p.Produce(context.Background(), &kgo.Record{Topic: "ev", Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
		})
	}
	if err := p.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	p.Close()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	var busy time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		e, err := Open(Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		mustExec(b, e, fmt.Sprintf(benchSourceDDL, "ev", addr, "ev"))
		mustExec(b, e, "CREATE MATERIALIZED VIEW per_item AS SELECT item_id, COUNT(*) AS n FROM ev GROUP BY item_id")
		deadline := time.Now().Add(5 * time.Minute)
		for benchScalar(b, e, "SELECT events FROM sluice_sources WHERE name = 'ev'") < int64(total) {
			if time.Now().After(deadline) {
				b.Fatal("source did not reach the total in 5 minutes")
			}
			time.Sleep(2 * time.Millisecond)
		}
		mustExec(b, e, "FLUSH")
		busy += time.Since(t0)
		b.StopTimer()
		if n := benchScalar(b, e, "SELECT SUM(n) FROM per_item"); n != int64(total) {
			b.Fatalf("view counts %d events, want %d", n, total)
		}
		if bad := benchScalar(b, e, "SELECT bad_events FROM sluice_sources"); bad != 0 {
			b.Fatalf("%d bad events", bad)
		}
		e.Close()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*float64(total)/busy.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkKafkaFreshness measures end-to-end freshness through Kafka: a
// producer (franz-go, no linger) sends 10,000 5-field JSON events/s to an
// in-process kfake topic of 4 partitions — 100 events every 10 ms, paced
// by a ticker — read by a Kafka source (default options: 4096-row
// batches, 50 ms linger) under `SELECT item_id, COUNT(*) ... GROUP BY
// item_id`, with the default one-second barrier. Each 10 ms batch carries
// one marker event with an item of its own; a poller looks up the oldest
// unseen marker with a prepared point lookup every 5 ms. A marker's
// freshness is the time from the broker acknowledging its produce to the
// first lookup that sees it. Runs for SLUICE_FRESHNESS_SECONDS (default
// 20) and reports p50, p99 and max.
//
//	go test ./executor/ -run '^$' -bench KafkaFreshness -benchtime 1x
func BenchmarkKafkaFreshness(b *testing.B) {
	secs := benchEnvInt(b, "SLUICE_FRESHNESS_SECONDS", 20)
	const perBatch, tick = 100, 10 * time.Millisecond
	nBatches := secs * int(time.Second/tick)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "ev"))
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]
	p, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	e, err := Open(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	mustExec(b, e, fmt.Sprintf(benchSourceDDL, "ev", addr, "ev"))
	mustExec(b, e, "CREATE MATERIALIZED VIEW per_item AS SELECT item_id, COUNT(*) AS n FROM ev GROUP BY item_id")
	stmt, err := parser.ParseOne("SELECT n FROM per_item WHERE item_id = $1")
	if err != nil {
		b.Fatal(err)
	}
	lookup, err := e.Prepare(stmt)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var lat []time.Duration
	var produceTime time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		acked := make([]atomic.Int64, nBatches) // unix ns of the marker's ack
		var failed atomic.Value
		produced := make(chan time.Duration, 1)
		go func() {
			t := time.NewTicker(tick)
			defer t.Stop()
			t0 := time.Now()
			defer func() { produced <- time.Since(t0) }()
			var buf []byte
			for i := 0; i < nBatches; i++ {
				<-t.C
				now := time.Now()
				for j := 0; j < perBatch; j++ {
					n := (it*nBatches+i)*perBatch + j
					item := int64(n * 31 % 5000)
					if j == 0 {
						item = -1 - int64(it*nBatches+i) // the marker
					}
					buf = benchJSON5(buf[:0], n, item, now)
					r := &kgo.Record{Topic: "ev", Key: strconv.AppendInt(nil, int64(n), 10), Value: slices.Clone(buf)}
					i, marker := i, j == 0
					p.Produce(ctx, r, func(_ *kgo.Record, err error) {
						if err != nil {
							failed.Store(err)
						}
						if marker {
							acked[i].Store(time.Now().UnixNano())
						}
					})
				}
			}
		}()
		params := []types.Datum{{}}
		for next := 0; next < nBatches; {
			if err := failed.Load(); err != nil {
				b.Fatal(err)
			}
			at := acked[next].Load()
			if at == 0 {
				time.Sleep(time.Millisecond)
				continue
			}
			params[0] = types.NewBigInt(-1 - int64(it*nBatches+next))
			res, err := e.ExecutePrepared(ctx, lookup, params)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Rows) == 1 {
				lat = append(lat, time.Duration(time.Now().UnixNano()-at))
				next++
				continue
			}
			time.Sleep(5 * time.Millisecond)
		}
		produceTime += <-produced
	}
	b.StopTimer()
	if bad := benchScalar(b, e, "SELECT bad_events FROM sluice_sources"); bad != 0 {
		b.Fatalf("%d bad events", bad)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(len(lat))*perBatch/produceTime.Seconds(), "produced-events/s")
	b.ReportMetric(0, "ns/op")
}
