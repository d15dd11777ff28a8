// Package connectors moves events between Sluice and the outside world:
// sources decode external events into Arrow batches for a source's
// schema (Kafka, the built-in clickstream generator), sinks encode a
// view's changes for external systems (Kafka). The executor owns their
// goroutines: it calls Run with a context it cancels on DROP or shutdown.
package connectors

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/types"
)

// SourceSpec describes a CREATE SOURCE.
type SourceSpec struct {
	// Name is the source's name (for errors and the error table).
	Name string
	// Schema is the declared columns, in order. Columns named _key,
	// _partition, _offset and _timestamp are filled from the message's
	// metadata (Kafka) instead of its payload.
	Schema types.Schema
	// Options are the WITH (k = 'v', ...) options, keys lower-cased.
	Options map[string]string
	// Alloc allocates the Arrow batches the source emits.
	Alloc memory.Allocator
	// Resume, when set (recovering from a checkpoint), lists the position
	// to continue each partition from; partitions not listed start as
	// Options say.
	Resume []PartitionProgress
}

// Option returns an option's value or def.
func (s SourceSpec) Option(key, def string) string {
	if v, ok := s.Options[strings.ToLower(key)]; ok {
		return v
	}
	return def
}

// BadEvent is an event a source could not decode: kept, with its raw
// bytes and position, in a bounded error table, while the stream goes on.
type BadEvent struct {
	Source    string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Reason    string
	Time      time.Time
}

// Emitter receives what a source reads.
type Emitter interface {
	// Emit hands over a batch of rows in the source's schema (ownership of
	// rec passes to the emitter). It blocks while the engine is behind,
	// which is how back pressure reaches the source, and returns an error
	// when the source must stop.
	Emit(ctx context.Context, rec arrow.RecordBatch) error
	// Bad records an event that could not be decoded.
	Bad(e BadEvent)
}

// PartitionProgress is a source partition's position, for the lag table
// and (later) checkpoints.
type PartitionProgress struct {
	Partition int32
	// Offset is the next offset to read.
	Offset int64
	// HighWatermark is the partition's end as last seen (-1 if unknown).
	HighWatermark int64
}

// Source reads events until its context ends.
type Source interface {
	// Run reads and emits until ctx is cancelled (then it returns nil) or
	// a fatal error occurs. Transient failures (a broker restart, a topic
	// that does not exist yet) are retried, not returned.
	Run(ctx context.Context, out Emitter) error
	// Progress reports each partition's position; safe to call while Run
	// runs.
	Progress() []PartitionProgress
}

// SinkSpec describes a CREATE SINK.
type SinkSpec struct {
	Name string
	// Schema is the view's columns; Key lists the view's key columns
	// (empty when the view has no key).
	Schema  types.Schema
	Key     []int
	Options map[string]string
}

// Option returns an option's value or def.
func (s SinkSpec) Option(key, def string) string {
	if v, ok := s.Options[strings.ToLower(key)]; ok {
		return v
	}
	return def
}

// Change is one row change of the view a sink writes. Op is "insert",
// "delete", "update_before" or "update_after".
type Change struct {
	Epoch uint64
	Op    string
	Row   []types.Datum
}

// Sink writes a view's changes out.
type Sink interface {
	// Write delivers the changes of one committed epoch, in order. It
	// returns once they are acknowledged (at-least-once delivery).
	Write(ctx context.Context, epoch uint64, changes []Change) error
	// Close flushes and releases the sink; it is idempotent.
	Close() error
}

// SourceFactory builds a source from its spec.
type SourceFactory func(SourceSpec) (Source, error)

// SinkFactory builds a sink from its spec.
type SinkFactory func(SinkSpec) (Sink, error)

var (
	sources = map[string]SourceFactory{}
	sinks   = map[string]SinkFactory{}
)

// RegisterSource makes a source connector available under a name. It is
// called from the connector packages' init functions.
func RegisterSource(name string, f SourceFactory) { sources[name] = f }

// RegisterSink makes a sink connector available under a name.
func RegisterSink(name string, f SinkFactory) { sinks[name] = f }

// NewSource builds the source named by spec's connector option.
func NewSource(spec SourceSpec) (Source, error) {
	name := spec.Option("connector", "")
	f, ok := sources[name]
	if !ok {
		return nil, fmt.Errorf("unknown source connector %q (known: %s)", name, known(sources))
	}
	return f(spec)
}

// NewSink builds the sink named by spec's connector option.
func NewSink(spec SinkSpec) (Sink, error) {
	name := spec.Option("connector", "")
	f, ok := sinks[name]
	if !ok {
		return nil, fmt.Errorf("unknown sink connector %q (known: %s)", name, known(sinks))
	}
	return f(spec)
}

func known[T any](m map[string]T) string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	if len(names) == 0 {
		return "none"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
