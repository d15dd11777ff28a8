// Package kafka is the Kafka connector: a source that reads a topic's
// partitions directly (no consumer group: the engine keeps the offsets,
// and checkpoints will record them) and decodes JSON or CSV events into
// Arrow batches, and a sink that writes a view's changes as JSON in
// upsert or changelog form. Both are built on franz-go.
//
// Importing the package registers the "kafka" source and sink with the
// connectors registry.
package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
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

func init() {
	connectors.RegisterSource("kafka", func(s connectors.SourceSpec) (connectors.Source, error) {
		return NewSource(s)
	})
	connectors.RegisterSink("kafka", func(s connectors.SinkSpec) (connectors.Sink, error) {
		return NewSink(s)
	})
}

// DefaultBrokers is used when a source or sink names no brokers (it is
// where `sluice dev-kafka` listens).
const DefaultBrokers = "127.0.0.1:9092"

// Source options and their defaults.
const (
	defaultBatchSize = 4096
	defaultLinger    = 50 * time.Millisecond
	defaultDiscovery = time.Second
)

var sourceOptions = []string{"connector", "brokers", "topic", "start", "format",
	"batch.size", "linger.ms", "discovery.interval.ms"}

// Source reads a Kafka topic. It is built by NewSource or NewSourceAt and
// run once.
//
// Options: brokers ('host:port,...', default 127.0.0.1:9092), topic
// (required), format ('json' or 'csv', default json), start ('earliest',
// the default, or 'latest': where partitions that exist when the source
// starts are first read; partitions that appear later, including those of
// a topic created after the source, are read from their beginning so that
// nothing produced to them is missed), batch.size (rows per emitted batch,
// default 4096), linger.ms (how long a partial batch may wait for more
// rows, default 50) and discovery.interval.ms (how often the topic's
// partitions are looked up, default 1000).
type Source struct {
	spec      connectors.SourceSpec
	brokers   []string
	topic     string
	latest    bool
	format    string
	batchSize int
	linger    time.Duration
	discovery time.Duration
	startAt   map[int32]int64 // from a checkpoint; nil when starting fresh
	clientOps []kgo.Opt       // extra client options (tests)

	mu       sync.Mutex
	progress map[int32]*connectors.PartitionProgress
}

// NewSource builds a Kafka source from its spec, checking the options and
// that the format can decode the schema. It does not connect. A spec with
// Resume positions (a checkpoint) resumes there, as NewSourceAt.
func NewSource(spec connectors.SourceSpec) (*Source, error) {
	if spec.Resume == nil {
		return NewSourceAt(spec, nil)
	}
	at := make(map[int32]int64, len(spec.Resume))
	for _, p := range spec.Resume {
		at[p.Partition] = p.Offset
	}
	return NewSourceAt(spec, at)
}

// NewSourceAt builds a Kafka source that resumes at the given next offsets
// per partition (as Progress reported them, e.g. from a checkpoint).
// Partitions missing from a non-nil startAt are read from their beginning:
// they appeared after the offsets were taken. A nil startAt starts as the
// start option says.
func NewSourceAt(spec connectors.SourceSpec, startAt map[int32]int64) (*Source, error) {
	if err := checkOptions(spec.Options, sourceOptions); err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Name, err)
	}
	s := &Source{
		spec:     spec,
		brokers:  splitBrokers(spec.Option("brokers", DefaultBrokers)),
		topic:    spec.Option("topic", ""),
		format:   strings.ToLower(spec.Option("format", "json")),
		progress: map[int32]*connectors.PartitionProgress{},
	}
	if startAt != nil {
		s.startAt = make(map[int32]int64, len(startAt))
		for p, o := range startAt {
			s.startAt[p] = o
		}
	}
	var err error
	if s.topic == "" {
		return nil, fmt.Errorf("source %s: option topic is required", spec.Name)
	}
	if len(s.brokers) == 0 {
		return nil, fmt.Errorf("source %s: option brokers names no broker", spec.Name)
	}
	switch st := strings.ToLower(spec.Option("start", "earliest")); st {
	case "earliest":
	case "latest":
		s.latest = true
	default:
		return nil, fmt.Errorf("source %s: option start must be 'earliest' or 'latest', not %q", spec.Name, st)
	}
	if _, err := format.NewDecoder(s.format, spec.Schema); err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Name, err)
	}
	if s.batchSize, err = intOption(spec.Options, "batch.size", defaultBatchSize, 1, 1<<20); err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Name, err)
	}
	ms, err := intOption(spec.Options, "linger.ms", int(defaultLinger/time.Millisecond), 0, 60000)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Name, err)
	}
	s.linger = time.Duration(ms) * time.Millisecond
	if ms, err = intOption(spec.Options, "discovery.interval.ms", int(defaultDiscovery/time.Millisecond), 10, 3600000); err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Name, err)
	}
	s.discovery = time.Duration(ms) * time.Millisecond
	if spec.Alloc == nil {
		return nil, fmt.Errorf("source %s: no allocator", spec.Name)
	}
	return s, nil
}

func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func checkOptions(opts map[string]string, known []string) error {
	for k := range opts {
		found := false
		for _, n := range known {
			if k == n {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("unknown option %q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	return nil
}

func intOption(opts map[string]string, key string, def, lo, hi int) (int, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("option %s must be an integer from %d to %d, not %q", key, lo, hi, v)
	}
	return n, nil
}

// Progress implements connectors.Source: each partition's next offset to
// read (rows before it have been emitted, or were bad) and its high
// watermark as last seen, sorted by partition.
func (s *Source) Progress() []connectors.PartitionProgress {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]connectors.PartitionProgress, 0, len(s.progress))
	for _, p := range s.progress {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

// Run implements connectors.Source.
func (s *Source) Run(ctx context.Context, out connectors.Emitter) error {
	dec, err := format.NewDecoder(s.format, s.spec.Schema)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.spec.Name, err)
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(s.brokers...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.ClientID("sluice-source-" + s.spec.Name),
		// A direct consumer: partitions are added as they are discovered.
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{}),
	}, s.clientOps...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("source %s: kafka client: %w", s.spec.Name, err)
	}
	defer cl.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.discover(ctx, cl)
	}()
	r := reader{s: s, dec: dec, out: out, batch: format.NewBatch(s.spec.Alloc, s.spec.Schema)}
	defer r.batch.Release()
	return r.run(ctx, cl)
}

// discover looks the topic's partitions up until ctx ends and starts
// consuming each new one at its starting offset.
func (s *Source) discover(ctx context.Context, cl *kgo.Client) {
	known := map[int32]bool{}
	first := true
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The first lookup that reaches the cluster decides which
		// partitions existed when the source started: if the topic is
		// missing then, every partition found later is new.
		if err := s.discoverOnce(ctx, cl, known, first); err == nil || errors.Is(err, kerr.UnknownTopicOrPartition) {
			first = false
		}
		t.Reset(s.discovery)
	}
}

// discoverOnce adds the partitions not yet known. Partitions present at
// the first successful lookup start where the start option says; later
// ones from their beginning.
func (s *Source) discoverOnce(ctx context.Context, cl *kgo.Client, known map[int32]bool, first bool) error {
	parts, err := s.partitions(ctx, cl)
	if err != nil {
		return err
	}
	var fresh []int32
	for _, p := range parts {
		if !known[p] {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	ends, err := s.listOffsets(ctx, cl, fresh, -1)
	if err != nil {
		return err
	}
	useLatest := first && s.latest && s.startAt == nil
	earliest := ends
	if !useLatest {
		if earliest, err = s.listOffsets(ctx, cl, fresh, -2); err != nil {
			return err
		}
	}
	add := map[int32]kgo.Offset{}
	s.mu.Lock()
	for _, p := range fresh {
		off := earliest[p]
		if o, ok := s.startAt[p]; ok {
			off = o
		}
		known[p] = true
		add[p] = kgo.NewOffset().At(off)
		s.progress[p] = &connectors.PartitionProgress{Partition: p, Offset: off, HighWatermark: ends[p]}
	}
	s.mu.Unlock()
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: add})
	return nil
}

// partitions returns the topic's partitions, or an error when the topic
// does not exist (yet) or the brokers cannot be reached.
func (s *Source) partitions(ctx context.Context, cl *kgo.Client) ([]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(s.topic)
	req.Topics = append(req.Topics, t)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(rctx, cl)
	if err != nil {
		return nil, err
	}
	for _, rt := range resp.Topics {
		if rt.Topic == nil || *rt.Topic != s.topic {
			continue
		}
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			return nil, err
		}
		out := make([]int32, 0, len(rt.Partitions))
		for _, p := range rt.Partitions {
			out = append(out, p.Partition)
		}
		return out, nil
	}
	return nil, kerr.UnknownTopicOrPartition
}

// listOffsets returns the start (ts = -2) or end (ts = -1) offsets of
// partitions.
func (s *Source) listOffsets(ctx context.Context, cl *kgo.Client, parts []int32, ts int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = s.topic
	for _, p := range parts {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.Timestamp = ts
		rp.CurrentLeaderEpoch = -1
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(rctx, cl)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(parts))
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, err
			}
			out[rp.Partition] = rp.Offset
		}
	}
	for _, p := range parts {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("no offset for partition %d", p)
		}
	}
	return out, nil
}

// reader is Run's poll-decode-emit loop.
type reader struct {
	s     *Source
	dec   format.Decoder
	out   connectors.Emitter
	batch *format.Batch
	meta  format.Meta

	// pending holds, per partition, the next offset after the rows (and
	// bad events) decoded since the last flush; published to Progress
	// once the batch is emitted.
	pending   map[int32]int64
	hwm       map[int32]int64
	openSince time.Time // when the first pending event arrived
}

func (r *reader) run(ctx context.Context, cl *kgo.Client) error {
	r.pending = map[int32]int64{}
	r.hwm = map[int32]int64{}
	for {
		pollCtx, cancel := ctx, context.CancelFunc(nil)
		if len(r.pending) > 0 {
			pollCtx, cancel = context.WithDeadline(ctx, r.openSince.Add(r.s.linger))
		}
		fetches := cl.PollRecords(pollCtx, r.s.batchSize-r.batch.Len())
		if cancel != nil {
			cancel()
		}
		if ctx.Err() != nil {
			return nil
		}
		if fetches.IsClientClosed() {
			return nil
		}
		for _, f := range fetches {
			for _, t := range f.Topics {
				for i := range t.Partitions {
					if err := r.partition(ctx, &t.Partitions[i]); err != nil {
						return err
					}
				}
			}
		}
		if len(r.pending) > 0 && (r.batch.Len() >= r.s.batchSize || !time.Now().Before(r.openSince.Add(r.s.linger))) {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// partition decodes one fetched partition's records.
func (r *reader) partition(ctx context.Context, p *kgo.FetchPartition) error {
	if p.Err != nil {
		// Retriable fetch errors (a broker restarting, a leader moving) are
		// retried by the client; the records, if any, are still good.
		if errors.Is(p.Err, context.Canceled) || errors.Is(p.Err, context.DeadlineExceeded) {
			return nil
		}
	}
	if p.Err == nil && p.HighWatermark >= 0 {
		r.hwm[p.Partition] = p.HighWatermark
	}
	if len(p.Records) == 0 {
		return nil
	}
	if len(r.pending) == 0 {
		r.openSince = time.Now()
	}
	for _, rec := range p.Records {
		r.meta = format.Meta{Key: rec.Key, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp.UnixMicro()}
		if err := r.dec.Decode(r.batch, rec.Value, &r.meta); err != nil {
			r.out.Bad(connectors.BadEvent{
				Source:    r.s.spec.Name,
				Partition: rec.Partition,
				Offset:    rec.Offset,
				Key:       bytes.Clone(rec.Key),
				Value:     bytes.Clone(rec.Value),
				Reason:    err.Error(),
				Time:      time.Now(),
			})
		}
		r.pending[rec.Partition] = rec.Offset + 1
		if r.batch.Len() >= r.s.batchSize {
			if err := r.flush(ctx); err != nil {
				return err
			}
			r.openSince = time.Now()
		}
	}
	return nil
}

// flush emits the batch and publishes the offsets it covers.
func (r *reader) flush(ctx context.Context) error {
	if r.batch.Len() > 0 {
		rec := r.batch.NewRecordBatch()
		if err := r.out.Emit(ctx, rec); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("source %s: %w", r.s.spec.Name, err)
		}
	}
	s := r.s
	s.mu.Lock()
	for p, off := range r.pending {
		if pp := s.progress[p]; pp != nil {
			pp.Offset = off
			if h, ok := r.hwm[p]; ok {
				pp.HighWatermark = h
			}
		}
		delete(r.pending, p)
	}
	s.mu.Unlock()
	return nil
}
