// Package executor runs Sluice: it owns the catalog of live tables and
// materialized views, builds operators from plans, runs each view's
// operators on a goroutine, injects barriers, commits each epoch's changes
// as one consistent snapshot across all objects, and answers queries from
// that snapshot.
package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/sqlerr"
)

// Options configure an Engine.
type Options struct {
	// BarrierInterval is the time between barriers (default 1s). A
	// negative value disables the timer: epochs end only on FLUSH.
	BarrierInterval time.Duration
	// Allocator for Arrow buffers (default: Go allocator).
	Allocator memory.Allocator
	// DataDir keeps the write-ahead log (catalog and acknowledged
	// changes); empty runs in memory only.
	DataDir string
	// NoSync skips fsync (tests only: durability against process crashes
	// but not power loss).
	NoSync bool
	// CheckpointInterval is the time between checkpoints when DataDir is
	// set (default 10s; negative: only on CHECKPOINT).
	CheckpointInterval time.Duration
	// KeepCheckpoints is how many complete checkpoints to keep (default 2:
	// a corrupt newest one falls back to the one before).
	KeepCheckpoints int
}

// Engine is one Sluice instance. Its methods are safe for concurrent use.
//
// Locking, outermost first: coordMu is held for a whole epoch (inject →
// commit) and by DDL, so DDL never sees an epoch in flight; ingestMu is
// read-held by DML and write-held while barriers are injected and by DDL,
// so every change lands wholly before or after a barrier; snapMu is
// read-held by queries and write-held while an epoch is committed.
type Engine struct {
	opts Options
	mem  memory.Allocator
	cat  catalog

	coordMu  sync.Mutex
	ingestMu sync.RWMutex
	snapMu   sync.RWMutex

	catVersion atomic.Uint64 // bumped by every DDL
	nextEpoch  uint64        // under coordMu
	committed  atomic.Uint64 // last committed epoch

	// Views report the end of an epoch here without ever blocking, so a
	// view waiting on the coordinator can never stall the barrier
	// injection that the coordinator is doing.
	reportMu     sync.Mutex
	reportList   []epochReport
	reportSignal chan struct{}

	badEvents badEvents
	ckptStats checkpointStats
	sinkMu    sync.Mutex
	sinks     map[string]*sinkRunner

	dur *durability

	flushReq      chan chan error
	checkpointReq chan chan error
	ckptWanted    atomic.Bool
	// restoring is set while Open restores a checkpoint.
	restoring *restoreState
	stopCh    chan struct{}
	wg        sync.WaitGroup
	closed    atomic.Bool
}

// Open starts an engine.
func Open(opts Options) (*Engine, error) {
	if opts.BarrierInterval == 0 {
		opts.BarrierInterval = time.Second
	}
	if opts.Allocator == nil {
		opts.Allocator = memory.NewGoAllocator()
	}
	e := &Engine{
		opts:          opts,
		mem:           opts.Allocator,
		cat:           catalog{objects: map[string]*object{}, ids: map[uint64]*object{}},
		nextEpoch:     1,
		reportSignal:  make(chan struct{}, 1),
		sinks:         map[string]*sinkRunner{},
		flushReq:      make(chan chan error),
		checkpointReq: make(chan chan error),
		stopCh:        make(chan struct{}),
	}
	if opts.CheckpointInterval == 0 {
		e.opts.CheckpointInterval = 10 * time.Second
	}
	if opts.KeepCheckpoints <= 0 {
		e.opts.KeepCheckpoints = 2
	}
	if opts.DataDir != "" {
		// Recovery runs before the barrier loop: no epoch can interleave
		// with restoring state.
		if err := e.openDurability(context.Background(), opts.DataDir); err != nil {
			e.wg.Add(1)
			go e.barrierLoop()
			e.Close()
			return nil, err
		}
	}
	e.wg.Add(1)
	go e.barrierLoop()
	return e, nil
}

// Close stops the barrier loop and every view's goroutine. It is
// idempotent.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.stopConnectors()
	close(e.stopCh)
	e.wg.Wait()
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	e.snapMu.Lock()
	for _, o := range e.cat.all() {
		o.endSubscribers(errClosed)
	}
	e.snapMu.Unlock()
	for _, o := range e.cat.all() {
		if o.frag != nil {
			o.frag.stop()
		}
		o.dmlMu.Lock()
		for _, c := range o.pending {
			c.Rec.Release()
		}
		o.pending = nil
		o.dmlMu.Unlock()
	}
	e.closeDurability()
	return nil
}

// barrierLoop ends an epoch every BarrierInterval and on FLUSH.
func (e *Engine) barrierLoop() {
	defer e.wg.Done()
	var tick <-chan time.Time
	if e.opts.BarrierInterval > 0 {
		t := time.NewTicker(e.opts.BarrierInterval)
		defer t.Stop()
		tick = t.C
	}
	var ckpt <-chan time.Time
	if e.dur != nil && e.opts.CheckpointInterval > 0 {
		t := time.NewTicker(e.opts.CheckpointInterval)
		defer t.Stop()
		ckpt = t.C
	}
	for {
		select {
		case <-e.stopCh:
			return
		case <-tick:
			e.runEpoch(e.checkpointDue())
		case <-ckpt:
			e.ckptWanted.Store(true)
		case done := <-e.flushReq:
			done <- e.runEpoch(e.checkpointDue())
		case done := <-e.checkpointReq:
			done <- e.runEpoch(true)
		}
	}
}

// Flush ends the current epoch and waits until its changes are committed
// and readable.
func (e *Engine) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case e.flushReq <- done:
	case <-e.stopCh:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errClosed = sqlerr.New(sqlerr.Resource, "57P01", "the engine is shutting down")

// CommittedEpoch is the last epoch whose changes are readable.
func (e *Engine) CommittedEpoch() uint64 { return e.committed.Load() }

// runEpoch injects a barrier at every table, waits for every view to
// finish the epoch, and commits all changes at once.
func (e *Engine) runEpoch(checkpoint bool) error {
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	epoch := e.nextEpoch
	e.nextEpoch++

	var deltas []delta
	views := 0
	barrier := operators.Barrier{Epoch: epoch, Now: time.Now().UnixMicro()}
	e.ingestMu.Lock()
	var cut *checkpointCut
	if checkpoint && e.dur != nil {
		// Nothing is being ingested: the log position, the sources'
		// offsets and the watermarks form one consistent cut.
		cut = e.captureCut(epoch)
		barrier.Checkpoint = true
	}
	for _, o := range e.cat.all() {
		if !o.isInput() {
			if o.frag != nil {
				views++
			}
			continue
		}
		o.dmlMu.Lock()
		deltas = append(deltas, delta{o, o.pending})
		o.pending = nil
		o.dmlMu.Unlock()
		for _, s := range o.subs {
			s.frag.inbox <- envelope{input: s.input, msg: barrier}
		}
	}
	e.ingestMu.Unlock()

	reports := make([]epochReport, 0, views)
	for len(reports) < views {
		<-e.reportSignal
		e.reportMu.Lock()
		got := e.reportList
		e.reportList = nil
		e.reportMu.Unlock()
		for _, r := range got {
			if r.epoch != epoch {
				return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "view %q reported epoch %d during epoch %d", r.view.rel.Name, r.epoch, epoch)
			}
			reports = append(reports, r)
		}
	}

	err := e.commit(epoch, deltas, reports, cut)
	if cut != nil {
		if cerr := e.writeCheckpoint(cut); cerr != nil {
			slog.Error("checkpoint failed", "epoch", epoch, "err", cerr)
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// delta is a table's changes of one epoch.
type delta struct {
	o       *object
	changes []*operators.Chunk
}

// commit applies an epoch's changes to every store under the snapshot
// lock and publishes the epoch; with a checkpoint cut it also snapshots
// the stores while they are exactly at this epoch.
func (e *Engine) commit(epoch uint64, deltas []delta, reports []epochReport, cut *checkpointCut) error {
	e.snapMu.Lock()
	defer e.snapMu.Unlock()
	now := time.Now().UnixMicro()
	var errs []error
	for _, d := range deltas {
		for _, c := range d.changes {
			if d.o.store == nil {
				continue // a source keeps no rows
			}
			if err := d.o.store.Apply(c); err != nil {
				errs = append(errs, fmt.Errorf("table %q: %w", d.o.rel.Name, err))
			}
		}
		d.o.deliver(epoch, d.changes)
		d.o.noteChanges(now, d.changes)
		releaseChunks(d.changes)
	}
	for _, r := range reports {
		if r.err != nil && r.view.failed == nil {
			r.view.failed = r.err
		}
		for _, c := range r.changes {
			if r.view.failed == nil {
				if err := r.view.store.Apply(c); err != nil {
					r.view.failed = fmt.Errorf("materialized view %q: %w", r.view.rel.Name, err)
				}
			}
		}
		if r.view.failed != nil {
			r.view.endSubscribers(r.view.failed)
		} else {
			r.view.deliver(epoch, r.changes)
			r.view.noteChanges(now, r.changes)
		}
		releaseChunks(r.changes)
		if cut != nil {
			cut.addOperators(r)
		}
	}
	if cut != nil {
		cut.snapshotStores(e)
	}
	e.committed.Store(epoch)
	return errors.Join(errs...)
}

// noteChanges records that an epoch committed at now changed o's rows.
func (o *object) noteChanges(now int64, changes []*operators.Chunk) {
	n := 0
	for _, c := range changes {
		n += c.Len()
	}
	if n > 0 {
		o.lastChange.Store(now)
		o.rowsChanged.Add(int64(n))
	}
}

// report hands a fragment's epoch report to the coordinator.
func (e *Engine) report(r epochReport) {
	e.reportMu.Lock()
	e.reportList = append(e.reportList, r)
	e.reportMu.Unlock()
	select {
	case e.reportSignal <- struct{}{}:
	default:
	}
}

// sendDownstream passes a view's epoch changes to the views reading it,
// followed by the barrier. Called on the view's goroutine.
func (f *fragment) sendDownstream(b operators.Barrier, changes []*operators.Chunk) {
	for _, c := range changes {
		operators.SettleNullCounts(c.Rec) // also read by the commit
	}
	for _, s := range f.view.subs {
		for _, c := range changes {
			c.Rec.Retain()
			s.frag.inbox <- envelope{input: s.input, msg: &operators.Chunk{Rec: c.Rec, Ops: c.Ops}}
		}
		s.frag.inbox <- envelope{input: s.input, msg: b}
	}
}

// Execute parses and runs every statement in sql, returning one Result per
// statement. It stops at the first error.
func (e *Engine) Execute(ctx context.Context, sql string) ([]*Result, error) {
	stmts, err := parser.Parse(sql)
	if err != nil {
		return nil, err
	}
	var out []*Result
	for _, s := range stmts {
		r, err := e.ExecuteStatement(ctx, s, nil)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}
