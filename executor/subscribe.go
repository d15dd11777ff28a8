package executor

import (
	"context"
	"sync"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// SubscribeBuffer is the number of committed epochs a subscriber may fall
// behind before it is dropped.
const SubscribeBuffer = 256

// Change is one row change delivered to a subscriber.
type Change struct {
	Epoch uint64
	Op    operators.Op
	Row   []types.Datum
}

// ChangeBatch is the changes of one committed epoch.
type ChangeBatch struct {
	Epoch   uint64
	Changes []Change
}

// Subscription streams a view's changes: optionally its rows at the
// epoch of subscribing (as inserts), then every committed change. A
// subscriber that falls SubscribeBuffer epochs behind is dropped: Next
// then returns an error.
type Subscription struct {
	// Columns are the view's columns.
	Columns []ResultColumn
	// Epoch is the committed epoch the subscription started at.
	Epoch uint64

	e      *Engine
	view   *object
	schema types.Schema
	ch     chan *epochChanges
	mu     sync.Mutex
	err    error
	closed bool
	first  *ChangeBatch
}

// epochChanges is what the coordinator hands a subscriber: the epoch's
// chunks, retained for it.
type epochChanges struct {
	epoch  uint64
	chunks []*operators.Chunk
}

// Subscribe starts a subscription to a materialized view or table.
func (e *Engine) Subscribe(name string, snapshot bool) (*Subscription, error) {
	o, ok := e.cat.get(name)
	if !ok {
		return nil, sqlerr.Planf(sqlerr.UndefinedTable, "relation %q does not exist", name)
	}
	s := &Subscription{e: e, view: o, schema: o.rel.Schema, ch: make(chan *epochChanges, SubscribeBuffer)}
	for _, c := range o.rel.Schema {
		s.Columns = append(s.Columns, ResultColumn{Name: c.Name, Type: c.Type})
	}
	// Snapshot and registration under the commit lock: no epoch can fall
	// between them.
	e.snapMu.Lock()
	defer e.snapMu.Unlock()
	if o.failed != nil {
		return nil, o.failed
	}
	s.Epoch = e.committed.Load()
	if snapshot && o.store != nil {
		b := &ChangeBatch{Epoch: s.Epoch}
		err := o.store.Rows(func(row []types.Datum) error {
			b.Changes = append(b.Changes, Change{Epoch: s.Epoch, Op: operators.Insert, Row: copyRow(row)})
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.first = b
	}
	o.subscribers = append(o.subscribers, s)
	return s, nil
}

// Next blocks until the next batch of changes, the context ends, or the
// subscription fails (dropped for being slow, view dropped, engine closed).
func (s *Subscription) Next(ctx context.Context) (*ChangeBatch, error) {
	if b := s.first; b != nil {
		s.first = nil
		return b, nil
	}
	select {
	case ec, ok := <-s.ch:
		if !ok {
			s.mu.Lock()
			defer s.mu.Unlock()
			return nil, s.err
		}
		defer releaseChunks(ec.chunks)
		b := &ChangeBatch{Epoch: ec.epoch}
		for _, c := range ec.chunks {
			rows := chunksToRows([]*operators.Chunk{c}, s.schema)
			for i, row := range rows {
				b.Changes = append(b.Changes, Change{Epoch: ec.epoch, Op: c.Op(i), Row: row})
			}
		}
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close ends the subscription. It is idempotent.
func (s *Subscription) Close() {
	s.e.snapMu.Lock()
	defer s.e.snapMu.Unlock()
	s.endLocked(sqlerr.Execf(sqlerr.QueryCanceled, "subscription closed"))
}

// endLocked unregisters and closes the subscription with err. The caller
// holds snapMu.
func (s *Subscription) endLocked(err error) {
	if s.closed {
		return
	}
	s.closed = true
	subs := s.view.subscribers
	for i, x := range subs {
		if x == s {
			s.view.subscribers = append(subs[:i:i], subs[i+1:]...)
			break
		}
	}
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	close(s.ch)
	// Release what the subscriber never read.
	for ec := range s.ch {
		releaseChunks(ec.chunks)
	}
}

// deliver hands an epoch's changes to every subscriber of o. Called by the
// coordinator under snapMu before the chunks are released.
func (o *object) deliver(epoch uint64, changes []*operators.Chunk) {
	if len(changes) == 0 {
		return
	}
	for _, s := range append([]*Subscription(nil), o.subscribers...) {
		for _, c := range changes {
			c.Rec.Retain()
		}
		ec := &epochChanges{epoch: epoch, chunks: append([]*operators.Chunk(nil), changes...)}
		select {
		case s.ch <- ec:
		default:
			releaseChunks(ec.chunks)
			s.endLocked(sqlerr.New(sqlerr.Resource, sqlerr.ProgramLimitExceeded,
				"subscriber to %q fell %d epochs behind and was dropped", o.rel.Name, SubscribeBuffer))
		}
	}
}

// endSubscribers closes every subscriber of o with err; caller holds snapMu.
func (o *object) endSubscribers(err error) {
	for _, s := range append([]*Subscription(nil), o.subscribers...) {
		s.endLocked(err)
	}
}
