package executor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// ExecuteStatement runs one parsed statement with the given parameter
// values ($1 is params[0]).
func (e *Engine) ExecuteStatement(ctx context.Context, stmt parser.Statement, params []types.Datum) (*Result, error) {
	if e.closed.Load() {
		return nil, errClosed
	}
	switch s := stmt.(type) {
	case *parser.Flush:
		if err := e.Flush(ctx); err != nil {
			return nil, err
		}
		return &Result{Tag: "FLUSH"}, nil
	case *parser.Checkpoint:
		if err := e.Checkpoint(ctx); err != nil {
			return nil, err
		}
		return &Result{Tag: "CHECKPOINT"}, nil
	case *parser.ShowObjects:
		return e.showObjects(s.Kind)
	case *parser.Describe:
		return e.describe(s.Name)
	}
	p, err := planner.Build(&e.cat, stmt)
	if err != nil {
		return nil, err
	}
	if isDDL(p) {
		// Logged before it runs, so no change to a new object can reach
		// the log ahead of the statement creating it. A statement that
		// then fails fails the same way when the log is replayed.
		if err := e.logDDL(ctx, stmt.Text()); err != nil {
			return nil, err
		}
	}
	return e.executePlan(ctx, p, params)
}

// isDDL reports whether a plan changes the catalog (and must be logged).
func isDDL(p planner.Plan) bool {
	switch p.(type) {
	case *planner.CreateTablePlan, *planner.CreateViewPlan, *planner.CreateSourcePlan,
		*planner.CreateSinkPlan, *planner.DropPlan:
		return true
	}
	return false
}

func (e *Engine) executePlan(ctx context.Context, p planner.Plan, params []types.Datum) (*Result, error) {
	switch x := p.(type) {
	case *planner.QueryPlan:
		return e.query(ctx, x.Root, params)
	case *planner.CreateTablePlan:
		return e.createTable(x)
	case *planner.CreateViewPlan:
		return e.createView(x)
	case *planner.DropPlan:
		if x.Kind == parser.KindSink {
			return e.dropSinks(x)
		}
		return e.drop(x)
	case *planner.CreateSourcePlan:
		return e.createSource(x)
	case *planner.CreateSinkPlan:
		return e.createSink(x)
	case *planner.InsertPlan:
		return e.insert(ctx, x, params)
	case *planner.UpdatePlan:
		return e.update(ctx, x, params)
	case *planner.DeletePlan:
		return e.delete(ctx, x, params)
	case *planner.ExplainPlan:
		lines := planner.Explain(x.Inner)
		r := &Result{Tag: fmt.Sprintf("EXPLAIN %d", len(lines)), Columns: []ResultColumn{{Name: "QUERY PLAN", Type: types.TextType}}}
		for _, l := range lines {
			r.Rows = append(r.Rows, []types.Datum{types.NewText(l)})
		}
		r.Tag = "EXPLAIN"
		return r, nil
	}
	return nil, sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "no executor for plan %T", p)
}

func (e *Engine) showObjects(kind parser.ObjectKind) (*Result, error) {
	r := &Result{Columns: []ResultColumn{{Name: "name", Type: types.TextType}}}
	var rk planner.RelationKind
	switch kind {
	case parser.KindTable:
		rk = planner.TableRelation
	case parser.KindMaterializedView:
		rk = planner.ViewRelation
	case parser.KindSource:
		rk = planner.SourceRelation
	case parser.KindSink:
		for _, n := range e.sinkNames() {
			r.Rows = append(r.Rows, []types.Datum{types.NewText(n)})
		}
	}
	if rk != 0 {
		for _, o := range e.cat.list(rk) {
			r.Rows = append(r.Rows, []types.Datum{types.NewText(o.rel.Name)})
		}
	}
	r.Tag = fmt.Sprintf("SHOW %d", len(r.Rows))
	return r, nil
}

func (e *Engine) describe(name string) (*Result, error) {
	o, ok := e.cat.get(name)
	if !ok {
		return nil, sqlerr.Planf(sqlerr.UndefinedTable, "relation %q does not exist", name)
	}
	r := &Result{Columns: []ResultColumn{
		{Name: "name", Type: types.TextType}, {Name: "type", Type: types.TextType},
		{Name: "nullable", Type: types.BoolType}, {Name: "key", Type: types.BoolType},
	}}
	for i, c := range o.rel.Schema {
		isKey := false
		if o.rel.Keyed {
			for _, k := range o.rel.Key {
				isKey = isKey || k == i
			}
		}
		r.Rows = append(r.Rows, []types.Datum{types.NewText(c.Name), types.NewText(strings.ToLower(c.Type.String())),
			types.NewBool(c.Nullable), types.NewBool(isKey)})
	}
	r.Tag = fmt.Sprintf("DESCRIBE %d", len(r.Rows))
	return r, nil
}

func (e *Engine) createTable(p *planner.CreateTablePlan) (*Result, error) {
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	e.cat.mu.Lock()
	defer e.cat.mu.Unlock()
	if _, exists := e.cat.objects[p.Name]; exists {
		if p.IfNotExists {
			return &Result{Tag: "CREATE TABLE", Notices: []string{fmt.Sprintf("relation %q already exists, skipping", p.Name)}}, nil
		}
		return nil, sqlerr.Planf(sqlerr.DuplicateTable, "relation %q already exists", p.Name)
	}
	rel := &planner.Relation{ID: e.assignID(p.Name), Name: p.Name, Kind: planner.TableRelation, Schema: p.Schema,
		Key: p.Key, Keyed: len(p.Key) > 0, AppendOnly: p.AppendOnly, Definition: p.Definition, Watermark: p.Watermark}
	o := &object{rel: rel, store: newStore(rel)}
	o.wm.maxSeen = math.MinInt64
	o.wm.current.Store(math.MinInt64)
	if rel.Keyed {
		o.current = newStore(rel)
	}
	if e.restoring != nil {
		if err := e.restoring.restoreTable(e, o); err != nil {
			return nil, err
		}
	}
	e.cat.put(o)
	e.catVersion.Add(1)
	return &Result{Tag: "CREATE TABLE"}, nil
}

func (e *Engine) createView(p *planner.CreateViewPlan) (*Result, error) {
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	if _, exists := e.cat.get(p.Name); exists {
		if p.IfNotExists {
			return &Result{Tag: "CREATE MATERIALIZED VIEW", Notices: []string{fmt.Sprintf("relation %q already exists, skipping", p.Name)}}, nil
		}
		return nil, sqlerr.Planf(sqlerr.DuplicateTable, "relation %q already exists", p.Name)
	}
	query, err := prepare(p.Query, nil)
	if err != nil {
		return nil, err
	}
	schema := query.Schema()
	rel := &planner.Relation{Name: p.Name, Kind: planner.ViewRelation, Schema: schema, Key: p.Key,
		Keyed: p.Keyed, AppendOnly: p.AppendOnly, Growth: p.Growth, Definition: p.Definition}
	o := &object{rel: rel, store: newStore(rel)}
	frag, deps, err := e.buildViewFragment(o, query)
	if err != nil {
		return nil, err
	}

	e.ingestMu.Lock()
	defer e.ingestMu.Unlock()
	// Backfill: the view starts from its inputs' current contents, then
	// follows their changes. When restoring a checkpoint, its rows and its
	// operators' state come from the checkpoint instead — unless they do
	// not fit the view's plan as this build makes it (or an input's were
	// rebuilt so): then the view is rebuilt from its inputs, which are
	// already restored to the checkpoint's epoch.
	o.frag = frag
	backfill := e.restoring == nil
	if e.restoring != nil {
		if why := e.restoring.rebuildCause(deps); why != "" {
			if !canBackfill(deps) {
				closeOps(frag.ops)
				return nil, fmt.Errorf("materialized view %q cannot be restored: %s, and it also reads a source, which keeps no rows to rebuild it from", p.Name, why)
			}
			backfill = true
			e.restoring.noteRebuilt(o.rel.Name, why)
		} else if err := e.restoring.restoreView(e, o, canBackfill(deps)); err != nil {
			closeOps(frag.ops)
			if !errors.Is(err, operators.ErrStateMismatch) {
				return nil, err
			}
			if !canBackfill(deps) {
				return nil, fmt.Errorf("materialized view %q cannot be restored, and it reads a source, which keeps no rows to rebuild it from: %w", p.Name, err)
			}
			e.restoring.noteRebuilt(o.rel.Name, err.Error())
			o.store = newStore(rel)
			o.rowsChanged.Store(0)
			if frag, deps, err = e.buildViewFragment(o, query); err != nil {
				return nil, err
			}
			o.frag = frag
			backfill = true
		}
	}
	for i, dep := range deps {
		if !backfill {
			break
		}
		if err := e.backfill(dep, frag.entries[i]); err != nil {
			closeOps(frag.ops)
			return nil, fmt.Errorf("create materialized view %q: %w", p.Name, err)
		}
	}
	e.cat.mu.Lock()
	rel.ID = e.assignID(p.Name)
	e.cat.put(o)
	e.cat.mu.Unlock()
	o.deps = deps
	for i, dep := range deps {
		dep.subs = append(dep.subs, subscription{frag: frag, input: i})
	}
	frag.start()
	e.catVersion.Add(1)
	return &Result{Tag: "CREATE MATERIALIZED VIEW", Notices: p.Notices}, nil
}

// buildViewFragment builds view o's operators for its plan query, ending
// in the Materialize that hands each epoch's changes to the fragment, and
// finds the objects the plan reads (the fragment's inputs, in order).
func (e *Engine) buildViewFragment(o *object, query planner.Node) (*fragment, []*object, error) {
	frag := newFragment(o, 0, e.report)
	mat := operators.NewMaterialize(o.rel.Schema.Arrow(), frag.onEpoch)
	b := newViewBuilder(e.mem, o, query)
	if err := b.build(query, mat); err != nil {
		b.closeAll()
		return nil, nil, err
	}
	frag.entries = make([]operators.Output, len(b.leaves))
	frag.arrived = make([]bool, len(b.leaves))
	frag.heldCount = make([]int, len(b.leaves))
	frag.ops = append(b.ops, mat)
	frag.plan = viewPlanText(o.rel, query)
	deps := make([]*object, len(b.leaves))
	for i, l := range b.leaves {
		frag.entries[i] = l.entry
		scan := l.node.(*planner.Scan)
		if scan.Rel.Kind == planner.SystemRelation {
			b.closeAll()
			return nil, nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "a materialized view cannot read system table %q", scan.Rel.Name)
		}
		dep := e.cat.byID(scan.Rel.ID)
		if dep == nil {
			b.closeAll()
			return nil, nil, sqlerr.Planf(sqlerr.UndefinedTable, "relation %q was dropped", scan.Rel.Name)
		}
		deps[i] = dep
	}
	return frag, deps, nil
}

// closeOps closes a fragment's operators that never started.
func closeOps(ops []operators.Operator) {
	for _, op := range ops {
		op.Close()
	}
}

// canBackfill reports whether a view over deps can be rebuilt from them:
// each keeps its rows (a source does not).
func canBackfill(deps []*object) bool {
	for _, d := range deps {
		if d.store == nil {
			return false
		}
	}
	return true
}

// backfill pushes an object's current rows into a new view's input:
// its committed snapshot, then (for a table) the changes of the open
// epoch. Called with coordMu and ingestMu held.
func (e *Engine) backfill(dep *object, entry operators.Output) error {
	if dep.store != nil {
		e.snapMu.RLock()
		err := dep.store.Scan(e.mem, allColumns(len(dep.rel.Schema)), scanBatch, func(rec arrowRecord) error {
			return entry.Push(&operators.Chunk{Rec: rec})
		})
		e.snapMu.RUnlock()
		if err != nil {
			return err
		}
	}
	dep.dmlMu.Lock()
	defer dep.dmlMu.Unlock()
	for _, c := range dep.pending {
		if err := entry.Push(c); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) drop(p *planner.DropPlan) (*Result, error) {
	tag := "DROP " + p.Kind.String()
	e.coordMu.Lock()
	defer e.coordMu.Unlock()
	var res Result
	res.Tag = tag
	// Check all names first, so a failing DROP drops nothing.
	var objs []*object
	for _, name := range p.Names {
		o, ok := e.cat.get(name)
		if !ok {
			if p.IfExists {
				res.Notices = append(res.Notices, fmt.Sprintf("relation %q does not exist, skipping", name))
				continue
			}
			return nil, sqlerr.Planf(sqlerr.UndefinedTable, "%s %q does not exist", strings.ToLower(p.Kind.String()), name)
		}
		want := planner.TableRelation
		switch p.Kind {
		case parser.KindMaterializedView:
			want = planner.ViewRelation
		case parser.KindSource:
			want = planner.SourceRelation
		}
		if o.rel.Kind != want {
			return nil, sqlerr.Planf(sqlerr.WrongObjectType, "%q is a %s, not a %s; use DROP %s", name, o.rel.Kind, strings.ToLower(p.Kind.String()), strings.ToUpper(o.rel.Kind.String()))
		}
		objs = append(objs, o)
	}
	for _, o := range objs {
		for _, d := range e.cat.dependents(o) {
			dropping := false
			for _, x := range objs {
				dropping = dropping || x == d
			}
			if !dropping {
				return nil, &sqlerr.Error{Phase: sqlerr.Plan, Code: sqlerr.DependentObjects,
					Msg:  fmt.Sprintf("cannot drop %s %q because materialized view %q depends on it", o.rel.Kind, o.rel.Name, d.rel.Name),
					Hint: "drop the dependent views first"}
			}
		}
	}
	for _, o := range objs {
		if len(o.sinks) > 0 {
			return nil, &sqlerr.Error{Phase: sqlerr.Plan, Code: sqlerr.DependentObjects,
				Msg:  fmt.Sprintf("cannot drop %s %q because sink %q depends on it", o.rel.Kind, o.rel.Name, o.sinks[0]),
				Hint: "drop the sink first"}
		}
	}
	// A source's connector may be waiting for ingestMu: stop it first.
	for _, o := range objs {
		if o.source != nil {
			o.source.stop()
		}
	}
	e.ingestMu.Lock()
	defer e.ingestMu.Unlock()
	// Dependents before what they read.
	for i := len(objs) - 1; i >= 0; i-- {
		e.dropObject(objs[i])
	}
	return &res, nil
}

func (e *Engine) dropObject(o *object) {
	e.snapMu.Lock()
	o.endSubscribers(sqlerr.Planf(sqlerr.UndefinedTable, "%s %q was dropped", o.rel.Kind, o.rel.Name))
	e.snapMu.Unlock()
	if o.frag != nil {
		for _, dep := range o.deps {
			// A new slice: filtering in place would leave the dropped
			// fragment (and through it the view's operators and rows)
			// reachable from the old backing array's tail.
			kept := make([]subscription, 0, len(dep.subs))
			for _, s := range dep.subs {
				if s.frag != o.frag {
					kept = append(kept, s)
				}
			}
			dep.subs = kept
		}
		o.frag.stop()
	}
	o.dmlMu.Lock()
	for _, c := range o.pending {
		c.Rec.Release()
	}
	o.pending = nil
	o.dmlMu.Unlock()
	e.cat.mu.Lock()
	e.cat.remove(o)
	e.cat.mu.Unlock()
	e.catVersion.Add(1)
}
