package executor

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/agg"
	"github.com/sluicedb/sluice/operators/eval"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// buildMode says whether operators are built for a continuous view or a
// bounded query.
type buildMode uint8

const (
	streaming buildMode = iota
	bounded
)

// leaf is a source of a pipeline: a Scan, Lookup or Values node and the
// Output its rows are pushed into.
type leaf struct {
	node  planner.Node
	entry operators.Output
}

// builder turns a plan into wired operators.
type builder struct {
	mem    memory.Allocator
	mode   buildMode
	ops    []operators.Operator
	leaves []leaf

	// view is the materialized view whose plan is being built (nil for
	// a query). backed, when set (by newViewBuilder), is the aggregate of
	// its plan whose output is the view's rows (see viewBackedAgg): it is
	// built committed-backed, its output column i being the view's column
	// backedCols[i].
	view       *object
	backed     *planner.Aggregate
	backedCols []int
	// mirrored is the aggregate under the Mirror being built, if any.
	mirrored planner.Node
}

// newViewBuilder returns a builder for the continuous plan root of view o.
func newViewBuilder(mem memory.Allocator, o *object, root planner.Node) *builder {
	b := &builder{mem: mem, mode: streaming, view: o}
	b.backed, b.backedCols = viewBackedAgg(root, o)
	return b
}

func (b *builder) closeAll() {
	for _, op := range b.ops {
		op.Close()
	}
	b.ops = nil
}

// build wires the operators of n so that their output goes to out.
func (b *builder) build(n planner.Node, out operators.Output) error {
	switch x := n.(type) {
	case *planner.Scan:
		entry := out
		if b.mode == streaming && !isSeq(x.Cols, len(x.Rel.Schema)) {
			exprs := make([]expr.Expr, len(x.Cols))
			names := make([]string, len(x.Cols))
			for i, c := range x.Cols {
				col := x.Rel.Schema[c]
				exprs[i] = &expr.ColumnRef{Index: c, Name: col.Name, T: col.Type}
				names[i] = col.Name
			}
			p, err := operators.NewProject(b.mem, exprs, names, out)
			if err != nil {
				return err
			}
			b.ops = append(b.ops, p)
			entry = p
		}
		b.leaves = append(b.leaves, leaf{node: n, entry: entry})
		return nil
	case *planner.Lookup, *planner.Values:
		if b.mode == streaming {
			return sqlerr.Planf(sqlerr.FeatureNotSupported, "%s is not supported in a materialized view", n.Explain())
		}
		b.leaves = append(b.leaves, leaf{node: n, entry: out})
		return nil
	case *planner.Filter:
		op, err := operators.NewFilter(b.mem, x.Input.Schema().Arrow(), x.Pred, out)
		if err != nil {
			return err
		}
		b.ops = append(b.ops, op)
		return b.build(x.Input, op)
	case *planner.Project:
		if j, ok := x.Input.(*planner.Join); ok && j.Kind == planner.InnerJoin {
			return b.buildProjectedJoin(x, j, out) // the join emits only what x reads
		}
		op, err := operators.NewProject(b.mem, x.Exprs, x.Names, out)
		if err != nil {
			return err
		}
		b.ops = append(b.ops, op)
		return b.build(x.Input, op)
	case *planner.Aggregate:
		in := x.Input.Schema()
		specs := make([]agg.Spec, len(x.Aggs))
		for i, a := range x.Aggs {
			specs[i] = agg.Spec{Kind: aggKind(a.Func), Arg: a.Arg, ArgType: a.ArgType, Result: a.Type, Name: a.Name}
		}
		appendOnly := b.mode == bounded || planner.IsAppendOnly(x.Input)
		opts := agg.Options{WatermarkGroupCol: -1}
		if b.mode == streaming && x.WindowCol >= 0 {
			opts = agg.Options{WatermarkGroupCol: x.WindowCol, EmitOnClose: x.EmitOnClose}
		}
		if x == b.backed {
			opts.Committed = &viewRows{o: b.view, cols: b.backedCols}
		}
		if planner.Node(x) == b.mirrored {
			opts.Meaning = "each unordered pair counted once, shown in both orders by a Mirror"
		}
		op, err := agg.NewWithOptions(b.mem, in.Arrow(), schemaTypes(in), x.GroupBy, specs, appendOnly, opts, out)
		if err != nil {
			return err
		}
		b.ops = append(b.ops, op)
		return b.build(x.Input, op)
	case *planner.Sort:
		keys := make([]operators.SortKey, len(x.Keys))
		for i, k := range x.Keys {
			keys[i] = operators.SortKey{Col: k.Col, Desc: k.Desc, NullsFirst: k.NullsFirst}
		}
		s := x.Schema()
		op := operators.NewSort(b.mem, s.Arrow(), schemaTypes(s), keys, out)
		b.ops = append(b.ops, op)
		return b.build(x.Input, op)
	case *planner.Limit:
		op := operators.NewLimit(x.Schema().Arrow(), x.Offset, x.Count, out)
		b.ops = append(b.ops, op)
		return b.build(x.Input, op)
	case *planner.Join:
		return b.buildJoin(x, out)
	case *planner.Mirror:
		op := operators.NewMirror(x.Input.Schema().Arrow(), x.A, x.B, out)
		b.ops = append(b.ops, op)
		b.mirrored = x.Input
		return b.build(x.Input, op)
	}
	if ok, err := b.buildStream(n, out); ok {
		return err
	}
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "no operator for plan node %T", n)
}

// viewBackedAgg returns the aggregate of view o's plan (rooted at root)
// whose output is the view's rows, so that it can keep only each epoch's
// deltas and read its groups' results back from the view's committed
// store (agg.Options.Committed), and the view's column of each of the
// aggregate's output columns; nil when there is none. The root must be
// the aggregate or a Project over it, either possibly through a Mirror,
// that shows every output column of the aggregate as a plain column
// reference (other, computed columns may follow or precede them); the
// view must be keyed by exactly the group
// columns, in order, and not windowed; and each aggregate must be
// recoverable from its row (COUNT(*), with any COUNT(x)).
func viewBackedAgg(root planner.Node, o *object) (*planner.Aggregate, []int) {
	rel := o.rel
	if !rel.Keyed || o.store == nil || o.store.AppendOnly() {
		return nil, nil
	}
	var a *planner.Aggregate
	var cols []int
	switch x := underMirror(root).(type) {
	case *planner.Aggregate:
		a = x
		cols = allColumns(len(x.GroupBy) + len(x.Aggs))
	case *planner.Project:
		in, ok := underMirror(x.Input).(*planner.Aggregate)
		if !ok {
			return nil, nil
		}
		a = in
		cols = make([]int, len(in.GroupBy)+len(in.Aggs))
		for i := range cols {
			cols[i] = -1
		}
		for j, e := range x.Exprs {
			if c, ok := e.(*expr.ColumnRef); ok && c.Index >= 0 && c.Index < len(cols) && cols[c.Index] < 0 {
				cols[c.Index] = j
			}
		}
		for _, c := range cols {
			if c < 0 {
				return nil, nil // a column the view does not show cannot be read back
			}
		}
	default:
		return nil, nil
	}
	if len(a.GroupBy) == 0 || a.WindowCol >= 0 || a.EmitOnClose || len(rel.Key) != len(a.GroupBy) {
		return nil, nil
	}
	for i, k := range rel.Key {
		if k != cols[i] {
			return nil, nil
		}
	}
	specs := make([]agg.Spec, len(a.Aggs))
	for i, c := range a.Aggs {
		specs[i] = agg.Spec{Kind: aggKind(c.Func)}
	}
	if !agg.Recoverable(specs) {
		return nil, nil
	}
	out := a.Schema()
	for i, c := range cols {
		if rel.Schema[c].Type != out[i].Type {
			return nil, nil
		}
	}
	return a, cols
}

// underMirror is n's input when n is a Mirror, else n. The view of an
// aggregate under a Mirror holds the aggregate's rows (and their
// mirrors, which the aggregate never reads back), so the aggregate can
// be committed-backed through it.
func underMirror(n planner.Node) planner.Node {
	if m, ok := n.(*planner.Mirror); ok {
		return m.Input
	}
	return n
}

// viewRows gives a committed-backed aggregate (agg.Committed) the
// results its groups had at the last barrier: the committed rows of the
// view it feeds, read from the view's store.
//
// Reading the store from the view's goroutine, without snapMu, at a
// barrier is safe, and the rows read are exactly the aggregate's output
// up to the previous barrier:
//
//   - Epochs are sequential. runEpoch holds coordMu from injecting
//     barrier E until it returns: it waits for every view's report of E,
//     then commits E (Store.Apply of every view's changes under
//     snapMu.Lock). Barrier E+1 is injected by the next runEpoch, which
//     takes coordMu after that, and reaches a fragment through its inbox
//     (from a table, or from the fragment of a view it reads, after that
//     one received E+1): commit E happens before the fragment processes
//     E+1. The aggregate reads the store while flushing at E+1, before
//     the fragment reports E+1 (fragment.process: push the barrier
//     through the operators, send the changes downstream, snapshot, then
//     report), and commit E+1 waits for that report: nothing writes the
//     store during the read. Queries read it at the same time under
//     snapMu.RLock; Find and Int64s only read too (the probe holds the
//     scratch). Chunks are folded between barriers without reading it.
//   - Creation: createView backfills the new view's operators from its
//     inputs (with coordMu and ingestMu held, no epoch in flight) into a
//     new, empty store, which its first commit fills: at its first
//     barrier the aggregate finds no committed row, and every group is
//     new, as for a full aggregate.
//   - Recovery: restoreView restores the store at the checkpoint's epoch
//     and the aggregate's snapshot, taken right after that epoch's
//     barrier (so holding no group), before the fragment starts; the
//     log replayed after it only feeds the inputs, and the first barrier
//     after the replay reads the restored rows. A full aggregate's
//     snapshot has another fingerprint and is refused. Without a
//     checkpoint, the view's DDL is replayed with a backfill, as above.
//   - DROP holds coordMu, so no barrier is in flight; the fragment stops
//     before the store goes. SUBSCRIBE and sinks read the store and take
//     each commit's changes, which, like those views reading this one
//     receive, are the rows a full aggregate would emit.
//   - Failure: once a commit fails to apply the view's changes
//     (object.failed, set by commit, so also ordered before the next
//     barrier), the store no longer follows the aggregate, and Read
//     fails the view's pipeline rather than emit changes computed from
//     stale rows.
type viewRows struct {
	o     *object
	cols  []int // the view's column of each output column of the aggregate
	probe state.KeyProbe
}

// Read implements agg.Committed.
func (v *viewRows) Read(keys arrow.RecordBatch, cols []int, found []bool, dst [][]int64, slots []uint32) error {
	if err := v.o.failed; err != nil {
		return fmt.Errorf("the view's committed rows no longer follow its aggregate: %w", err)
	}
	st := v.o.store
	if err := st.Find(&v.probe, keys, slots); err != nil {
		return err
	}
	for i, s := range slots {
		found[i] = s != state.NoSlot
	}
	for k, c := range cols {
		if err := st.Int64s(v.cols[c], slots, dst[k]); err != nil {
			return err
		}
	}
	return nil
}

// SlotStamp implements agg.Committed. It is read at the barrier, like
// Read, so the store's generation is the one Read's slots were found at.
func (v *viewRows) SlotStamp() (store, gen uint64) { return v.o.store.SlotStamp() }

func isSeq(cols []int, n int) bool {
	if len(cols) != n {
		return false
	}
	for i, c := range cols {
		if c != i {
			return false
		}
	}
	return true
}

func schemaTypes(s types.Schema) []types.T {
	t := make([]types.T, len(s))
	for i, c := range s {
		t[i] = c.Type
	}
	return t
}

func aggKind(f planner.AggFunc) agg.Kind {
	switch f {
	case planner.AggCountStar:
		return agg.CountStar
	case planner.AggCount:
		return agg.Count
	case planner.AggCountDistinct:
		return agg.CountDistinct
	case planner.AggSum:
		return agg.Sum
	case planner.AggAvg:
		return agg.Avg
	case planner.AggMin:
		return agg.Min
	case planner.AggMax:
		return agg.Max
	}
	panic(fmt.Sprintf("executor: unknown aggregate %d", f))
}

// prepare substitutes parameter values and folds constant subexpressions
// in every expression of a plan.
func prepare(n planner.Node, params []types.Datum) (planner.Node, error) {
	var firstErr error
	fix := func(e expr.Expr) expr.Expr {
		if e == nil {
			return nil
		}
		out, err := prepareExpr(e, params)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return out
	}
	out := rewritePlan(n, fix)
	return out, firstErr
}

// prepareExpr replaces parameters with their values and evaluates every
// subexpression that reads no column.
func prepareExpr(e expr.Expr, params []types.Datum) (expr.Expr, error) {
	var err error
	e = expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		if c, ok := x.(*expr.Call); ok && c.Func == expr.Now {
			return &expr.Literal{Value: types.NewTimestamp(time.Now().UnixMicro()), T: c.T}
		}
		if p, ok := x.(*expr.Param); ok {
			if p.Ordinal > len(params) {
				if err == nil {
					err = sqlerr.Execf(sqlerr.InvalidParameter, "there is no parameter $%d", p.Ordinal)
				}
				return x
			}
			d := params[p.Ordinal-1]
			if p.T.Kind == types.Unknown {
				return &expr.Literal{Value: d, T: datumType(d)}
			}
			v, cerr := eval.CastDatum(d, p.T)
			if cerr != nil && err == nil {
				err = cerr
			}
			return &expr.Literal{Value: v, T: p.T}
		}
		return x
	})
	if err != nil {
		return e, err
	}
	return foldConstants(e)
}

func datumType(d types.Datum) types.T {
	t := types.T{Kind: d.Kind}
	if d.Kind == types.Decimal {
		t = types.DecimalType(types.MaxDecimalPrecision, d.Scale)
	}
	if d.Kind == types.Timestamp {
		t.Precision = 6
	}
	return t
}

// foldConstants evaluates constant subtrees once, at plan time.
func foldConstants(e expr.Expr) (expr.Expr, error) {
	var err error
	out := expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		switch x.(type) {
		case *expr.Literal, *expr.ColumnRef, *expr.Param:
			return x
		}
		if err != nil || x.Type().Kind == types.Interval {
			return x
		}
		constant := true
		expr.Walk(x, func(y expr.Expr) {
			switch y.(type) {
			case *expr.ColumnRef, *expr.Param:
				constant = false
			}
		})
		if !constant {
			return x
		}
		v, ferr := eval.EvalScalar(x, nil)
		if ferr != nil {
			err = ferr
			return x
		}
		return &expr.Literal{Value: v, T: x.Type()}
	})
	return out, err
}

// rewritePlan applies fn to every expression in a plan, returning a new
// plan (nodes without expressions are shared).
func rewritePlan(n planner.Node, fn func(expr.Expr) expr.Expr) planner.Node {
	kids := n.Children()
	if len(kids) > 0 {
		nk := make([]planner.Node, len(kids))
		for i, k := range kids {
			nk[i] = rewritePlan(k, fn)
		}
		n = n.WithChildren(nk)
	}
	switch x := n.(type) {
	case *planner.Filter:
		return &planner.Filter{Input: x.Input, Pred: fn(x.Pred)}
	case *planner.Project:
		exprs := make([]expr.Expr, len(x.Exprs))
		for i, e := range x.Exprs {
			exprs[i] = fn(e)
		}
		return &planner.Project{Input: x.Input, Exprs: exprs, Names: x.Names}
	case *planner.Lookup:
		key := make([]expr.Expr, len(x.Key))
		for i, e := range x.Key {
			key[i] = fn(e)
		}
		return &planner.Lookup{Rel: x.Rel, Cols: x.Cols, Key: key}
	case *planner.Values:
		rows := make([][]expr.Expr, len(x.Rows))
		for r, row := range x.Rows {
			rows[r] = make([]expr.Expr, len(row))
			for i, e := range row {
				rows[r][i] = fn(e)
			}
		}
		return &planner.Values{Rows: rows, Out: x.Out}
	case *planner.Join:
		j := *x
		if j.Residual != nil {
			j.Residual = fn(j.Residual)
		}
		return &j
	}
	return n
}
