package datagen

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/connectors"
	"github.com/sluicedb/sluice/types"
)

// collector is an Emitter keeping what it is given.
type collector struct {
	mu     sync.Mutex
	rows   []Event // user, item, ts, session, kind
	sizes  []int
	failAt int // fail the Emit after this many batches (0: never)
}

func (c *collector) Emit(_ context.Context, rec arrow.RecordBatch) error {
	defer rec.Release()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failAt > 0 && len(c.sizes) >= c.failAt {
		return errors.New("sink full")
	}
	c.sizes = append(c.sizes, int(rec.NumRows()))
	user := rec.Column(0).(*array.Int64)
	item := rec.Column(1).(*array.Int64)
	ts := rec.Column(2).(*array.Timestamp)
	sess := rec.Column(3).(*array.Int64)
	kind := rec.Column(4).(*array.String)
	for i := range int(rec.NumRows()) {
		var k Kind
		for j, n := range kindNames {
			if n == kind.Value(i) {
				k = Kind(j)
			}
		}
		c.rows = append(c.rows, Event{UserID: user.Value(i), ItemID: item.Value(i), TS: int64(ts.Value(i)), SessionID: sess.Value(i), Kind: k})
	}
	return nil
}

func (c *collector) Bad(connectors.BadEvent) {}

func (c *collector) snapshot() ([]Event, []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.rows...), append([]int(nil), c.sizes...)
}

func spec(alloc memory.Allocator, opts map[string]string) connectors.SourceSpec {
	o := map[string]string{"connector": "datagen"}
	for k, v := range opts {
		o[k] = v
	}
	return connectors.SourceSpec{Name: "gen", Schema: Schema(), Options: o, Alloc: alloc}
}

// runUntil runs src until cond holds (or 10 s pass), then cancels it.
func runUntil(t *testing.T, src connectors.Source, out connectors.Emitter, cond func() bool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		select {
		case err := <-done:
			return err
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Error("condition not reached in 10s")
			break
		}
	}
	cancel()
	return <-done
}

func TestSourceUnpacedCount(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	src, err := connectors.NewSource(spec(mem, map[string]string{
		"rate": "max", "count": "10000", "seed": "5", "users": "3000", "items": "400",
		"max_delay_ms": "1500", "start": "2026-03-01 12:00:00",
	}))
	if err != nil {
		t.Fatal(err)
	}
	out := &collector{}
	err = runUntil(t, src, out, func() bool { return src.Progress()[0].Offset >= 10000 })
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	rows, sizes := out.snapshot()
	if len(rows) != 10000 {
		t.Fatalf("%d rows, want count = 10000", len(rows))
	}
	for _, n := range sizes {
		if n > MaxBatchRows || n == 0 {
			t.Fatalf("batch of %d rows", n)
		}
	}
	p := src.Progress()
	if len(p) != 1 || p[0].Offset != 10000 || p[0].HighWatermark != -1 {
		t.Fatalf("progress %+v", p)
	}
	// The same stream as a generator of the same configuration.
	g := mustGen(t, Config{Rate: 10000, Users: 3000, Items: 400, Seed: 5, MaxDelay: 1500 * time.Millisecond,
		Start: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	var e Event
	for i, r := range rows {
		g.Next(&e)
		e.Arrival = 0
		if r != e {
			t.Fatalf("row %d = %+v, want %+v", i, r, e)
		}
	}
}

func TestSourcePaced(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	src, err := connectors.NewSource(spec(mem, map[string]string{"rate": "4000", "count": "400"}))
	if err != nil {
		t.Fatal(err)
	}
	out := &collector{}
	before := time.Now()
	if err := runUntil(t, src, out, func() bool { return src.Progress()[0].Offset >= 400 }); err != nil {
		t.Fatalf("Run: %v", err)
	}
	after := time.Now()
	rows, sizes := out.snapshot()
	if len(rows) != 400 {
		t.Fatalf("%d rows, want 400", len(rows))
	}
	// Paced: event time tracks the wall clock.
	for _, r := range rows {
		ts := time.UnixMicro(r.TS)
		if ts.Before(before.Add(-time.Second)) || ts.After(after.Add(time.Second)) {
			t.Fatalf("ts %v outside the run [%v, %v]", ts, before, after)
		}
	}
	for _, n := range sizes {
		if n == 0 || n > MaxBatchRows {
			t.Fatalf("batch sizes %v", sizes)
		}
	}
}

func TestSourceEmitError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, err := NewSource(spec(mem, map[string]string{"rate": "0"}))
	if err != nil {
		t.Fatal(err)
	}
	out := &collector{failAt: 3}
	err = src.Run(context.Background(), out)
	if err == nil || !strings.Contains(err.Error(), "sink full") || !strings.Contains(err.Error(), "source gen") {
		t.Fatalf("Run = %v, want the emitter's error with context", err)
	}
	if got := src.Progress()[0].Offset; got != 3*MaxBatchRows {
		t.Fatalf("progress %d after 3 full batches", got)
	}
}

func TestSourceOptionErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		opts   map[string]string
		schema types.Schema
		msg    string
	}{
		"unknown option": {map[string]string{"rat": "5"}, nil, `unknown option "rat"`},
		"bad number":     {map[string]string{"rate": "fast"}, nil, `rate = "fast" is not a number`},
		"bad integer":    {map[string]string{"users": "1.5"}, nil, "users"},
		"bad zipf":       {map[string]string{"zipf": "-1"}, nil, "zipf exponent"},
		"bad start":      {map[string]string{"start": "yesterday"}, nil, "start"},
		"negative count": {map[string]string{"count": "-1"}, nil, "count"},
		"unknown column": {nil, types.Schema{{Name: "price", Type: types.DoubleType}}, `unknown column "price"`},
	} {
		s := spec(memory.NewGoAllocator(), tc.opts)
		if tc.schema != nil {
			s.Schema = tc.schema
		}
		_, err := connectors.NewSource(s)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "source gen") {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.msg)
		}
	}
	// Explicit zeros switch features off rather than meaning "default".
	src, err := newSource(spec(memory.NewGoAllocator(), map[string]string{"cart_prob": "0", "purchase_prob": "0", "categories": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if c := src.Generator().Config(); c.CartProb != 0 || c.PurchaseProb != 0 || c.Categories != 1 || c.Rate != 10000 {
		t.Fatalf("config %+v", c)
	}
}
