package executor

import (
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/join"
	"github.com/sluicedb/sluice/planner"
)

// buildJoin wires a hash join: both inputs feed its ports; an inner
// join's residual predicate becomes a Filter after it. A LEFT JOIN is the
// bounded left outer join in queries and the incremental one in views.
// A view's join gets its time bound (rows freed by the watermarks) only
// when both inputs are append-only: freeing rows of a retracting input
// would lose the retractions of their pairs. An input that never retracts
// is passed as append-only, so its side keeps no row index.
func (b *builder) buildJoin(j *planner.Join, out operators.Output) error {
	kind := join.Inner
	if j.Kind == planner.LeftJoin {
		kind = join.LeftOuter
		if b.mode == streaming {
			kind = join.StreamingLeftOuter
		}
	}
	schema := j.Schema()
	var opts join.Options
	residual := j.Residual
	if t := j.Time; t != nil && b.mode == streaming && planner.IsAppendOnly(j.Left) && planner.IsAppendOnly(j.Right) {
		opts.Time = &join.TimeBound{LeftCol: t.LeftCol, RightCol: t.RightCol, Lo: t.Lo, Hi: t.Hi}
		// The join emits only pairs within the bound: the conjuncts
		// the bound is exactly need no second check.
		residual = j.ResidualBeyondTime()
	}
	opts.AppendOnly = [2]bool{b.insertsOnly(j.Left), b.insertsOnly(j.Right)}
	next := out
	if residual != nil && kind == join.Inner {
		f, err := operators.NewFilter(b.mem, schema.Arrow(), residual, out)
		if err != nil {
			return err
		}
		b.ops = append(b.ops, f)
		next = f
	}
	ls, rs := j.Left.Schema(), j.Right.Schema()
	op := join.NewWithOptions(b.mem, kind, schemaTypes(ls), schemaTypes(rs), j.LeftKeys, j.RightKeys, residual, schema.Arrow(), opts, next)
	b.ops = append(b.ops, op)
	if err := b.build(j.Left, op.Left()); err != nil {
		return err
	}
	return b.build(j.Right, op.Right())
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
