package datagen

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/connectors"
	"github.com/sluicedb/sluice/types"
)

// Batching of the source: at most MaxBatchRows rows per batch, and a
// non-empty batch waits at most FlushInterval.
const (
	MaxBatchRows  = 4096
	FlushInterval = 50 * time.Millisecond
)

func init() { connectors.RegisterSource("datagen", NewSource) }

// sourceOptions are the WITH options of a datagen source (besides
// connector), with what they set.
var sourceOptions = map[string]string{
	"rate":              "events per second of wall-clock time (0 or 'max': unpaced)",
	"event_rate":        "events per second of event time when unpaced",
	"users":             "number of users",
	"items":             "number of items",
	"zipf":              "item popularity exponent",
	"seed":              "random seed",
	"max_delay_ms":      "out-of-order lag bound, ms",
	"session_mean":      "mean events per session",
	"think_ms":          "mean think time, ms",
	"max_sessions":      "cap on concurrent sessions",
	"categories":        "number of item categories",
	"category_affinity": "probability a view stays in the session's category",
	"cart_prob":         "probability of a cart event",
	"purchase_prob":     "probability of a purchase event",
	"start":             "event time origin: 'now' or a timestamp",
	"count":             "stop after this many events",
}

// Source is the 'datagen' source connector: the clickstream of a Config,
// as Arrow batches of the source's schema.
//
// WITH options: rate (events per second of wall-clock time; the source
// paces itself so that event time tracks the clock; 0 or 'max' runs as
// fast as the engine takes events, event time advancing at event_rate,
// default 10000), users, items, zipf, seed, max_delay_ms, session_mean,
// think_ms, max_sessions, categories, category_affinity, cart_prob,
// purchase_prob (see Config), start ('now', the default, or a timestamp
// such as '2026-01-01 00:00:00' for a reproducible stream) and count
// (stop emitting after this many events; 0 = never).
type Source struct {
	name   string
	schema types.Schema
	alloc  memory.Allocator
	g      *Generator
	paced  bool
	now    bool // start at the wall clock when Run starts
	limit  int64
	sent   atomic.Int64
}

// NewSource builds a datagen source from a CREATE SOURCE spec.
func NewSource(spec connectors.SourceSpec) (connectors.Source, error) {
	s, err := newSource(spec)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", spec.Name, err)
	}
	return s, nil
}

func newSource(spec connectors.SourceSpec) (*Source, error) {
	for k := range spec.Options {
		if _, ok := sourceOptions[k]; !ok && k != "connector" {
			names := make([]string, 0, len(sourceOptions))
			for n := range sourceOptions {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("datagen: unknown option %q (known: %s)", k, strings.Join(names, ", "))
		}
	}
	if err := CheckSchema(spec.Schema); err != nil {
		return nil, err
	}
	s := &Source{name: spec.Name, schema: spec.Schema, alloc: spec.Alloc}
	if s.alloc == nil {
		s.alloc = memory.DefaultAllocator
	}
	cfg := DefaultConfig()
	o := optParser{spec: spec}
	rate := spec.Option("rate", "")
	switch strings.ToLower(strings.TrimSpace(rate)) {
	case "":
		s.paced = true
	case "max", "0":
		cfg.Rate = o.float("event_rate", cfg.Rate)
	default:
		cfg.Rate = o.float("rate", cfg.Rate)
		s.paced = true
	}
	cfg.Users = o.int("users", cfg.Users)
	cfg.Items = o.int("items", cfg.Items)
	cfg.ZipfS = o.float("zipf", cfg.ZipfS)
	cfg.Seed = uint64(o.int("seed", int(cfg.Seed)))
	cfg.MaxDelay = time.Duration(o.float("max_delay_ms", 0) * float64(time.Millisecond))
	cfg.SessionMean = o.float("session_mean", cfg.SessionMean)
	cfg.ThinkMean = time.Duration(o.float("think_ms", float64(cfg.ThinkMean/time.Millisecond)) * float64(time.Millisecond))
	cfg.MaxSessions = o.int("max_sessions", cfg.MaxSessions)
	cfg.Categories = o.int("categories", cfg.Categories)
	cfg.CategoryAffinity = zeroIsNone(o.float("category_affinity", cfg.CategoryAffinity))
	cfg.CartProb = zeroIsNone(o.float("cart_prob", cfg.CartProb))
	cfg.PurchaseProb = zeroIsNone(o.float("purchase_prob", cfg.PurchaseProb))
	s.limit = int64(o.int("count", 0))
	switch st := strings.TrimSpace(spec.Option("start", "now")); strings.ToLower(st) {
	case "now", "":
		s.now = true
	default:
		t, err := parseTime(st)
		if err != nil {
			o.err = fmt.Errorf("datagen: option start: %w", err)
		}
		cfg.Start = t
	}
	if o.err != nil {
		return nil, o.err
	}
	if s.limit < 0 {
		return nil, fmt.Errorf("datagen: option count %d is negative", s.limit)
	}
	g, err := NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	s.g = g
	return s, nil
}

// zeroIsNone maps an explicit 0 (which Config reads as "default") to a
// negative value (which Config reads as 0).
func zeroIsNone(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}

// parseTime reads a timestamp as '2006-01-02 15:04:05[.f]' or RFC 3339.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999", time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a timestamp (want 'now' or 'YYYY-MM-DD HH:MM:SS')", s)
}

// optParser reads numeric options, keeping the first error.
type optParser struct {
	spec connectors.SourceSpec
	err  error
}

func (o *optParser) float(key string, def float64) float64 {
	v, ok := o.spec.Options[key]
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		if o.err == nil {
			o.err = fmt.Errorf("datagen: option %s = %q is not a number", key, v)
		}
		return def
	}
	return f
}

func (o *optParser) int(key string, def int) int {
	v, ok := o.spec.Options[key]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		if o.err == nil {
			o.err = fmt.Errorf("datagen: option %s = %q is not an integer", key, v)
		}
		return def
	}
	return int(n)
}

// Generator returns the source's generator (its Config shows the
// effective options).
func (s *Source) Generator() *Generator { return s.g }

// Progress reports one pseudo-partition whose offset is the number of
// events emitted.
func (s *Source) Progress() []connectors.PartitionProgress {
	return []connectors.PartitionProgress{{Partition: 0, Offset: s.sent.Load(), HighWatermark: -1}}
}

// Run emits batches until ctx is cancelled (or, with count, until count
// events are out; it then waits for ctx). A Source runs once.
func (s *Source) Run(ctx context.Context, out connectors.Emitter) error {
	b, err := NewBatchBuilder(s.g, s.schema, s.alloc)
	if err != nil {
		return fmt.Errorf("source %s: %w", s.name, err)
	}
	defer b.Release()

	emit := func() error {
		n := b.Len()
		rec := b.NewRecordBatch()
		if err := out.Emit(ctx, rec); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("source %s: %w", s.name, err)
		}
		s.sent.Add(int64(n))
		return nil
	}
	// room is how many more rows the current batch may take.
	room := func() int {
		r := MaxBatchRows - b.Len()
		if s.limit > 0 {
			r = int(min(int64(r), s.limit-s.g.Count()))
		}
		return r
	}
	done := func() bool { return s.limit > 0 && s.g.Count() >= s.limit }

	err = s.loop(ctx, b, emit, room, done)
	if err == nil && b.Len() > 0 && ctx.Err() == nil {
		err = emit()
	}
	if err == nil && done() {
		<-ctx.Done()
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *Source) loop(ctx context.Context, b *BatchBuilder, emit func() error, room func() int, done func() bool) error {
	if !s.paced {
		for !done() {
			if ctx.Err() != nil {
				return nil
			}
			b.Append(room())
			if err := emit(); err != nil {
				return err
			}
		}
		return nil
	}

	wallStart := time.Now()
	if s.now {
		s.g.setStart(wallStart)
	}
	origin := s.g.cfg.Start.UnixMicro()
	var pendingSince time.Time // when the pending batch got its first row
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for !done() {
		now := time.Now()
		limit := origin + now.Sub(wallStart).Microseconds()
		had := b.Len()
		b.AppendUntil(limit, room())
		if had == 0 && b.Len() > 0 {
			pendingSince = now
		}
		if b.Len() > 0 && (room() == 0 || now.Sub(pendingSince) >= FlushInterval) {
			if err := emit(); err != nil {
				return err
			}
			continue
		}
		// Sleep until the pending rows are due to go, or the batch would
		// be full, or (nothing pending) the next event arrives.
		var wait time.Duration
		if b.Len() > 0 {
			wait = FlushInterval - now.Sub(pendingSince)
			fill := time.Duration(float64(room()) / s.g.cfg.Rate * float64(time.Second))
			wait = min(wait, fill)
		} else {
			wait = time.Duration(s.g.NextArrival()-limit) * time.Microsecond
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
	}
	return nil
}

// setStart moves the event-time origin (before the first event).
func (g *Generator) setStart(t time.Time) {
	g.cfg.Start = t
	g.startUs = t.UnixMicro()
}
