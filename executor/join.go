package executor

import (
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/join"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/sqlerr"
)

// buildJoin wires a hash join: both inputs feed its ports; an inner
// join's residual predicate becomes a Filter after it.
func (b *builder) buildJoin(j *planner.Join, out operators.Output) error {
	kind := join.Inner
	if j.Kind == planner.LeftJoin {
		if b.mode == streaming {
			return sqlerr.Planf(sqlerr.FeatureNotSupported, "LEFT JOIN in a materialized view is not supported yet")
		}
		kind = join.LeftOuter
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
	ls, rs := j.Left.Schema(), j.Right.Schema()
	op := join.New(b.mem, kind, schemaTypes(ls), schemaTypes(rs), j.LeftKeys, j.RightKeys, j.Residual, schema.Arrow(), next)
	b.ops = append(b.ops, op)
	if err := b.build(j.Left, op.Left()); err != nil {
		return err
	}
	return b.build(j.Right, op.Right())
}
