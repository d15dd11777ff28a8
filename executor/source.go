package executor

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicedb/sluice/connectors"
	_ "github.com/sluicedb/sluice/connectors/datagen" // registers connector = 'datagen'
	_ "github.com/sluicedb/sluice/connectors/kafka"   // registers connector = 'kafka'
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// MaxBadEvents bounds the error table: the oldest bad events are dropped
// first (their count stays in sluice_sources).
const MaxBadEvents = 10000

// sourceRunner runs one source's connector on a goroutine it owns.
type sourceRunner struct {
	e         *Engine
	o         *object
	conn      connectors.Source
	connector string
	cancel    context.CancelFunc
	done      chan struct{}
	err       atomic.Pointer[error]

	events atomic.Int64
	bad    atomic.Int64
}

// badEvents is the bounded table of malformed events of every source.
type badEvents struct {
	mu   sync.Mutex
	ring []connectors.BadEvent
	next int
	full bool
}

func (b *badEvents) add(ev connectors.BadEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.ring) < MaxBadEvents {
		b.ring = append(b.ring, ev)
		return
	}
	b.ring[b.next] = ev
	b.next = (b.next + 1) % MaxBadEvents
	b.full = true
}

// snapshot returns the kept events, oldest first.
func (b *badEvents) snapshot() []connectors.BadEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.full {
		return append([]connectors.BadEvent(nil), b.ring...)
	}
	return append(append([]connectors.BadEvent(nil), b.ring[b.next:]...), b.ring[:b.next]...)
}

func (e *Engine) createSource(p *planner.CreateSourcePlan) (*Result, error) {
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	if _, exists := e.cat.get(p.Name); exists {
		if p.IfNotExists {
			return &Result{Tag: "CREATE SOURCE", Notices: []string{fmt.Sprintf("relation %q already exists, skipping", p.Name)}}, nil
		}
		return nil, sqlerr.Planf(sqlerr.DuplicateTable, "relation %q already exists", p.Name)
	}
	spec := connectors.SourceSpec{Name: p.Name, Schema: p.Schema, Options: p.Options, Alloc: e.mem}
	if e.restoring != nil {
		spec.Resume = e.restoring.sourceOffsets(p.Name)
	}
	conn, err := connectors.NewSource(spec)
	if err != nil {
		return nil, sqlerr.Planf(sqlerr.InvalidParameter, "create source %q: %v", p.Name, err)
	}
	e.cat.mu.Lock()
	rel := &planner.Relation{ID: e.assignID(p.Name), Name: p.Name, Kind: planner.SourceRelation, Schema: p.Schema,
		AppendOnly: true, Definition: p.Definition, Watermark: p.Watermark}
	o := &object{rel: rel}
	o.wm.maxSeen = math.MinInt64
	o.wm.current.Store(math.MinInt64)
	ctx, cancel := context.WithCancel(context.Background())
	r := &sourceRunner{e: e, o: o, conn: conn, connector: p.Options["connector"], cancel: cancel, done: make(chan struct{})}
	o.source = r
	e.cat.put(o)
	e.cat.mu.Unlock()
	e.catVersion.Add(1)
	if e.restoring != nil {
		if err := e.restoring.restoreSource(o); err != nil {
			return nil, err
		}
	}
	if e.dur != nil && e.dur.replaying {
		// Recovering: start once every view reading the source exists.
		e.dur.startLater = append(e.dur.startLater, func() { go r.run(ctx) })
	} else {
		go r.run(ctx)
	}
	return &Result{Tag: "CREATE SOURCE"}, nil
}

func (r *sourceRunner) run(ctx context.Context) {
	defer close(r.done)
	defer func() {
		if p := recover(); p != nil {
			err := fmt.Errorf("source %q: connector panicked: %v", r.o.rel.Name, p)
			r.err.Store(&err)
			slog.Error("source stopped", "source", r.o.rel.Name, "err", err)
		}
	}()
	if err := r.conn.Run(ctx, r); err != nil && ctx.Err() == nil {
		err = fmt.Errorf("source %q stopped: %w", r.o.rel.Name, err)
		r.err.Store(&err)
		slog.Error("source stopped", "source", r.o.rel.Name, "err", err)
	}
}

// stop cancels the connector and waits for its goroutine. It must be
// called without ingestMu held (the connector may be waiting for it).
func (r *sourceRunner) stop() {
	r.cancel()
	<-r.done
}

// Emit implements connectors.Emitter: the batch enters the source like an
// INSERT into an append-only table.
func (r *sourceRunner) Emit(ctx context.Context, rec arrow.RecordBatch) error {
	e, o := r.e, r.o
	want := o.rel.Schema.Arrow()
	if int(rec.NumCols()) != len(want.Fields()) {
		rec.Release()
		return fmt.Errorf("source %q: batch has %d columns, want %d", o.rel.Name, rec.NumCols(), len(want.Fields()))
	}
	n := rec.NumRows()
	e.ingestMu.RLock()
	defer e.ingestMu.RUnlock()
	if e.closed.Load() || ctx.Err() != nil {
		rec.Release()
		return context.Canceled
	}
	o.dmlMu.Lock()
	err := o.ingest(e.mem, &operators.Chunk{Rec: rec})
	o.dmlMu.Unlock()
	if err == nil {
		r.events.Add(n)
	}
	return err
}

// Bad implements connectors.Emitter.
func (r *sourceRunner) Bad(ev connectors.BadEvent) {
	r.bad.Add(1)
	if ev.Source == "" {
		ev.Source = r.o.rel.Name
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	r.e.badEvents.add(ev)
}

// stopConnectors stops every source and sink goroutine (engine shutdown).
func (e *Engine) stopConnectors() {
	for _, o := range e.cat.all() {
		if o.source != nil {
			o.source.stop()
		}
	}
	e.sinkMu.Lock()
	sinks := make([]*sinkRunner, 0, len(e.sinks))
	for _, s := range e.sinks {
		sinks = append(sinks, s)
	}
	e.sinkMu.Unlock()
	for _, s := range sinks {
		s.stop()
	}
}

func textOf(b []byte) types.Datum {
	if b == nil {
		return types.NewNull(types.TextType)
	}
	if utf8.Valid(b) {
		return types.NewText(string(b))
	}
	return types.NewText(strings.ToValidUTF8(string(b), "\uFFFD"))
}

func init() {
	ts := types.TimestampType(6)
	systemTables["sluice_sources"] = &systemTable{
		rel: &planner.Relation{ID: math.MaxUint64 - 2, Name: "sluice_sources", Kind: planner.SystemRelation,
			Schema: types.Schema{
				{Name: "name", Type: types.TextType}, {Name: "connector", Type: types.TextType},
				{Name: "events", Type: types.BigIntType}, {Name: "bad_events", Type: types.BigIntType},
				{Name: "late_rows", Type: types.BigIntType}, {Name: "watermark", Type: ts, Nullable: true},
				{Name: "error", Type: types.TextType, Nullable: true},
			}},
		rows: func(e *Engine) [][]types.Datum {
			var out [][]types.Datum
			for _, o := range e.cat.list(planner.SourceRelation) {
				r := o.source
				wm := types.NewNull(ts)
				if w := o.wm.current.Load(); w != math.MinInt64 {
					wm = types.NewTimestamp(w)
				}
				errText := types.NewNull(types.TextType)
				if p := r.err.Load(); p != nil {
					errText = types.NewText((*p).Error())
				}
				out = append(out, []types.Datum{types.NewText(o.rel.Name), types.NewText(r.connector),
					types.NewBigInt(r.events.Load()), types.NewBigInt(r.bad.Load()), types.NewBigInt(o.wm.late.Load()), wm, errText})
			}
			return out
		},
	}
	systemTables["sluice_source_lag"] = &systemTable{
		rel: &planner.Relation{ID: math.MaxUint64 - 3, Name: "sluice_source_lag", Kind: planner.SystemRelation,
			Schema: types.Schema{
				{Name: "source", Type: types.TextType}, {Name: "source_partition", Type: types.IntType},
				{Name: "next_offset", Type: types.BigIntType}, {Name: "high_watermark", Type: types.BigIntType},
				{Name: "lag_records", Type: types.BigIntType, Nullable: true},
			}},
		rows: func(e *Engine) [][]types.Datum {
			var out [][]types.Datum
			for _, o := range e.cat.list(planner.SourceRelation) {
				for _, p := range o.source.conn.Progress() {
					lag := types.NewNull(types.BigIntType)
					if p.HighWatermark >= 0 {
						lag = types.NewBigInt(max(p.HighWatermark-p.Offset, 0))
					}
					out = append(out, []types.Datum{types.NewText(o.rel.Name), types.NewInt(p.Partition),
						types.NewBigInt(p.Offset), types.NewBigInt(p.HighWatermark), lag})
				}
			}
			return out
		},
	}
	systemTables["sluice_source_errors"] = &systemTable{
		rel: &planner.Relation{ID: math.MaxUint64 - 4, Name: "sluice_source_errors", Kind: planner.SystemRelation,
			Schema: types.Schema{
				{Name: "source", Type: types.TextType}, {Name: "source_partition", Type: types.IntType},
				{Name: "source_offset", Type: types.BigIntType}, {Name: "reason", Type: types.TextType},
				{Name: "raw_key", Type: types.TextType, Nullable: true}, {Name: "raw_value", Type: types.TextType, Nullable: true},
				{Name: "received_at", Type: ts},
			}},
		rows: func(e *Engine) [][]types.Datum {
			var out [][]types.Datum
			for _, ev := range e.badEvents.snapshot() {
				out = append(out, []types.Datum{types.NewText(ev.Source), types.NewInt(ev.Partition), types.NewBigInt(ev.Offset),
					types.NewText(ev.Reason), textOf(ev.Key), textOf(ev.Value), types.NewTimestamp(ev.Time.UnixMicro())})
			}
			return out
		},
	}
}
