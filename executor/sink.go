package executor

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync/atomic"
	"time"

	"github.com/sluicedb/sluice/connectors"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// sinkRunner writes a view's committed changes to a sink connector on a
// goroutine it owns: the view's rows at creation, then every epoch's
// changes, retried until acknowledged (at-least-once; each message carries
// its epoch so consumers can drop repeats).
type sinkRunner struct {
	name       string
	definition string // the CREATE SINK statement
	from       string
	conn       connectors.Sink
	sub        *Subscription
	cancel     context.CancelFunc
	done       chan struct{}

	epochs  atomic.Int64
	rows    atomic.Int64
	lastErr atomic.Pointer[string]
}

func (e *Engine) createSink(p *planner.CreateSinkPlan) (*Result, error) {
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	e.sinkMu.Lock()
	_, exists := e.sinks[p.Name]
	e.sinkMu.Unlock()
	if exists {
		if p.IfNotExists {
			return &Result{Tag: "CREATE SINK", Notices: []string{fmt.Sprintf("sink %q already exists, skipping", p.Name)}}, nil
		}
		return nil, sqlerr.Planf(sqlerr.DuplicateObject, "sink %q already exists", p.Name)
	}
	o := e.cat.byID(p.From.ID)
	if o == nil {
		return nil, errDropped(p.From.Name)
	}
	var key []int
	if o.rel.Keyed {
		key = o.rel.Key
	}
	conn, err := connectors.NewSink(connectors.SinkSpec{Name: p.Name, Schema: o.rel.Schema, Key: key, Options: p.Options})
	if err != nil {
		return nil, sqlerr.Planf(sqlerr.InvalidParameter, "create sink %q: %v", p.Name, err)
	}
	sub, err := e.Subscribe(o.rel.Name, true)
	if err != nil {
		conn.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &sinkRunner{name: p.Name, definition: p.Definition, from: o.rel.Name, conn: conn, sub: sub, cancel: cancel, done: make(chan struct{})}
	e.sinkMu.Lock()
	e.sinks[p.Name] = r
	e.sinkMu.Unlock()
	o.sinks = append(o.sinks, p.Name)
	go r.run(ctx)
	return &Result{Tag: "CREATE SINK"}, nil
}

func (r *sinkRunner) run(ctx context.Context) {
	defer close(r.done)
	defer r.conn.Close()
	defer r.sub.Close()
	for {
		b, err := r.sub.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				msg := err.Error()
				r.lastErr.Store(&msg)
				slog.Error("sink stopped", "sink", r.name, "err", err)
			}
			return
		}
		changes := make([]connectors.Change, len(b.Changes))
		for i, c := range b.Changes {
			changes[i] = connectors.Change{Epoch: c.Epoch, Op: c.Op.String(), Row: c.Row}
		}
		// Retry until written: the epoch is never skipped.
		for backoff := 100 * time.Millisecond; ; backoff = min(backoff*2, 5*time.Second) {
			err := r.conn.Write(ctx, b.Epoch, changes)
			if err == nil {
				r.lastErr.Store(nil)
				break
			}
			if ctx.Err() != nil {
				return
			}
			msg := err.Error()
			r.lastErr.Store(&msg)
			slog.Warn("sink write failed, retrying", "sink", r.name, "epoch", b.Epoch, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		r.epochs.Add(1)
		r.rows.Add(int64(len(changes)))
	}
}

func (r *sinkRunner) stop() {
	r.cancel()
	<-r.done
}

// dropSinks removes sinks by name; refused names are reported first.
func (e *Engine) dropSinks(p *planner.DropPlan) (*Result, error) {
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	res := &Result{Tag: "DROP SINK"}
	var runners []*sinkRunner
	e.sinkMu.Lock()
	for _, name := range p.Names {
		r, ok := e.sinks[name]
		if !ok {
			if p.IfExists {
				res.Notices = append(res.Notices, fmt.Sprintf("sink %q does not exist, skipping", name))
				continue
			}
			e.sinkMu.Unlock()
			return nil, sqlerr.Planf(sqlerr.UndefinedObject, "sink %q does not exist", name)
		}
		runners = append(runners, r)
	}
	for _, r := range runners {
		delete(e.sinks, r.name)
	}
	e.sinkMu.Unlock()
	for _, r := range runners {
		r.stop()
		if o, ok := e.cat.get(r.from); ok {
			kept := o.sinks[:0]
			for _, s := range o.sinks {
				if s != r.name {
					kept = append(kept, s)
				}
			}
			o.sinks = kept
		}
	}
	return res, nil
}

func (e *Engine) sinkNames() []string {
	e.sinkMu.Lock()
	defer e.sinkMu.Unlock()
	names := make([]string, 0, len(e.sinks))
	for n := range e.sinks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func init() {
	systemTables["sluice_sinks"] = &systemTable{
		rel: &planner.Relation{ID: math.MaxUint64 - 5, Name: "sluice_sinks", Kind: planner.SystemRelation,
			Schema: types.Schema{
				{Name: "name", Type: types.TextType}, {Name: "source", Type: types.TextType},
				{Name: "epochs", Type: types.BigIntType}, {Name: "changes", Type: types.BigIntType},
				{Name: "last_error", Type: types.TextType, Nullable: true},
			}},
		rows: func(e *Engine) [][]types.Datum {
			var out [][]types.Datum
			for _, n := range e.sinkNames() {
				e.sinkMu.Lock()
				r := e.sinks[n]
				e.sinkMu.Unlock()
				if r == nil {
					continue
				}
				last := types.NewNull(types.TextType)
				if p := r.lastErr.Load(); p != nil {
					last = types.NewText(*p)
				}
				out = append(out, []types.Datum{types.NewText(n), types.NewText(r.from),
					types.NewBigInt(r.epochs.Load()), types.NewBigInt(r.rows.Load()), last})
			}
			return out
		},
	}
}
