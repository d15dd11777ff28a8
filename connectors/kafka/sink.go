package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicedb/sluice/connectors"
	"github.com/sluicedb/sluice/connectors/format"
)

// EpochHeader is the record header every sink message carries: the epoch
// (decimal) whose changes it belongs to. Delivery is at-least-once, so a
// consumer that sees an epoch twice (after a restart) drops the repeat.
const EpochHeader = "sluice-epoch"

var sinkOptions = []string{"connector", "brokers", "topic", "format", "mode"}

// Sink writes a view's changes to a Kafka topic as JSON.
//
// Options: brokers (default 127.0.0.1:9092), topic (required; created
// with the broker's default partitions if missing), format ('json') and
// mode:
//
//   - 'upsert' (the default for a view with a key): the message key is a
//     JSON object of the view's key columns, e.g. {"item":42}; the value
//     is the row as a JSON object, or a tombstone (nil value) when the row
//     was deleted. Within an epoch only the last state of each key is
//     sent, so an update_before/update_after pair becomes one message and
//     an update_before without a matching update_after a tombstone.
//   - 'changelog' (the default for a view without a key): every change is
//     a message whose value is the row plus "op" (insert, delete,
//     update_before, update_after) and "epoch"; the key is the key
//     columns' object as in upsert mode, or nil for a view without a key.
//
// Every message carries the header sluice-epoch.
type Sink struct {
	spec    connectors.SinkSpec
	brokers []string
	topic   string
	upsert  bool
	enc     *format.JSONEncoder
	ops     []kgo.Opt // extra client options (tests)

	mu      sync.Mutex
	cl      *kgo.Client
	ensured bool
	closed  bool
}

// NewSink builds a Kafka sink from its spec. It does not connect.
func NewSink(spec connectors.SinkSpec) (*Sink, error) {
	if err := checkOptions(spec.Options, sinkOptions); err != nil {
		return nil, fmt.Errorf("sink %s: %w", spec.Name, err)
	}
	s := &Sink{
		spec:    spec,
		brokers: splitBrokers(spec.Option("brokers", DefaultBrokers)),
		topic:   spec.Option("topic", ""),
		enc:     format.NewJSONEncoder(spec.Schema),
	}
	if s.topic == "" {
		return nil, fmt.Errorf("sink %s: option topic is required", spec.Name)
	}
	if len(s.brokers) == 0 {
		return nil, fmt.Errorf("sink %s: option brokers names no broker", spec.Name)
	}
	if f := strings.ToLower(spec.Option("format", "json")); f != "json" {
		return nil, fmt.Errorf("sink %s: format %q is not supported for sinks (known: json)", spec.Name, f)
	}
	for _, k := range spec.Key {
		if k < 0 || k >= len(spec.Schema) {
			return nil, fmt.Errorf("sink %s: key column %d out of range", spec.Name, k)
		}
	}
	defMode := "changelog"
	if len(spec.Key) > 0 {
		defMode = "upsert"
	}
	switch m := strings.ToLower(spec.Option("mode", defMode)); m {
	case "upsert":
		if len(spec.Key) == 0 {
			return nil, fmt.Errorf("sink %s: mode 'upsert' needs a view with a key; use mode = 'changelog'", spec.Name)
		}
		s.upsert = true
	case "changelog":
		for _, c := range spec.Schema {
			if n := strings.ToLower(c.Name); n == "op" || n == "epoch" {
				return nil, fmt.Errorf("sink %s: column %s clashes with the changelog's %q field; rename it with AS", spec.Name, c.Name, n)
			}
		}
	default:
		return nil, fmt.Errorf("sink %s: option mode must be 'upsert' or 'changelog', not %q", spec.Name, m)
	}
	return s, nil
}

// client returns the producer, connecting on first use.
func (s *Sink) client() (*kgo.Client, error) {
	if s.closed {
		return nil, fmt.Errorf("sink %s is closed", s.spec.Name)
	}
	if s.cl == nil {
		opts := append([]kgo.Opt{
			kgo.SeedBrokers(s.brokers...),
			kgo.DefaultProduceTopic(s.topic),
			kgo.ProducerLinger(0),
			kgo.ClientID("sluice-sink-" + s.spec.Name),
		}, s.ops...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("sink %s: kafka client: %w", s.spec.Name, err)
		}
		s.cl = cl
	}
	return s.cl, nil
}

// ensureTopic creates the topic if it does not exist.
func (s *Sink) ensureTopic(ctx context.Context, cl *kgo.Client) error {
	md := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(s.topic)
	md.Topics = append(md.Topics, t)
	resp, err := md.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, rt := range resp.Topics {
		if rt.Topic != nil && *rt.Topic == s.topic {
			err := kerr.ErrorForCode(rt.ErrorCode)
			if err == nil {
				return nil
			}
			if !errors.Is(err, kerr.UnknownTopicOrPartition) {
				return err
			}
		}
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic = s.topic
	ct.NumPartitions = -1
	ct.ReplicationFactor = -1
	req.Topics = append(req.Topics, ct)
	req.TimeoutMillis = 10000
	cr, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, rt := range cr.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", s.topic, err)
		}
	}
	return nil
}

// Write implements connectors.Sink: it produces the epoch's messages and
// returns once the brokers have acknowledged them all.
func (s *Sink) Write(ctx context.Context, epoch uint64, changes []connectors.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl, err := s.client()
	if err != nil {
		return err
	}
	if !s.ensured {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.ensureTopic(tctx, cl)
		cancel()
		if err != nil {
			return fmt.Errorf("sink %s: topic %s: %w", s.spec.Name, s.topic, err)
		}
		s.ensured = true
	}
	recs := s.records(epoch, changes)
	if len(recs) == 0 {
		return nil
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("sink %s: producing to %s: %w", s.spec.Name, s.topic, err)
	}
	return nil
}

// records encodes changes as messages. All keys and values are slices of
// one buffer.
func (s *Sink) records(epoch uint64, changes []connectors.Change) []*kgo.Record {
	hdr := []kgo.RecordHeader{{Key: EpochHeader, Value: strconv.AppendUint(nil, epoch, 10)}}
	buf := make([]byte, 0, 64*len(changes))
	recs := make([]kgo.Record, 0, len(changes))
	var latest map[string]int // upsert: key -> index in recs
	if s.upsert {
		latest = make(map[string]int, len(changes))
	}
	for _, ch := range changes {
		var k []byte
		if len(s.spec.Key) > 0 {
			start := len(buf)
			buf = s.enc.AppendKey(buf, ch.Row, s.spec.Key)
			k = buf[start:len(buf):len(buf)]
		}
		var v []byte
		switch {
		case !s.upsert:
			start := len(buf)
			buf = s.enc.AppendChange(buf, ch.Row, ch.Op, epoch)
			v = buf[start:len(buf):len(buf)]
		case ch.Op == "insert" || ch.Op == "update_after":
			start := len(buf)
			buf = s.enc.AppendRow(buf, ch.Row)
			v = buf[start:len(buf):len(buf)]
		default: // delete, update_before: a tombstone unless a later change revives the key
		}
		r := kgo.Record{Topic: s.topic, Key: k, Value: v, Headers: hdr}
		if s.upsert {
			if i, ok := latest[string(k)]; ok {
				recs[i].Value = nil // superseded: dropped below
				recs[i].Topic = ""
			}
			latest[string(k)] = len(recs)
		}
		recs = append(recs, r)
	}
	out := make([]*kgo.Record, 0, len(recs))
	for i := range recs {
		if recs[i].Topic != "" {
			out = append(out, &recs[i])
		}
	}
	return out
}

// Close implements connectors.Sink.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.cl != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.cl.Flush(ctx)
		s.cl.Close()
		s.cl = nil
		if err != nil {
			return fmt.Errorf("sink %s: flush: %w", s.spec.Name, err)
		}
	}
	return nil
}
