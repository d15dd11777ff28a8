package executor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/connectors"
	"github.com/sluicedb/sluice/types"
)

// feedSource is a test connector: it emits the batches and bad events
// sent on its feed, until its context ends.
type feedSource struct {
	feed chan any // arrow.RecordBatch or connectors.BadEvent
	done chan struct{}
}

func (f *feedSource) Run(ctx context.Context, out connectors.Emitter) error {
	defer close(f.done)
	for {
		select {
		case <-ctx.Done():
			return nil
		case item := <-f.feed:
			switch x := item.(type) {
			case arrow.RecordBatch:
				if err := out.Emit(ctx, x); err != nil {
					return err
				}
			case connectors.BadEvent:
				out.Bad(x)
			}
		}
	}
}

func (f *feedSource) Progress() []connectors.PartitionProgress {
	return []connectors.PartitionProgress{{Partition: 0, Offset: 7, HighWatermark: 10}}
}

// collectSink records what it is asked to write.
type collectSink struct {
	mu      sync.Mutex
	changes []string
	fail    int // fail the next writes this many times
}

func (c *collectSink) Write(_ context.Context, epoch uint64, ch []connectors.Change) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail > 0 {
		c.fail--
		return fmt.Errorf("broker unavailable")
	}
	for _, x := range ch {
		parts := []string{x.Op}
		for _, d := range x.Row {
			parts = append(parts, d.String())
		}
		c.changes = append(c.changes, strings.Join(parts, " "))
	}
	return nil
}

func (c *collectSink) Close() error { return nil }

func (c *collectSink) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.changes...)
}

var (
	testFeeds = map[string]*feedSource{}
	testSinks = map[string]*collectSink{}
	testMu    sync.Mutex
)

func init() {
	connectors.RegisterSource("testfeed", func(spec connectors.SourceSpec) (connectors.Source, error) {
		testMu.Lock()
		defer testMu.Unlock()
		f := &feedSource{feed: make(chan any), done: make(chan struct{})}
		testFeeds[spec.Option("id", "")] = f
		return f, nil
	})
	connectors.RegisterSink("testsink", func(spec connectors.SinkSpec) (connectors.Sink, error) {
		testMu.Lock()
		defer testMu.Unlock()
		s := &collectSink{fail: 2}
		testSinks[spec.Option("id", "")] = s
		return s, nil
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestSourceViewsErrorsAndSink(t *testing.T) {
	e := openManual(t)
	defer e.Close()
	mustExec(t, e, `CREATE SOURCE ev (k BIGINT, v BIGINT) WITH (connector = 'testfeed', id = 'a')`)
	mustExec(t, e, `CREATE MATERIALIZED VIEW per_k AS SELECT k, COUNT(*) AS n, SUM(v) AS s FROM ev GROUP BY k`)
	mustExec(t, e, `CREATE SINK out FROM per_k WITH (connector = 'testsink', id = 'a')`)
	testMu.Lock()
	feed, sink := testFeeds["a"], testSinks["a"]
	testMu.Unlock()

	mem := memory.NewGoAllocator()
	feed.feed <- kvBatch(mem, 3, func(i int) (int64, int64) { return int64(i % 2), int64(10 * i) })
	feed.feed <- connectors.BadEvent{Partition: 2, Offset: 41, Value: []byte(`{"k": "x"}`), Reason: `column "k": invalid BIGINT "x"`}
	feed.feed <- kvBatch(mem, 1, func(int) (int64, int64) { return 5, 1 })
	waitFor(t, "two batches counted", func() bool {
		r, _ := e.Execute(context.Background(), "SELECT events FROM sluice_sources")
		return len(r) == 1 && len(r[0].Rows) == 1 && r[0].Rows[0][0].I == 4
	})
	mustExec(t, e, "FLUSH")
	got := queryRows(t, e, "SELECT k, n, s FROM per_k")
	if err := sameRows(got, [][]types.Datum{
		{types.NewBigInt(0), types.NewBigInt(2), types.NewBigInt(20)},
		{types.NewBigInt(1), types.NewBigInt(1), types.NewBigInt(10)},
		{types.NewBigInt(5), types.NewBigInt(1), types.NewBigInt(1)},
	}); err != nil {
		t.Fatal(err)
	}
	errs := queryRows(t, e, "SELECT source, source_partition, source_offset, reason, raw_value FROM sluice_source_errors")
	if len(errs) != 1 || errs[0][0].S != "ev" || errs[0][2].I != 41 || !strings.Contains(errs[0][3].S, "invalid BIGINT") || errs[0][4].S != `{"k": "x"}` {
		t.Fatalf("error table: %v", errs)
	}
	stats := queryRows(t, e, "SELECT name, connector, events, bad_events FROM sluice_sources")
	if render(stats)[0] != "ev|testfeed|4|1" {
		t.Fatalf("sluice_sources: %v", render(stats))
	}
	lag := queryRows(t, e, "SELECT source, next_offset, lag_records FROM sluice_source_lag")
	if render(lag)[0] != "ev|7|3" {
		t.Fatalf("lag: %v", render(lag))
	}
	// The sink retried its failed writes and delivered every change.
	waitFor(t, "sink delivery", func() bool { return len(sink.snapshot()) == 3 })
	if got := strings.Join(sink.snapshot(), "; "); got != "insert 0 2 20; insert 1 1 10; insert 5 1 1" {
		t.Fatalf("sink got %q", got)
	}
	// A source keeps no rows: it cannot be queried.
	if _, err := e.Execute(context.Background(), "SELECT * FROM ev"); err == nil || !strings.Contains(err.Error(), "keeps no rows") {
		t.Fatalf("query of a source: %v", err)
	}
	if _, err := e.Execute(context.Background(), "DROP MATERIALIZED VIEW per_k"); err == nil || !strings.Contains(err.Error(), "sink") {
		t.Fatalf("drop of a view with a sink: %v", err)
	}
	res, _ := e.Execute(context.Background(), "SHOW SINKS")
	if len(res[0].Rows) != 1 || res[0].Rows[0][0].S != "out" {
		t.Fatalf("SHOW SINKS: %v", res[0].Rows)
	}
	mustExec(t, e, "DROP SINK out")
	mustExec(t, e, "DROP MATERIALIZED VIEW per_k")
	mustExec(t, e, "DROP SOURCE ev")
	select {
	case <-feed.done:
	default:
		t.Fatal("the source's connector still runs after DROP SOURCE")
	}
	res, _ = e.Execute(context.Background(), "SHOW SOURCES")
	if len(res[0].Rows) != 0 {
		t.Fatalf("SHOW SOURCES after drop: %v", res[0].Rows)
	}
}
