package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicedb/sluice/connectors/datagen"
)

func genOut(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := genMain(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("gen %v: %v", args, err)
	}
	return out.String(), errb.String()
}

// genWant is the stream the tests' flags describe, from the generator.
func genWant(t *testing.T, n int, seed uint64) []datagen.Event {
	t.Helper()
	cfg := datagen.DefaultConfig()
	cfg.Rate, cfg.Users, cfg.Items, cfg.Seed, cfg.MaxDelay = 10000, 2000, 300, seed, 2*time.Second
	g, err := datagen.NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ev := make([]datagen.Event, n)
	for i := range ev {
		g.Next(&ev[i])
	}
	return ev
}

var genArgs = []string{"--rate", "0", "--users", "2000", "--items", "300", "--max-delay", "2s", "--start", "2026-01-01 00:00:00"}

func parseTS(t *testing.T, s string) int64 {
	t.Helper()
	ts, err := time.ParseInLocation("2006-01-02 15:04:05.000000", s, time.UTC)
	if err != nil {
		t.Fatalf("ts %q: %v", s, err)
	}
	return ts.UnixMicro()
}

func TestGenJSON(t *testing.T) {
	out, stderr := genOut(t, append(genArgs, "--count", "20000", "--seed", "3", "--format", "json")...)
	want := genWant(t, 20000, 3)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	i := 0
	for ; dec.More(); i++ {
		var row struct {
			UserID    *int64  `json:"user_id"`
			ItemID    *int64  `json:"item_id"`
			TS        *string `json:"ts"`
			SessionID *int64  `json:"session_id"`
			Event     *string `json:"event"`
		}
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if row.UserID == nil || row.ItemID == nil || row.TS == nil || row.SessionID == nil || row.Event == nil {
			t.Fatalf("line %d: missing field: %+v", i+1, row)
		}
		if i >= len(want) {
			t.Fatalf("more than %d lines", len(want))
		}
		w := want[i]
		if *row.UserID != w.UserID || *row.ItemID != w.ItemID || parseTS(t, *row.TS) != w.TS ||
			*row.SessionID != w.SessionID || *row.Event != w.Kind.String() {
			t.Fatalf("line %d = %+v, want %+v", i+1, row, w)
		}
	}
	if i != 20000 || strings.Count(out, "\n") != 20000 {
		t.Fatalf("%d JSON lines (%d newlines), want --count 20000", i, strings.Count(out, "\n"))
	}
	if !strings.Contains(stderr, "20,000 events") {
		t.Errorf("summary %q", stderr)
	}
}

func TestGenCSV(t *testing.T) {
	out, _ := genOut(t, append(genArgs, "--count", "7000", "--seed", "4", "--format", "csv", "--header")...)
	want := genWant(t, 7000, 4)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 7001 || strings.Join(recs[0], ",") != "user_id,item_id,ts,session_id,event" {
		t.Fatalf("%d records, header %v", len(recs), recs[0])
	}
	for i, r := range recs[1:] {
		w := want[i]
		u, _ := strconv.ParseInt(r[0], 10, 64)
		it, _ := strconv.ParseInt(r[1], 10, 64)
		s, _ := strconv.ParseInt(r[3], 10, 64)
		if u != w.UserID || it != w.ItemID || parseTS(t, r[2]) != w.TS || s != w.SessionID || r[4] != w.Kind.String() {
			t.Fatalf("record %d = %v, want %+v", i+1, r, w)
		}
	}
	// Without --header, only events.
	out, _ = genOut(t, append(genArgs, "--count", "10", "--format", "csv")...)
	if strings.Count(out, "\n") != 10 || strings.HasPrefix(out, "user_id") {
		t.Fatalf("csv without header:\n%s", out)
	}
}

func TestGenTimestampFormat(t *testing.T) {
	r := &genRun{minute: -1 << 62}
	for _, us := range []int64{0, 1, 59_999_999, 60_000_000, -1, -60_000_001, 1767225600123456, 1767225659000000} {
		got := string(r.appendTS(nil, us))
		want := time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.000000")
		if got != want {
			t.Errorf("appendTS(%d) = %s, want %s", us, got, want)
		}
	}
}

func TestGenDeterministic(t *testing.T) {
	args := append(genArgs, "--count", "5000", "--seed", "9")
	a, _ := genOut(t, args...)
	b, _ := genOut(t, args...)
	if a != b {
		t.Fatal("two runs with --seed 9 and --start differ")
	}
	c, _ := genOut(t, append(genArgs, "--count", "5000", "--seed", "10")...)
	if a == c {
		t.Fatal("--seed 9 and --seed 10 give the same output")
	}
	// Pacing changes when events are written, not which: paced at
	// 100,000/s is unpaced with event time at 100,000/s.
	u, _ := genOut(t, append(genArgs, "--count", "5000", "--seed", "9", "--event-rate", "100000")...)
	p, _ := genOut(t, append(genArgs, "--count", "5000", "--seed", "9", "--rate", "100000")...)
	if u == a {
		t.Fatal("--event-rate changes nothing")
	}
	if p != u {
		t.Fatal("paced output differs from unpaced for the same seed and start")
	}
}

func TestGenPacedNow(t *testing.T) {
	before := time.Now()
	out, _ := genOut(t, "--rate", "5000", "--count", "300", "--max-delay", "1s")
	after := time.Now()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 300 {
		t.Fatalf("%d lines, want 300", len(lines))
	}
	for _, l := range lines {
		var row struct{ TS string }
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatal(err)
		}
		ts := time.UnixMicro(parseTS(t, row.TS))
		if ts.Before(before.Add(-2*time.Second)) || ts.After(after.Add(time.Second)) {
			t.Fatalf("ts %v outside the run [%v, %v]", ts, before, after)
		}
	}
}

// lockedBuffer is a concurrency-safe writer.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestGenStopsOnCancel(t *testing.T) {
	for _, rate := range []string{"0", "2000"} {
		ctx, cancel := context.WithCancel(context.Background())
		out, errb := &lockedBuffer{}, &lockedBuffer{}
		done := make(chan error, 1)
		go func() { done <- genMain(ctx, []string{"--rate", rate, "--format", "csv"}, out, errb) }()
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(out.String(), "\n") < 100 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("rate %s: gen after cancel: %v", rate, err)
		}
		s := out.String()
		if !strings.HasSuffix(s, "\n") {
			t.Fatalf("rate %s: output ends mid-line", rate)
		}
		n := strings.Count(s, "\n")
		if n < 100 || !strings.Contains(errb.String(), genGroup(int64(n))+" events") {
			t.Fatalf("rate %s: %d lines, summary %q", rate, n, errb.String())
		}
		r := csv.NewReader(strings.NewReader(s))
		if _, err := r.ReadAll(); err != nil {
			t.Fatalf("rate %s: %v", rate, err)
		}
	}
}

func TestGenErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--format", "xml"}, `--format "xml"`},
		{[]string{"--zipf", "-1"}, "zipf"},
		{[]string{"--items", "0"}, "--items must be positive"},
		{[]string{"--rate", "-5"}, "--rate"},
		{[]string{"--count", "-1"}, "--count"},
		{[]string{"--bogus"}, "bogus"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--start", "soon"}, "--start"},
		{[]string{"--to", "file.txt"}, "want stdout or kafka://"},
		{[]string{"--to", "kafka://localhost/topic"}, "not host:port"},
		{[]string{"--to", "kafka://localhost:9092/"}, "kafka://host:port/topic"},
	} {
		err := genMain(context.Background(), tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("gen %v: error %v, want one containing %q", tc.args, err, tc.msg)
		}
	}
	var errb bytes.Buffer
	if err := genMain(context.Background(), []string{"--help"}, io.Discard, &errb); err != nil || !strings.Contains(errb.String(), "--max-delay") {
		t.Errorf("--help: %v, %q", err, errb.String())
	}
}

func TestGenKafka(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]

	// The topic does not exist yet: the producer creates it.
	args := append(genArgs, "--count", "5000", "--seed", "6")
	_, stderr := genOut(t, append(args, "--to", "kafka://"+addr+"/clicks")...)
	if !strings.Contains(stderr, "5,000 events to Kafka topic clicks (5,000 acknowledged)") {
		t.Errorf("summary %q", stderr)
	}
	stdout, _ := genOut(t, args...)
	// Each line's positions in the stream (two events may print alike,
	// rarely: same session, item and microsecond).
	pos := map[string][]int{}
	for i, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		pos[l] = append(pos[l], i)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("clicks"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := 0
	partitions := map[int32]bool{}
	lastPos := map[int64]int{} // per session: a user's events stay in order
	for got < 5000 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			got++
			partitions[r.Partition] = true
			var row struct {
				UserID    int64 `json:"user_id"`
				SessionID int64 `json:"session_id"`
			}
			if err := json.Unmarshal(r.Value, &row); err != nil {
				t.Fatalf("value %q: %v", r.Value, err)
			}
			if string(r.Key) != strconv.FormatInt(row.UserID, 10) {
				t.Fatalf("key %q for user %d", r.Key, row.UserID)
			}
			ps := pos[string(r.Value)]
			if len(ps) == 0 {
				t.Fatalf("message %q not in the stream (or once too often)", r.Value)
			}
			p := ps[0]
			pos[string(r.Value)] = ps[1:]
			if last, ok := lastPos[row.SessionID]; ok && p < last {
				t.Fatalf("session %d out of order in partition %d", row.SessionID, r.Partition)
			}
			lastPos[row.SessionID] = p
		})
	}
	if got != 5000 {
		t.Fatalf("consumed %d messages, want 5000", got)
	}
	if len(partitions) < 2 {
		t.Errorf("all messages in partitions %v: keys do not spread", partitions)
	}
}

func TestGenKafkaUnreachable(t *testing.T) {
	old := genKafkaPingTimeout
	genKafkaPingTimeout = time.Second
	defer func() { genKafkaPingTimeout = old }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	err = genMain(context.Background(), []string{"--to", "kafka://" + addr + "/t", "--count", "1"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cannot reach Kafka at "+addr) {
		t.Fatalf("error %v", err)
	}
}

func TestGenGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := genGroup(n); got != want {
			t.Errorf("genGroup(%d) = %s, want %s", n, got, want)
		}
	}
}

func benchGen(b *testing.B, format string) {
	opt, err := parseGenArgs([]string{"--rate", "0", "--format", format, "--max-delay", "1s", "--count", strconv.Itoa(b.N)}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	cw := &countWriter{}
	run, err := newGenRun(context.Background(), opt, cw)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if err := run.loop(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cw.n)/float64(b.N), "bytes/event")
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkGenStdout measures the stdout path (generate, format, write)
// into a discarding writer.
func BenchmarkGenStdout(b *testing.B) {
	b.Run("json", func(b *testing.B) { benchGen(b, "json") })
	b.Run("csv", func(b *testing.B) { benchGen(b, "csv") })
}
