package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaRoundTrip: events produced into an in-process Kafka (kfake) —
// by franz-go and, when installed, by kcat — flow through a Kafka source,
// a view and a Kafka sink; malformed messages land in the error table, the
// counts add up, and the sink's topic (read back by franz-go and by kcat)
// holds the view's final rows.
func TestKafkaRoundTrip(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]

	e := openManual(t)
	defer e.Close()
	mustExec(t, e, fmt.Sprintf(`CREATE SOURCE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3), _partition INT, _offset BIGINT)
		WITH (connector = 'kafka', brokers = '%s', topic = 'clicks', format = 'json')`, addr))
	mustExec(t, e, `CREATE MATERIALIZED VIEW per_item AS SELECT item_id, COUNT(*) AS n, COUNT(DISTINCT user_id) AS users FROM clicks GROUP BY item_id`)
	mustExec(t, e, fmt.Sprintf(`CREATE SINK counts FROM per_item WITH (connector = 'kafka', brokers = '%s', topic = 'item_counts', mode = 'upsert')`, addr))

	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want := map[int64]int64{}
	var recs []*kgo.Record
	good, bad := 0, 0
	for i := 0; i < 300; i++ {
		item := int64(i % 7)
		v := fmt.Sprintf(`{"user_id": %d, "item_id": %d, "ts": "2026-11-25 10:%02d:%02d"}`, i%13, item, i/60, i%60)
		switch i % 50 {
		case 7:
			v, bad = `{"user_id": 1, "item_id": "seven"}`, bad+1 // wrong type
		case 21:
			v, bad = `{"user_id": 1, "item_id": 3`, bad+1 // truncated
		case 33:
			v, bad = `not json at all`, bad+1
		default:
			want[item]++
			good++
		}
		recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte(fmt.Sprint(i % 13)), Value: []byte(v)})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A third-party producer: kcat writes more events.
	kcatPath := kcatForTest(t)
	if kcatPath != "" {
		var lines []string
		for i := 0; i < 20; i++ {
			lines = append(lines, fmt.Sprintf(`{"user_id": %d, "item_id": 100, "ts": "2026-11-25 11:00:%02d"}`, i, i))
		}
		cmd := exec.CommandContext(ctx, kcatPath, "-b", addr, "-t", "clicks", "-P")
		cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P: %v\n%s", err, out)
		}
		want[100] += 20
		good += 20
	}

	waitFor(t, "every message read", func() bool {
		r, err := e.Execute(context.Background(), "SELECT events, bad_events FROM sluice_sources")
		return err == nil && len(r[0].Rows) == 1 && r[0].Rows[0][0].I == int64(good) && r[0].Rows[0][1].I == int64(bad)
	})
	mustExec(t, e, "FLUSH")
	got := map[int64]int64{}
	for _, row := range queryRows(t, e, "SELECT item_id, n FROM per_item") {
		got[row[0].I] = row[1].I
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("per_item = %v, want %v", got, want)
	}
	errs := queryRows(t, e, "SELECT reason, raw_value FROM sluice_source_errors")
	if len(errs) != bad {
		t.Fatalf("%d rows in the error table, want %d: %v", len(errs), bad, render(errs))
	}
	for _, r := range errs {
		if r[0].S == "" || r[1].S == "" {
			t.Fatalf("error row without reason or raw bytes: %v", r)
		}
	}
	lag := queryRows(t, e, "SELECT SUM(next_offset), SUM(lag_records) FROM sluice_source_lag")
	if lag[0][0].I != int64(good+bad) || lag[0][1].I != 0 {
		t.Fatalf("offsets/lag = %v, want %d/0", render(lag), good+bad)
	}

	// The sink's topic, read back: the last value per key is the view's row.
	latest := consumeLatest(t, ctx, addr, "item_counts")
	waitFor(t, "the sink's final values", func() bool {
		latest = consumeLatest(t, ctx, addr, "item_counts")
		return len(latest) == len(want) && sinkMatches(latest, want)
	})
	if kcatPath != "" {
		out, err := exec.CommandContext(ctx, kcatPath, "-b", addr, "-t", "item_counts", "-C", "-e", "-f", "%k\t%s\t%h\n").Output()
		if err != nil {
			t.Fatalf("kcat -C: %v", err)
		}
		if !strings.Contains(string(out), `"item_id":100`) || !strings.Contains(string(out), "sluice-epoch=") {
			t.Fatalf("kcat read of the sink lacks the key or the epoch header:\n%s", out)
		}
	}
}

func kcatForTest(t *testing.T) string {
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed but CI is set: .ci/run installs it")
		}
		t.Log("kcat not installed: the third-party client part is skipped")
		return ""
	}
	return path
}

// consumeLatest reads a topic from the start and returns the last value per key.
func consumeLatest(t *testing.T, ctx context.Context, addr, topic string) map[string]string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string]string{}
	fctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	for {
		fs := cl.PollFetches(fctx)
		if fctx.Err() != nil {
			return out
		}
		fs.EachRecord(func(r *kgo.Record) { out[string(r.Key)] = string(r.Value) })
	}
}

func sinkMatches(latest map[string]string, want map[int64]int64) bool {
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var key struct {
			Item int64 `json:"item_id"`
		}
		var val struct {
			Item int64 `json:"item_id"`
			N    int64 `json:"n"`
		}
		if json.Unmarshal([]byte(k), &key) != nil || json.Unmarshal(bytes.TrimSpace([]byte(latest[k])), &val) != nil {
			return false
		}
		if want[key.Item] != val.N {
			return false
		}
	}
	return true
}
