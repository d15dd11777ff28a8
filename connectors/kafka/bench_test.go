package kafka

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicedb/sluice/connectors"
	"github.com/sluicedb/sluice/types"
)

var bench5 = types.Schema{
	{Name: "user_id", Type: types.BigIntType},
	{Name: "item_id", Type: types.BigIntType},
	{Name: "action", Type: types.TextType},
	{Name: "price", Type: types.DoubleType},
	{Name: "ts", Type: types.TimestampType(3)},
}

// counter is an Emitter that counts rows and signals when it has seen want.
type counter struct {
	rows atomic.Int64
	bad  atomic.Int64
	want int64
	done chan struct{}
	once sync.Once
}

func (c *counter) Emit(_ context.Context, rec arrow.RecordBatch) error {
	if c.rows.Add(rec.NumRows()) >= c.want {
		c.once.Do(func() { close(c.done) })
	}
	rec.Release()
	return nil
}

func (c *counter) Bad(connectors.BadEvent) { c.bad.Add(1) }

const benchEvents = 1_000_000

// BenchmarkKafkaSourceJSON5 reads 1M pre-produced 5-field JSON events from
// an in-process kfake topic (4 partitions) through Source.Run into a
// counting emitter. The broker runs in the same process, so with -cpu 1
// its work shares the one core with the source's.
func BenchmarkKafkaSourceJSON5(b *testing.B) {
	_, addr := newCluster(b, kfake.SeedTopics(4, "bench"))
	p, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100000))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	actions := []string{"view", "click", "cart", "buy"}
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var failed atomic.Value
	for i := 0; i < benchEvents; i++ {
		v := fmt.Appendf(nil, `{"user_id":%d,"item_id":%d,"action":"%s","price":%d.%02d,"ts":"%s"}`,
			100000+i*7%50000, i*31%5000, actions[i%4], i%500, i%100, base.Add(time.Duration(i)*time.Millisecond).Format("2006-01-02 15:04:05.000"))
		p.Produce(context.Background(), &kgo.Record{Topic: "bench", Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
		})
	}
	if err := p.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src, err := NewSource(spec(mem, bench5, addr, "bench"))
		if err != nil {
			b.Fatal(err)
		}
		c := &counter{want: benchEvents, done: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- src.Run(ctx, c) }()
		select {
		case <-c.done:
		case err := <-errc:
			b.Fatalf("Run returned early: %v", err)
		}
		cancel()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		if c.bad.Load() != 0 || c.rows.Load() != benchEvents {
			b.Fatalf("%d rows, %d bad", c.rows.Load(), c.bad.Load())
		}
	}
	b.ReportMetric(float64(b.N)*benchEvents/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}
