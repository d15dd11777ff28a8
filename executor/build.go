package executor

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/agg"
	"github.com/sluicedb/sluice/operators/eval"
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
	}
	if ok, err := b.buildStream(n, out); ok {
		return err
	}
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "no operator for plan node %T", n)
}

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
