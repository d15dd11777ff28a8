package executor

import (
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/temporal"
	"github.com/sluicedb/sluice/operators/topn"
	"github.com/sluicedb/sluice/operators/window"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/sqlerr"
)

// buildStream wires the event-time nodes: windows, Top-N and temporal
// filters. It reports false for other nodes.
func (b *builder) buildStream(n planner.Node, out operators.Output) (bool, error) {
	switch x := n.(type) {
	case *planner.Window:
		in := x.Input.Schema()
		var op operators.Operator
		var err error
		switch x.Kind {
		case parser.Tumble:
			op, err = window.NewAssign(b.mem, in.Arrow(), x.TimeCol, window.Tumble, x.Size, x.Size, out)
		case parser.Hop:
			op, err = window.NewAssign(b.mem, in.Arrow(), x.TimeCol, window.Hop, x.Size, x.Slide, out)
		case parser.Session:
			op, err = window.NewSession(b.mem, in.Arrow(), x.TimeCol, x.Keys, x.Gap, x.EmitOnClose && b.mode == streaming, out)
		default:
			return true, sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "unknown window kind %d", x.Kind)
		}
		if err != nil {
			return true, err
		}
		b.ops = append(b.ops, op)
		return true, b.build(x.Input, op)
	case *planner.TopN:
		in := x.Input.Schema()
		spec := topn.Spec{PartitionCols: x.Partition, N: x.N, Offset: x.Offset, EmitRank: x.EmitRank, RankName: x.RankName, Kind: topn.RowNumber, Monotone: x.Monotone()}
		if x.Kind == planner.Rank {
			spec.Kind = topn.Rank
		}
		for _, k := range x.Order {
			spec.Order = append(spec.Order, topn.OrderKey{Col: k.Col, Desc: k.Desc, NullsFirst: k.NullsFirst})
		}
		op, err := topn.New(b.mem, in.Arrow(), schemaTypes(in), spec, out)
		if err != nil {
			return true, err
		}
		b.ops = append(b.ops, op)
		return true, b.build(x.Input, op)
	case *planner.TemporalFilter:
		if b.mode == bounded {
			return true, sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "temporal filter in a query plan")
		}
		in := x.Input.Schema()
		op, err := temporal.NewFilter(b.mem, in.Arrow(), schemaTypes(in), x.TimeCol, x.Window, x.Inclusive, out)
		if err != nil {
			return true, err
		}
		b.ops = append(b.ops, op)
		return true, b.build(x.Input, op)
	}
	return false, nil
}
