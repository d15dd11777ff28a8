package executor

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/join"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/types"
)

// buildJoin wires a hash join: both inputs feed its ports; an inner
// join's residual predicate becomes a Filter after it. A LEFT JOIN is the
// bounded left outer join in queries and the incremental one in views.
// A view's join gets its time bound (rows freed by the watermarks) only
// when both inputs are append-only: freeing rows of a retracting input
// would lose the retractions of their pairs. An input that never retracts
// is passed as append-only, so its side keeps no row index. An inner
// join of a plan with itself (planner.Join.SelfJoin) is built as a
// self-join: its input is built, and so read, once, and each row is kept
// once for both roles.
func (b *builder) buildJoin(j *planner.Join, out operators.Output) error {
	return b.wireJoin(j, b.joinResidual(j), nil, j.Schema().Arrow(), out)
}

// buildProjectedJoin wires Project p over inner join j so that the join
// emits only the columns p and the residual Filter read (join.Options.
// Output): the columns p reads in the order it reads them, then those
// only the residual reads. When p only shows plain columns and the
// residual reads no others, the join emits p's rows itself and p is not
// built.
func (b *builder) buildProjectedJoin(p *planner.Project, j *planner.Join, out operators.Output) error {
	full := j.Schema()
	residual := b.joinResidual(j)
	m := make([]int, len(full)) // join column -> its output column, or -1
	for i := range m {
		m[i] = -1
	}
	var cols []int
	use := func(c int) {
		if m[c] < 0 {
			m[c] = len(cols)
			cols = append(cols, c)
		}
	}
	// plain: every expression of p is a column, shown as it is.
	plain := true
	for _, e := range p.Exprs {
		c, ok := e.(*expr.ColumnRef)
		plain = plain && ok && c.Index < len(full) && c.T == full[c.Index].Type
	}
	if plain {
		for _, e := range p.Exprs {
			c := e.(*expr.ColumnRef).Index
			if m[c] < 0 {
				m[c] = len(cols)
			}
			cols = append(cols, c) // a column p shows twice is emitted twice
		}
	} else {
		for _, e := range p.Exprs {
			for _, c := range expr.Columns(e) {
				use(c)
			}
		}
	}
	shown := len(cols)
	if residual != nil {
		for _, c := range expr.Columns(residual) {
			use(c)
		}
	}
	if len(cols) == 0 {
		use(0) // keep one column, so rows still have a count
	}
	var schema *arrow.Schema
	next := out
	if plain && len(cols) == shown {
		schema = p.Schema().Arrow()
	} else {
		narrow := make(types.Schema, len(cols))
		for i, c := range cols {
			narrow[i] = full[c]
		}
		schema = narrow.Arrow()
		exprs := make([]expr.Expr, len(p.Exprs))
		for i, e := range p.Exprs {
			exprs[i] = remapColumns(e, m)
		}
		op, err := operators.NewProject(b.mem, exprs, p.Names, out)
		if err != nil {
			return err
		}
		b.ops = append(b.ops, op)
		next = op
	}
	if residual != nil {
		residual = remapColumns(residual, m)
	}
	return b.wireJoin(j, residual, cols, schema, next)
}

// joinResidual is the predicate left to check on the pairs of join j
// beyond its keys: the residual, without the conjuncts its time bound
// enforces when the join applies the bound (see joinTime).
func (b *builder) joinResidual(j *planner.Join) expr.Expr {
	if b.joinTime(j) != nil {
		return j.ResidualBeyondTime()
	}
	return j.Residual
}

// joinTime is the time bound the operator of join j applies: the plan's,
// in a view whose join inputs are both append-only, else nil.
func (b *builder) joinTime(j *planner.Join) *join.TimeBound {
	t := j.Time
	if t == nil || b.mode != streaming || !planner.IsAppendOnly(j.Left) || !planner.IsAppendOnly(j.Right) {
		return nil
	}
	return &join.TimeBound{LeftCol: t.LeftCol, RightCol: t.RightCol, Lo: t.Lo, Hi: t.Hi}
}

// wireJoin builds join j emitting output (indices into its columns, nil:
// all) with schema, and its inputs. For an inner join, residual (over
// that output) becomes a Filter after it; an outer join evaluates j's
// residual (over all its columns) itself.
func (b *builder) wireJoin(j *planner.Join, residual expr.Expr, output []int, schema *arrow.Schema, out operators.Output) error {
	kind := join.Inner
	if j.Kind == planner.LeftJoin {
		kind = join.LeftOuter
		if b.mode == streaming {
			kind = join.StreamingLeftOuter
		}
	}
	opts := join.Options{Time: b.joinTime(j), Output: output}
	opts.AppendOnly = [2]bool{b.insertsOnly(j.Left), b.insertsOnly(j.Right)}
	opts.Self = kind == join.Inner && j.SelfJoin()
	// The residual Filter rejects a row paired with itself (a.x <> b.x):
	// the self-join need not emit such pairs.
	opts.SkipSelfPairs = opts.Self && residual != nil && j.RejectsSelfPairs(b.joinResidual(j))
	// A symmetric pair count's join may emit each unordered pair once,
	// when it emits just the ordered column of both roles.
	opts.Unordered = opts.Self && j.Unordered && join.UnorderedOutput(schemaTypes(j.Left.Schema()), output)
	next := out
	if residual != nil && kind == join.Inner {
		f, err := operators.NewFilter(b.mem, schema, residual, out)
		if err != nil {
			return err
		}
		b.ops = append(b.ops, f)
		next = f
	}
	var opResidual expr.Expr
	if kind != join.Inner {
		opResidual = residual
	}
	ls, rs := j.Left.Schema(), j.Right.Schema()
	op := join.NewWithOptions(b.mem, kind, schemaTypes(ls), schemaTypes(rs), j.LeftKeys, j.RightKeys, opResidual, schema, opts, next)
	b.ops = append(b.ops, op)
	if opts.Self {
		return b.build(j.Left, op.Self())
	}
	if err := b.build(j.Left, op.Left()); err != nil {
		return err
	}
	return b.build(j.Right, op.Right())
}

// remapColumns renumbers the column references of e by m.
func remapColumns(e expr.Expr, m []int) expr.Expr {
	return expr.Rewrite(e, func(x expr.Expr) expr.Expr {
		if c, ok := x.(*expr.ColumnRef); ok && m[c.Index] != c.Index {
			return &expr.ColumnRef{Index: m[c.Index], Name: c.Name, T: c.T}
		}
		return x
	})
}

// insertsOnly reports whether the operators built for n only ever emit
// inserts. In a view that is planner.IsAppendOnly; in a query every leaf
// pushes its snapshot's rows as inserts, and the stateless operators and
// the joins above them keep that (a query's aggregate emits once, at its
// only barrier, but is not counted on).
func (b *builder) insertsOnly(n planner.Node) bool {
	if b.mode == streaming {
		return planner.IsAppendOnly(n)
	}
	switch x := n.(type) {
	case *planner.Scan, *planner.Lookup, *planner.Values:
		return true
	case *planner.Filter, *planner.Project:
		return b.insertsOnly(n.Children()[0])
	case *planner.Join:
		return b.insertsOnly(x.Left) && b.insertsOnly(x.Right)
	}
	return false
}
