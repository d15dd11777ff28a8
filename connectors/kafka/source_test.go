package kafka

import (
	"context"
	"fmt"
	"sort"
	"strings"
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

var clicks = types.Schema{
	{Name: "user_id", Type: types.BigIntType},
	{Name: "item_id", Type: types.IntType},
	{Name: "action", Type: types.TextType},
	{Name: "ts", Type: types.TimestampType(3)},
}

func clickJSON(i int) []byte {
	return fmt.Appendf(nil, `{"user_id":%d,"item_id":%d,"action":"a%d","ts":"2026-11-25 10:00:%02d.%03d"}`, i, i%7, i%3, i%60, i%1000)
}

// idsOf returns the sorted user_id values of rows.
func idsOf(rows [][]types.Datum) []int64 {
	var ids []int64
	for _, r := range rows {
		ids = append(ids, r[0].I)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func checkIDs(t *testing.T, rows [][]types.Datum, from, to int) {
	t.Helper()
	ids := idsOf(rows)
	if len(ids) != to-from {
		t.Fatalf("got %d rows, want %d", len(ids), to-from)
	}
	for i, id := range ids {
		if id != int64(from+i) {
			t.Fatalf("row ids %v..., want %d..%d each once", ids[:min(len(ids), 20)], from, to-1)
		}
	}
}

func TestSourceJSONThreePartitions(t *testing.T) {
	_, addr := newCluster(t, kfake.SeedTopics(3, "clicks"))
	p := producer(t, addr)
	const n = 3000
	perPart := map[int32]int64{}
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		part := int32(i % 3)
		if i%10 == 0 {
			part = 2 // uneven partitions
		}
		perPart[part]++
		recs = append(recs, &kgo.Record{Topic: "clicks", Partition: part, Value: clickJSON(i)})
	}
	produce(t, p, recs...)

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r := start(t, mem, spec(mem, clicks, addr, "clicks", "batch.size", "500"), nil)
	waitFor(t, "all rows", func() bool { n2, _ := r.out.counts(); return n2 >= n })
	want := map[int32][2]int64{}
	for part, c := range perPart {
		want[part] = [2]int64{c, c}
	}
	progressIs(t, r.src, want)
	rows, bad := r.out.snapshot()
	if len(bad) != 0 {
		t.Fatalf("bad events: %v", bad[0])
	}
	checkIDs(t, rows, 0, n)
	for _, row := range rows {
		i := int(row[0].I)
		ts := time.Date(2026, 11, 25, 10, 0, i%60, (i%1000)*1e6, time.UTC).UnixMicro()
		if row[1].I != int64(i%7) || row[2].S != fmt.Sprintf("a%d", i%3) || row[3].I != ts {
			t.Fatalf("row %d = %v", i, row)
		}
	}
	r.out.mu.Lock()
	emits := r.out.emits
	r.out.mu.Unlock()
	if emits < n/500 {
		t.Errorf("%d emits for %d rows at batch.size 500", emits, n)
	}

	// Lag: more records arrive; once read, offsets follow the new ends.
	produce(t, p, &kgo.Record{Topic: "clicks", Partition: 1, Value: clickJSON(n)})
	want[1] = [2]int64{perPart[1] + 1, perPart[1] + 1}
	progressIs(t, r.src, want)
	r.stop(t)
}

func TestSourceCSVAndMetadata(t *testing.T) {
	_, addr := newCluster(t, kfake.SeedTopics(2, "m"))
	p := producer(t, addr)
	ts0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := 0; i < 20; i++ {
		var key []byte
		if i%4 != 0 {
			key = fmt.Appendf(nil, "k%d", i)
		}
		recs = append(recs, &kgo.Record{Topic: "m", Partition: int32(i % 2), Key: key,
			Value: fmt.Appendf(nil, "%d,\"x, %d\"\n", i, i), Timestamp: ts0.Add(time.Duration(i) * time.Millisecond)})
	}
	produce(t, p, recs...)
	schema := types.Schema{
		{Name: "id", Type: types.BigIntType},
		{Name: "_key", Type: types.TextType},
		{Name: "s", Type: types.TextType},
		{Name: "_partition", Type: types.IntType},
		{Name: "_offset", Type: types.BigIntType},
		{Name: "_timestamp", Type: types.TimestampType(6)},
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r := start(t, mem, spec(mem, schema, addr, "m", "format", "csv"), nil)
	waitFor(t, "20 rows", func() bool { n, _ := r.out.counts(); return n >= 20 })
	rows, _ := r.out.snapshot()
	checkIDs(t, rows, 0, 20)
	for _, row := range rows {
		i := int(row[0].I)
		if i%4 == 0 != row[1].Null || (!row[1].Null && row[1].S != fmt.Sprintf("k%d", i)) {
			t.Errorf("row %d: _key = %v", i, row[1])
		}
		if row[2].S != fmt.Sprintf("x, %d", i) || row[3].I != int64(i%2) || row[4].I != int64(i/2) ||
			row[5].I != ts0.Add(time.Duration(i)*time.Millisecond).UnixMicro() {
			t.Errorf("row %d = %v", i, row)
		}
	}
	progressIs(t, r.src, map[int32][2]int64{0: {10, 10}, 1: {10, 10}})
}

func TestSourceBadEvents(t *testing.T) {
	_, addr := newCluster(t, kfake.SeedTopics(2, "b"))
	p := producer(t, addr)
	bads := map[int]string{
		3:  `{"user_id":3,"item_id":"x"}`,
		10: `{"user_id":10`,
		11: `[1,2]`,
		25: `{"user_id":"abc"}`,
		26: `not json`,
		40: `{"user_id":40,"action":"\q"}`,
		41: `{"user_id":41,"item_id":99999999999}`,
	}
	reasons := map[int]string{3: `column item_id: cannot read "x" as INT`, 10: "unexpected end of input", 11: "expected a JSON object, got an array",
		25: `column user_id: cannot read "abc" as BIGINT`, 26: "expected a JSON object", 40: `invalid escape \q`, 41: "out of range for INT"}
	const n = 50
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		v := clickJSON(i)
		if b, ok := bads[i]; ok {
			v = []byte(b)
		}
		recs = append(recs, &kgo.Record{Topic: "b", Partition: int32(i % 2), Key: []byte(itoa(i)), Value: v})
	}
	produce(t, p, recs...)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r := start(t, mem, spec(mem, clicks, addr, "b"), nil)
	waitFor(t, "all events", func() bool { g, b := r.out.counts(); return g+b >= n })
	progressIs(t, r.src, map[int32][2]int64{0: {n / 2, n / 2}, 1: {n / 2, n / 2}})
	rows, bad := r.out.snapshot()
	if len(rows) != n-len(bads) || len(bad) != len(bads) {
		t.Fatalf("%d rows and %d bad events, want %d and %d", len(rows), len(bad), n-len(bads), len(bads))
	}
	for _, row := range rows {
		if _, isBad := bads[int(row[0].I)]; isBad {
			t.Errorf("bad event %d delivered as a row", row[0].I)
		}
	}
	for _, b := range bad {
		i := int(b.Offset)*2 + int(b.Partition)
		if b.Source != "src" || string(b.Value) != bads[i] || string(b.Key) != itoa(i) || b.Time.IsZero() {
			t.Errorf("bad event %+v, want value %q key %q", b, bads[i], itoa(i))
		}
		if !strings.Contains(b.Reason, reasons[i]) {
			t.Errorf("event %d: reason %q, want %q", i, b.Reason, reasons[i])
		}
	}
}

func TestSourceStartLatest(t *testing.T) {
	_, addr := newCluster(t, kfake.SeedTopics(2, "l"))
	p := producer(t, addr)
	for i := 0; i < 10; i++ {
		produce(t, p, &kgo.Record{Topic: "l", Partition: int32(i % 2), Value: clickJSON(i)})
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r := start(t, mem, spec(mem, clicks, addr, "l", "start", "latest"), nil)
	progressIs(t, r.src, map[int32][2]int64{0: {5, 5}, 1: {5, 5}})
	for i := 10; i < 16; i++ {
		produce(t, p, &kgo.Record{Topic: "l", Partition: int32(i % 2), Value: clickJSON(i)})
	}
	progressIs(t, r.src, map[int32][2]int64{0: {8, 8}, 1: {8, 8}})
	rows, _ := r.out.snapshot()
	checkIDs(t, rows, 10, 16)
}

func TestSourceTopicCreatedLater(t *testing.T) {
	c, addr := newCluster(t)
	// The topic must be created only after the source's first lookup
	// found it missing (else "latest" rightly starts at its end): watch
	// for that lookup. The cluster handles requests one at a time, so the
	// CreateTopics request sent after the signal is handled after it.
	looked := make(chan struct{})
	var once sync.Once
	c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		for _, rt := range req.(*kmsg.MetadataRequest).Topics {
			if rt.Topic != nil && *rt.Topic == "later" {
				once.Do(func() { close(looked) })
			}
		}
		return nil, nil, false // observe only: the cluster answers
	})
	p := producer(t, addr)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	// start=latest: a topic that appears later is still read from its start.
	r := start(t, mem, spec(mem, clicks, addr, "later", "start", "latest"), nil)
	select {
	case <-looked:
	case <-time.After(20 * time.Second):
		t.Fatal("the source never looked the topic up")
	}
	createTopic(t, p, "later", 2)
	produce(t, p, &kgo.Record{Topic: "later", Partition: 0, Value: clickJSON(0)}, &kgo.Record{Topic: "later", Partition: 1, Value: clickJSON(1)})
	waitFor(t, "rows from the new topic", func() bool { n, _ := r.out.counts(); return n >= 2 })

	// Partitions added to the topic are picked up, from their start.
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = "later", 4
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), p)
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create partitions: %v %+v", err, resp)
	}
	p = producer(t, addr) // a client that has not cached the old partition count
	produce(t, p, &kgo.Record{Topic: "later", Partition: 3, Value: clickJSON(2)}, &kgo.Record{Topic: "later", Partition: 2, Value: clickJSON(3)})
	progressIs(t, r.src, map[int32][2]int64{0: {1, 1}, 1: {1, 1}, 2: {1, 1}, 3: {1, 1}})
	rows, _ := r.out.snapshot()
	checkIDs(t, rows, 0, 4)
}

func TestSourceBrokerRestart(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	c1, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(2, "r"))
	if err != nil {
		t.Fatal(err)
	}
	addr := c1.ListenAddrs()[0]
	p1, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := 0; i < 40; i++ {
		recs = append(recs, &kgo.Record{Topic: "r", Partition: int32(i % 2), Value: clickJSON(i)})
	}
	produce(t, p1, recs...)
	p1.Close()

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r := start(t, mem, spec(mem, clicks, addr, "r"), nil)
	waitFor(t, "rows before the restart", func() bool { n, _ := r.out.counts(); return n >= 40 })
	c1.Close()

	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir))
	if err != nil {
		t.Fatalf("restart on port %d: %v", port, err)
	}
	defer c2.Close()
	p2 := producer(t, addr)
	recs = recs[:0]
	for i := 40; i < 80; i++ {
		recs = append(recs, &kgo.Record{Topic: "r", Partition: int32(i % 2), Value: clickJSON(i)})
	}
	produce(t, p2, recs...)
	progressIs(t, r.src, map[int32][2]int64{0: {40, 40}, 1: {40, 40}})
	rows, bad := r.out.snapshot()
	if len(bad) > 0 {
		t.Fatalf("bad: %v", bad[0])
	}
	checkIDs(t, rows, 0, 80) // nothing lost, nothing read twice
	r.stop(t)
}

func TestSourceAtOffsets(t *testing.T) {
	_, addr := newCluster(t, kfake.SeedTopics(2, "o"))
	p := producer(t, addr)
	var recs []*kgo.Record
	for i := 0; i < 20; i++ {
		recs = append(recs, &kgo.Record{Topic: "o", Partition: int32(i % 2), Value: clickJSON(i)})
	}
	produce(t, p, recs...)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	// Resume partition 0 after its first 7 records; partition 1 is not in
	// the checkpoint, so it is read from the start.
	r := start(t, mem, spec(mem, clicks, addr, "o", "start", "latest"), map[int32]int64{0: 7})
	progressIs(t, r.src, map[int32][2]int64{0: {10, 10}, 1: {10, 10}})
	rows, _ := r.out.snapshot()
	var ids []int64
	for _, id := range idsOf(rows) {
		ids = append(ids, id)
	}
	want := []int64{1, 3, 5, 7, 9, 11, 13, 14, 15, 16, 17, 18, 19}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("ids %v, want %v", ids, want)
	}
}

func TestSourceOptions(t *testing.T) {
	mem := memory.NewGoAllocator()
	for _, c := range []struct {
		opts   []string
		schema types.Schema
		err    string
	}{
		{[]string{"topic", ""}, clicks, "option topic is required"},
		{[]string{"start", "middle"}, clicks, "option start must be 'earliest' or 'latest'"},
		{[]string{"format", "avro"}, clicks, `unknown format "avro"`},
		{[]string{"group.id", "g"}, clicks, `unknown option "group.id"`},
		{[]string{"batch.size", "0"}, clicks, "option batch.size must be an integer"},
		{nil, types.Schema{{Name: "_offset", Type: types.IntType}}, "metadata column _offset must be BIGINT"},
		{nil, types.Schema{{Name: "iv", Type: types.IntervalType}}, "cannot be decoded"},
	} {
		_, err := connectors.NewSource(spec(mem, c.schema, "127.0.0.1:1", "t", c.opts...))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v: error %v, want %q", c.opts, err, c.err)
		}
	}
	src, err := connectors.NewSource(spec(mem, clicks, "127.0.0.1:1", "t"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(*Source); !ok {
		t.Fatalf("registry built %T", src)
	}
}

// TestSourceStopsWhileBrokerDown checks that cancelling a source whose
// brokers cannot be reached returns promptly and cleanly.
func TestSourceStopsWhileBrokerDown(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r := start(t, mem, spec(mem, clicks, fmt.Sprintf("127.0.0.1:%d", freePort(t)), "none"), nil)
	r.stop(t)
}

// gate is an Emitter that blocks until opened: back pressure.
type gate struct {
	*collector
	open chan struct{}
}

func (g gate) Emit(ctx context.Context, rec arrow.RecordBatch) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		rec.Release()
		return ctx.Err()
	}
	return g.collector.Emit(ctx, rec)
}

// TestSourceLagUnderBackPressure: while the engine does not take batches,
// the source's offsets stay at what was emitted and the lag shows.
func TestSourceLagUnderBackPressure(t *testing.T) {
	_, addr := newCluster(t, kfake.SeedTopics(1, "bp"))
	p := producer(t, addr)
	var recs []*kgo.Record
	for i := 0; i < 100; i++ {
		recs = append(recs, &kgo.Record{Topic: "bp", Value: clickJSON(i)})
	}
	produce(t, p, recs...)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	src, err := NewSource(spec(mem, clicks, addr, "bp", "batch.size", "10"))
	if err != nil {
		t.Fatal(err)
	}
	g := gate{collector: &collector{schema: clicks}, open: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, g) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		mem.AssertSize(t, 0)
	}()
	progressIs(t, src, map[int32][2]int64{0: {0, 100}}) // lag 100: nothing emitted
	waitFor(t, "a decoded batch waiting", func() bool { return mem.CurrentAlloc() > 0 })
	if got := src.Progress()[0].Offset; got != 0 {
		t.Fatalf("offset %d before any Emit returned", got)
	}
	close(g.open)
	progressIs(t, src, map[int32][2]int64{0: {100, 100}})
	rows, _ := g.snapshot()
	checkIDs(t, rows, 0, 100)
}
