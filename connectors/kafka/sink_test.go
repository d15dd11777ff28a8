package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicedb/sluice/connectors"
	"github.com/sluicedb/sluice/types"
)

var pairs = types.Schema{
	{Name: "item", Type: types.BigIntType},
	{Name: "other", Type: types.BigIntType},
	{Name: "n", Type: types.BigIntType},
	{Name: "name", Type: types.TextType},
}

func pairRow(item, other, n int64, name string) []types.Datum {
	return []types.Datum{types.NewBigInt(item), types.NewBigInt(other), types.NewBigInt(n), types.NewText(name)}
}

// message is a consumed message, for comparisons.
type message struct {
	Key, Value string // Value "<nil>" for a tombstone
	Epoch      string
}

func (m message) String() string { return fmt.Sprintf("%s => %s @%s", m.Key, m.Value, m.Epoch) }

// consumeAll reads n messages of topic with a franz-go consumer.
func consumeAll(t *testing.T, addr, topic string, n int) []message {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []message
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d messages: %v", len(out), n, out)
		}
		fs.EachRecord(func(r *kgo.Record) {
			m := message{Key: string(r.Key), Value: string(r.Value)}
			if r.Key == nil {
				m.Key = "<nil>"
			}
			if r.Value == nil {
				m.Value = "<nil>"
			}
			for _, h := range r.Headers {
				if h.Key == EpochHeader {
					m.Epoch = string(h.Value)
				}
			}
			out = append(out, m)
		})
	}
	return out
}

// byKey groups messages by key, keeping their order within a key (which
// is what Kafka guarantees: one key, one partition).
func byKey(ms []message) map[string][]string {
	out := map[string][]string{}
	for _, m := range ms {
		out[m.Key] = append(out[m.Key], m.Value+" @"+m.Epoch)
	}
	return out
}

// pairChanges are two epochs of changes to a view keyed by (item, other).
var pairChanges = []struct {
	epoch   uint64
	changes []connectors.Change
}{
	{1, []connectors.Change{
		{Op: "insert", Row: pairRow(1, 2, 5, "a")},
		{Op: "insert", Row: pairRow(1, 3, 4, "b")},
		{Op: "insert", Row: pairRow(2, 1, 1, "c\"q")},
	}},
	{2, []connectors.Change{
		{Op: "update_before", Row: pairRow(1, 2, 5, "a")},
		{Op: "update_after", Row: pairRow(1, 2, 6, "a")},
		{Op: "delete", Row: pairRow(1, 3, 4, "b")},
		{Op: "update_before", Row: pairRow(2, 1, 1, "c\"q")}, // no update_after: a tombstone
		{Op: "delete", Row: pairRow(3, 3, 1, "d")},
		{Op: "insert", Row: pairRow(3, 3, 2, "d")}, // revived in the same epoch
	}},
}

func writeAll(t *testing.T, s connectors.Sink) {
	t.Helper()
	for _, e := range pairChanges {
		// Stamp the epoch on the changes as the executor does.
		for i := range e.changes {
			e.changes[i].Epoch = e.epoch
		}
		if err := s.Write(context.Background(), e.epoch, e.changes); err != nil {
			t.Fatalf("write epoch %d: %v", e.epoch, err)
		}
	}
}

func sinkSpec(addr, topic string, key []int, opts ...string) connectors.SinkSpec {
	o := map[string]string{"connector": "kafka", "brokers": addr, "topic": topic}
	for i := 0; i+1 < len(opts); i += 2 {
		o[opts[i]] = opts[i+1]
	}
	return connectors.SinkSpec{Name: "out", Schema: pairs, Key: key, Options: o}
}

// wantUpsert is what upsert mode writes for pairChanges, by key.
var wantUpsert = map[string][]string{
	`{"item":1,"other":2}`: {`{"item":1,"other":2,"n":5,"name":"a"} @1`, `{"item":1,"other":2,"n":6,"name":"a"} @2`},
	`{"item":1,"other":3}`: {`{"item":1,"other":3,"n":4,"name":"b"} @1`, `<nil> @2`},
	`{"item":2,"other":1}`: {`{"item":2,"other":1,"n":1,"name":"c\"q"} @1`, `<nil> @2`},
	`{"item":3,"other":3}`: {`{"item":3,"other":3,"n":2,"name":"d"} @2`},
}

func TestSinkUpsert(t *testing.T) {
	_, addr := newCluster(t, kfake.SeedTopics(3, "recs"))
	s, err := connectors.NewSink(sinkSpec(addr, "recs", []int{0, 1})) // upsert is the default with a key
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	got := byKey(consumeAll(t, addr, "recs", 7))
	if fmt.Sprint(got) != fmt.Sprint(wantUpsert) {
		t.Fatalf("upsert messages\n%v\nwant\n%v", got, wantUpsert)
	}
	if err := s.Write(context.Background(), 3, pairChanges[0].changes); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func TestSinkChangelog(t *testing.T) {
	_, addr := newCluster(t) // the sink creates its topic
	s, err := NewSink(sinkSpec(addr, "log", []int{0, 1}, "mode", "changelog"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeAll(t, s)
	got := byKey(consumeAll(t, addr, "log", 9))
	want := map[string][]string{}
	enc := []string{}
	for _, e := range pairChanges {
		for _, c := range e.changes {
			k := fmt.Sprintf(`{"item":%d,"other":%d}`, c.Row[0].I, c.Row[1].I)
			v := fmt.Sprintf(`{"item":%d,"other":%d,"n":%d,"name":%q,"op":"%s","epoch":%d} @%d`, c.Row[0].I, c.Row[1].I, c.Row[2].I, c.Row[3].S, c.Op, e.epoch, e.epoch)
			want[k] = append(want[k], v)
			enc = append(enc, v)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("changelog messages\n%v\nwant\n%v", got, want)
	}

	// A view without a key: changelog by default, nil keys.
	sp := sinkSpec(addr, "log2", nil)
	s2, err := NewSink(sp)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	writeAll(t, s2)
	var vals []string
	for _, m := range consumeAll(t, addr, "log2", 9) {
		if m.Key != "<nil>" {
			t.Fatalf("keyless view: key %s", m.Key)
		}
		vals = append(vals, m.Value+" @"+m.Epoch)
	}
	if len(vals) != len(enc) {
		t.Fatalf("%d messages, want %d", len(vals), len(enc))
	}
	for _, v := range enc {
		if !strings.Contains(strings.Join(vals, "\n"), v) {
			t.Errorf("missing %s", v)
		}
	}
}

func TestSinkOptions(t *testing.T) {
	for _, c := range []struct {
		sp  connectors.SinkSpec
		err string
	}{
		{sinkSpec("x:1", "t", nil, "mode", "upsert"), "mode 'upsert' needs a view with a key"},
		{sinkSpec("x:1", "t", []int{0}, "mode", "append"), "option mode must be"},
		{sinkSpec("x:1", "t", []int{0}, "format", "csv"), `format "csv" is not supported`},
		{sinkSpec("x:1", "", []int{0}), "option topic is required"},
		{sinkSpec("x:1", "t", []int{0}, "partitions", "3"), `unknown option "partitions"`},
		{connectors.SinkSpec{Name: "o", Schema: types.Schema{{Name: "op", Type: types.TextType}}, Options: map[string]string{"connector": "kafka", "topic": "t"}},
			"clashes with the changelog's \"op\" field"},
	} {
		_, err := connectors.NewSink(c.sp)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v: error %v, want %q", c.sp.Options, err, c.err)
		}
	}
}

// TestSinkJSONIsValid checks every value the sink writes parses as JSON.
func TestSinkJSONIsValid(t *testing.T) {
	_, addr := newCluster(t, kfake.SeedTopics(1, "v"))
	s, err := NewSink(sinkSpec(addr, "v", []int{0}, "mode", "changelog"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeAll(t, s)
	for _, m := range consumeAll(t, addr, "v", 9) {
		var k, v map[string]any
		if json.Unmarshal([]byte(m.Key), &k) != nil || json.Unmarshal([]byte(m.Value), &v) != nil {
			t.Fatalf("not JSON: %s", m)
		}
		if _, ok := v["op"].(string); !ok || v["epoch"] == nil || len(k) != 1 {
			t.Fatalf("fields: %s", m)
		}
	}
}
