package planner

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

func unparen(e ast.ExprNode) ast.ExprNode {
	for {
		p, ok := e.(*ast.ParenthesesExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// bindWindow binds a window table function in FROM (see
// parser.WindowTVF): a scan of its table under a Window node.
func (b *binder) bindWindow(ts *ast.TableSource, tn *ast.TableName) (Node, *scope, error) {
	tvf := b.windows[tn.Name.L]
	if tvf == nil {
		return nil, nil, sqlerr.Planf(sqlerr.UndefinedTable, "relation %q does not exist", tn.Name.O)
	}
	rel, ok := b.cat.Relation(tvf.Table)
	if !ok {
		return nil, nil, sqlerr.Planf(sqlerr.UndefinedTable, "relation %q does not exist", tvf.Table)
	}
	b.deps = append(b.deps, rel)
	tc := rel.Schema.Index(tvf.TimeCol)
	if tc < 0 {
		return nil, nil, sqlerr.Planf(sqlerr.UndefinedColumn, "column %q does not exist in %q", tvf.TimeCol, rel.Name)
	}
	if rel.Schema[tc].Type.Kind != types.Timestamp {
		return nil, nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "the time column of %s must be a TIMESTAMP, not %s", tvf.Kind, rel.Schema[tc].Type.Name())
	}
	w := &Window{Input: &Scan{Rel: rel, Cols: seq(len(rel.Schema))}, Kind: tvf.Kind, TimeCol: tc,
		Size: tvf.Size, Slide: tvf.Slide, Gap: tvf.Gap}
	for _, k := range tvf.Keys {
		i := rel.Schema.Index(k)
		if i < 0 {
			return nil, nil, sqlerr.Planf(sqlerr.UndefinedColumn, "session key column %q does not exist in %q", k, rel.Name)
		}
		w.Keys = append(w.Keys, i)
	}
	qual := strings.ToLower(tvf.Table)
	if ts.AsName.L != "" {
		qual = ts.AsName.L
	}
	return w, scopeFor(qual, w.Schema()), nil
}

// bindRank binds ROW_NUMBER() or RANK() OVER (PARTITION BY ... ORDER BY
// ...) over input, returning a Ranked node whose last column is the rank.
func (b *binder) bindRank(input Node, eb *exprBinder, wf *ast.WindowFuncExpr, name string) (Node, error) {
	var kind RankKind
	switch strings.ToLower(wf.Name) {
	case "row_number":
		kind = RowNumber
	case "rank":
		kind = Rank
	default:
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "window function %s is not supported: ROW_NUMBER() and RANK() are, for Top-N", strings.ToUpper(wf.Name))
	}
	if wf.Spec.Frame != nil || wf.Spec.Name.L != "" || wf.Spec.Ref.L != "" {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "window frames and named windows are not supported")
	}
	if wf.Spec.OrderBy == nil {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "%s() needs ORDER BY in its OVER clause", strings.ToUpper(wf.Name))
	}
	in := input.Schema()
	exprs := make([]expr.Expr, len(in))
	names := make([]string, len(in))
	for i, c := range in {
		exprs[i] = &expr.ColumnRef{Index: i, Name: c.Name, T: c.Type}
		names[i] = c.Name
	}
	col := func(n ast.ExprNode) (int, error) {
		e, err := eb.bind(n)
		if err != nil {
			return 0, err
		}
		if r, ok := e.(*expr.ColumnRef); ok {
			return r.Index, nil
		}
		exprs = append(exprs, e)
		names = append(names, e.String())
		return len(exprs) - 1, nil
	}
	r := &Ranked{Kind: kind, Name: name}
	eb.what = "window function"
	if wf.Spec.PartitionBy != nil {
		for _, it := range wf.Spec.PartitionBy.Items {
			c, err := col(it.Expr)
			if err != nil {
				return nil, err
			}
			r.Partition = append(r.Partition, c)
		}
	}
	for _, it := range wf.Spec.OrderBy.Items {
		c, err := col(it.Expr)
		if err != nil {
			return nil, err
		}
		r.Order = append(r.Order, SortKey{Col: c, Desc: it.Desc, NullsFirst: !it.Desc})
	}
	r.Input = input
	if len(exprs) > len(in) {
		r.Input = &Project{Input: input, Exprs: exprs, Names: names}
	}
	return r, nil
}
