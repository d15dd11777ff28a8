package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// errClientGone ends a stream when the client disconnects or sends a
// message while it runs.
var errClientGone = sqlerr.Execf(sqlerr.QueryCanceled, "canceling statement: the client disconnected or sent a message during the stream")

// subscribe streams SUBSCRIBE: a RowDescription (epoch, op, the view's
// columns), then a DataRow per change, flushed per committed epoch, until
// the statement is cancelled, the client leaves, or the engine drops the
// subscription.
func (ss *session) subscribe(ctx context.Context, p *parser.Subscribe, formats []int16, describe bool) error {
	sub, err := ss.srv.eng.Subscribe(p.Name, p.Snapshot)
	if err != nil {
		return err
	}
	defer sub.Close()
	cols := subscribeCols(sub.Columns)
	if describe {
		ss.rowDescription(cols, formats)
	}
	if err := ss.flush(); err != nil {
		return err
	}
	row := make([]types.Datum, len(cols))
	return ss.stream(ctx, sub, func(c *executor.Change) {
		row[0] = types.NewBigInt(int64(c.Epoch))
		row[1] = types.NewText(c.Op.String())
		copy(row[2:], c.Row)
		ss.dataRow(row, cols, formats)
	})
}

// copySubscribe streams COPY (SUBSCRIBE ...) TO STDOUT: CopyOutResponse,
// then one CopyData line in COPY text format per change.
func (ss *session) copySubscribe(ctx context.Context, p *parser.CopySubscribe) error {
	sub, err := ss.srv.eng.Subscribe(p.Subscribe.Name, p.Subscribe.Snapshot)
	if err != nil {
		return err
	}
	defer sub.Close()
	cols := subscribeCols(sub.Columns)
	ss.send(&pgproto3.CopyOutResponse{OverallFormat: 0, ColumnFormatCodes: make([]uint16, len(cols))})
	if err := ss.flush(); err != nil {
		return err
	}
	return ss.stream(ctx, sub, func(c *executor.Change) {
		b := ss.out
		start := len(b)
		b = append(b, 'd', 0, 0, 0, 0)
		b = types.NewBigInt(int64(c.Epoch)).AppendText(b)
		b = append(b, '\t')
		b = append(b, c.Op.String()...)
		for _, d := range c.Row {
			b = append(b, '\t')
			b = appendCopyText(b, d)
		}
		b = append(b, '\n')
		binary.BigEndian.PutUint32(b[start+1:], uint32(len(b)-start-1))
		ss.out = b
	})
}

func subscribeCols(view []executor.ResultColumn) []executor.ResultColumn {
	cols := make([]executor.ResultColumn, 0, len(view)+2)
	cols = append(cols, executor.ResultColumn{Name: "epoch", Type: types.BigIntType}, executor.ResultColumn{Name: "op", Type: types.TextType})
	return append(cols, view...)
}

// stream feeds a subscription's changes to emit, flushing after each
// committed epoch. While it runs, a watcher goroutine is the connection's
// reader: it ends the stream when the client disconnects or terminates,
// queues Sync and Flush (which clients pipeline after Execute), and stops
// reading at any other message, which waits for the session.
func (ss *session) stream(ctx context.Context, sub *executor.Subscription, emit func(*executor.Change)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := &watcher{out: make(chan recvResult, 1), active: true}
	if len(ss.stash) > 0 {
		w.active = false // a message already waits: no reading now
	} else {
		first := ss.pending
		ss.pending = nil
		ss.srv.wg.Add(1)
		go w.run(ss.be, first, func() { cancel(errClientGone) }, ss.srv.wg.Done)
	}
	defer func() {
		w.mu.Lock()
		w.stopped = true
		if w.active {
			ss.pending = w.out // the read in flight is delivered later
		}
		ss.stash = append(ss.stash, w.queue...)
		w.mu.Unlock()
	}()
	for {
		b, err := sub.Next(ctx)
		if err != nil {
			if errors.Is(context.Cause(ctx), errClientGone) {
				return errClientGone
			}
			return err
		}
		for i := range b.Changes {
			emit(&b.Changes[i])
			if err := ss.maybeFlush(); err != nil {
				return err
			}
		}
		if err := ss.flush(); err != nil {
			return err
		}
	}
}

// watcher reads client messages while a stream runs.
type watcher struct {
	mu      sync.Mutex
	out     chan recvResult // a read finished after stop
	queue   []recvResult
	active  bool // still reading
	stopped bool
}

func (w *watcher) run(be *pgproto3.Backend, first chan recvResult, gone func(), done func()) {
	defer done()
	for {
		var r recvResult
		if first != nil {
			r = <-first
			first = nil
		} else {
			m, err := be.Receive()
			r = recvResult{m, err}
		}
		w.mu.Lock()
		if w.stopped {
			w.mu.Unlock()
			w.out <- r
			return
		}
		switch r.msg.(type) {
		case *pgproto3.Sync:
			w.queue = append(w.queue, recvResult{msg: &pgproto3.Sync{}})
			w.mu.Unlock()
			continue
		case *pgproto3.Flush:
			w.queue = append(w.queue, recvResult{msg: &pgproto3.Flush{}})
			w.mu.Unlock()
			continue
		}
		w.queue = append(w.queue, r)
		w.active = false
		w.mu.Unlock()
		if _, term := r.msg.(*pgproto3.Terminate); term || r.err != nil {
			gone()
		}
		return
	}
}

// appendCopyText appends a value in COPY text format: \N for NULL,
// backslash escapes for backslash, tab, newline and carriage return.
func appendCopyText(b []byte, d types.Datum) []byte {
	if d.Null {
		return append(b, '\\', 'N')
	}
	if d.Kind != types.Varchar {
		return d.AppendText(b)
	}
	s := d.S
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, c)
		}
	}
	return b
}
