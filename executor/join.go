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
// would lose the retractions of their pairs.
func (b *builder) buildJoin(j *planner.Join, out operators.Output) error {
	kind := join.Inner
	if j.Kind == planner.LeftJoin {
		kind = join.LeftOuter
		if b.mode == streaming {
			kind = join.StreamingLeftOuter
		}
	}
	schema := j.Schema()
	next := out
	if j.Residual != nil && kind == join.Inner {
		f, err := operators.NewFilter(b.mem, schema.Arrow(), j.Residual, out)
		if err != nil {
			return err
		}
		b.ops = append(b.ops, f)
		next = f
	}
	var opts join.Options
	if t := j.Time; t != nil && b.mode == streaming && planner.IsAppendOnly(j.Left) && planner.IsAppendOnly(j.Right) {
		opts.Time = &join.TimeBound{LeftCol: t.LeftCol, RightCol: t.RightCol, Lo: t.Lo, Hi: t.Hi}
	}
	ls, rs := j.Left.Schema(), j.Right.Schema()
	op := join.NewWithOptions(b.mem, kind, schemaTypes(ls), schemaTypes(rs), j.LeftKeys, j.RightKeys, j.Residual, schema.Arrow(), opts, next)
	b.ops = append(b.ops, op)
	if err := b.build(j.Left, op.Left()); err != nil {
		return err
	}
	return b.build(j.Right, op.Right())
}
