package kafka

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicedb/sluice/connectors"
	"github.com/sluicedb/sluice/types"
)

// newCluster starts an in-process kfake broker, closed when the test ends.
func newCluster(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()[0]
}

// freePort returns a TCP port free at the time of the call.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// producer returns a client that writes to the partition each record names.
func producer(t testing.TB, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(t testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// createTopic creates a topic with n partitions.
func createTopic(t testing.TB, cl *kgo.Client, topic string, n int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, n, 1
	req.Topics = append(req.Topics, ct)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Topics[0].ErrorCode; c != 0 {
		t.Fatalf("create topic %s: error code %d", topic, c)
	}
}

// collector is an Emitter that keeps what it receives as datums.
type collector struct {
	schema types.Schema
	mu     sync.Mutex
	rows   [][]types.Datum
	bad    []connectors.BadEvent
	emits  int
}

func (c *collector) Emit(_ context.Context, rec arrow.RecordBatch) error {
	defer rec.Release()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.emits++
	for r := 0; r < int(rec.NumRows()); r++ {
		row := make([]types.Datum, len(c.schema))
		for i, col := range c.schema {
			row[i] = types.DatumAt(rec.Column(i), r, col.Type)
		}
		c.rows = append(c.rows, row)
	}
	return nil
}

func (c *collector) Bad(e connectors.BadEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bad = append(c.bad, e)
}

func (c *collector) counts() (rows, bad int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rows), len(c.bad)
}

func (c *collector) snapshot() ([][]types.Datum, []connectors.BadEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]types.Datum(nil), c.rows...), append([]connectors.BadEvent(nil), c.bad...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// running is a source running in the background.
type running struct {
	src    *Source
	out    *collector
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // Run's result, once done is closed
}

// stop cancels the source and checks that Run returned nil.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatalf("Run: %v", r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// spec builds a source spec; opts are k, v pairs.
func spec(mem memory.Allocator, schema types.Schema, addr, topic string, opts ...string) connectors.SourceSpec {
	o := map[string]string{"connector": "kafka", "brokers": addr, "topic": topic, "format": "json",
		"linger.ms": "5", "discovery.interval.ms": "20"}
	for i := 0; i+1 < len(opts); i += 2 {
		o[opts[i]] = opts[i+1]
	}
	return connectors.SourceSpec{Name: "src", Schema: schema, Options: o, Alloc: mem}
}

// start runs a source built from sp (at startAt when non-nil). The source
// is stopped and the allocator checked when the test ends.
func start(t *testing.T, mem *memory.CheckedAllocator, sp connectors.SourceSpec, startAt map[int32]int64) *running {
	t.Helper()
	src, err := NewSourceAt(sp, startAt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src, out: &collector{schema: sp.Schema}, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = src.Run(ctx, r.out)
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
		mem.AssertSize(t, 0)
	})
	return r
}

// progressIs waits until the source reports exactly these offsets and
// high watermarks.
func progressIs(t *testing.T, src *Source, want map[int32][2]int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("progress %v", want), func() bool {
		got := src.Progress()
		if len(got) != len(want) {
			return false
		}
		for _, p := range got {
			w, ok := want[p.Partition]
			if !ok || p.Offset != w[0] || p.HighWatermark != w[1] {
				return false
			}
		}
		return true
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
