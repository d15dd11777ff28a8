package main

import (
	"context"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDevKafkaProcess runs `sluice dev-kafka` as a process: franz-go
// produces to a seeded topic and to one created on first use and reads
// the records back, then SIGTERM stops the broker cleanly.
func TestDevKafkaProcess(t *testing.T) {
	p, m := startSluice(t, `listening on (\S+)\n(?s:.*)development aid: data lives in memory and is gone on exit`,
		"dev-kafka", "--listen", "127.0.0.1:0", "--partitions", "2", "--topics", "seeded, other")
	addr := m[1]
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("broker address %q", addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	// The seeded topics exist with --partitions partitions.
	req := kmsg.NewPtrMetadataRequest()
	for _, name := range []string{"seeded", "other"} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 2 {
		t.Fatalf("metadata: %d topics", len(resp.Topics))
	}
	for _, tp := range resp.Topics {
		if tp.ErrorCode != 0 || len(tp.Partitions) != 2 {
			t.Errorf("topic %s: error %d, %d partitions", *tp.Topic, tp.ErrorCode, len(tp.Partitions))
		}
	}

	// Produce to the seeded topic and to a new one; consume both.
	sent := map[string]string{"seeded": "hello", "created-on-use": "world"}
	for topic, v := range sent {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("seeded", "created-on-use"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := map[string]string{}
	for len(got) < len(sent) {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %v of %v before the deadline", got, sent)
		}
		fs.EachError(func(topic string, part int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, part, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) != "k" {
				t.Errorf("record key %q", r.Key)
			}
			got[r.Topic] = string(r.Value)
		})
	}
	for topic, v := range sent {
		if got[topic] != v {
			t.Errorf("topic %s: consumed %q, produced %q", topic, got[topic], v)
		}
	}
	cons.Close()
	cl.Close()

	p.stop(syscall.SIGTERM)
	if !strings.Contains(p.stderr.String(), "sluice dev-kafka: stopped") {
		t.Errorf("stderr lacks the clean stop:\n%s", p.stderr)
	}
}

func TestParseDevKafkaArgs(t *testing.T) {
	opt, err := parseDevKafkaArgs([]string{"--listen", "localhost:19092", "--partitions", "5", "--topics", " a, b ,,c"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if opt.listen != "localhost:19092" || opt.partitions != 5 || strings.Join(opt.topics, "|") != "a|b|c" {
		t.Fatalf("options: %+v", opt)
	}
	opt, err = parseDevKafkaArgs(nil, io.Discard)
	if err != nil || opt.listen != "127.0.0.1:9092" || opt.partitions != 3 || opt.topics != nil {
		t.Fatalf("defaults: %+v, %v", opt, err)
	}
	for _, args := range [][]string{
		{"--listen", "nohostport"}, {"--partitions", "0"}, {"--partitions", "-1"}, {"--bogus"}, {"extra"},
	} {
		if _, err := parseDevKafkaArgs(args, io.Discard); err == nil {
			t.Errorf("dev-kafka %v: no error", args)
		}
	}
}

// TestDevKafkaListenBusy reports a taken address as an error instead of
// running without a listener.
func TestDevKafkaListenBusy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	var log lockedBuffer
	go func() { errc <- devKafkaMain(ctx, []string{"--listen", "127.0.0.1:0"}, &log) }()
	// Wait for the first broker, then start a second on its address.
	var addr string
	pollUntil(t, "the first broker", func() bool {
		s := log.String()
		if _, rest, ok := strings.Cut(s, "listening on "); ok {
			addr, _, _ = strings.Cut(rest, "\n")
			return true
		}
		return false
	})
	if err := devKafkaMain(ctx, []string{"--listen", addr}, io.Discard); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("second broker on %s: %v", addr, err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
