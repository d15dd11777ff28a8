package planner

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// queryMode says where a query will run.
type queryMode uint8

const (
	batchQuery      queryMode = iota // a SELECT over snapshots
	continuousQuery                  // the body of a materialized view
)

// binder holds the state of binding one statement.
type binder struct {
	cat    Catalog
	params []types.T
	mode   queryMode
	// windows are the statement's window table functions by placeholder.
	windows map[string]*parser.WindowTVF
	// deps collects the relations the statement reads.
	deps []*Relation
}

func (b *binder) exprBinder(sc *scope, what string) *exprBinder {
	return &exprBinder{sc: sc, params: &b.params, what: what}
}

// bindQuery binds a SELECT (or parenthesised SELECT) to a plan whose
// output columns carry the query's column names.
func (b *binder) bindQuery(n ast.ResultSetNode) (Node, error) {
	switch x := n.(type) {
	case *ast.SelectStmt:
		return b.bindSelect(x)
	case *ast.SetOprStmt:
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "UNION, INTERSECT and EXCEPT are not supported yet")
	}
	return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "query form %T is not supported", n)
}

func (b *binder) bindSelect(sel *ast.SelectStmt) (Node, error) {
	if sel.With != nil {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "WITH is not supported yet")
	}
	if len(sel.WindowSpecs) > 0 {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "WINDOW clauses are not supported")
	}
	if sel.Kind == ast.SelectStmtKindValues || sel.Kind == ast.SelectStmtKindTable {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "this SELECT form is not supported")
	}
	var input Node
	var sc *scope
	var err error
	if sel.From == nil {
		input = &Values{Rows: [][]expr.Expr{{}}, Out: types.Schema{}}
		sc = &scope{}
	} else if input, sc, err = b.bindFrom(sel.From.TableRefs); err != nil {
		return nil, err
	}
	if sel.Where != nil {
		pred, err := b.exprBinder(sc, "WHERE").boolArg(sel.Where, "WHERE")
		if err != nil {
			return nil, err
		}
		input = &Filter{Input: input, Pred: pred}
	}
	fields, names, err := expandFields(sel.Fields.Fields, sc)
	if err != nil {
		return nil, err
	}

	// Aggregation.
	aggNodes := collectAggregates(sel)
	eb := b.exprBinder(sc, "SELECT")
	if len(aggNodes) > 0 || sel.GroupBy != nil {
		ac, err := b.bindAggregation(sel, input, sc, fields, names, aggNodes)
		if err != nil {
			return nil, err
		}
		input = ac.node
		eb = ac.postBinder(b)
		if sel.Having != nil {
			eb.what = "HAVING"
			having := substituteAliases(sel.Having.Expr, sc, fields, names)
			pred, err := eb.boolArg(having, "HAVING")
			if err != nil {
				return nil, err
			}
			input = &Filter{Input: input, Pred: pred}
		}
	} else if sel.Having != nil {
		return nil, sqlerr.Planf(sqlerr.GroupingError, "HAVING needs GROUP BY or an aggregate")
	}

	// Window functions (ranks, for Top-N) come after grouping.
	rankField := -1
	for i, f := range fields {
		wf, ok := unparen(f.Expr).(*ast.WindowFuncExpr)
		if !ok {
			continue
		}
		if rankField >= 0 {
			return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "only one window function per SELECT is supported")
		}
		rankField = i
		if input, err = b.bindRank(input, eb, wf, names[i]); err != nil {
			return nil, err
		}
	}

	// Projection.
	eb.what = "SELECT"
	exprs := make([]expr.Expr, len(fields))
	for i, f := range fields {
		if i == rankField {
			s := input.Schema()
			exprs[i] = &expr.ColumnRef{Index: len(s) - 1, Name: s[len(s)-1].Name, T: types.BigIntType}
			continue
		}
		e, err := eb.bind(f.Expr)
		if err != nil {
			return nil, err
		}
		exprs[i] = e
	}
	visible := len(exprs)

	// ORDER BY may add hidden columns.
	var keys []SortKey
	if sel.OrderBy != nil {
		if b.mode == continuousQuery && sel.Limit == nil {
			return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "ORDER BY without LIMIT in a materialized view has no effect; remove it, and sort when you SELECT from the view")
		}
		eb.what = "ORDER BY"
		for _, item := range sel.OrderBy.Items {
			col, err := orderColumn(item.Expr, names, exprs[:visible])
			if err != nil {
				return nil, err
			}
			if col < 0 {
				e, err := eb.bind(item.Expr)
				if err != nil {
					return nil, err
				}
				col = len(exprs)
				exprs = append(exprs, e)
				name := e.String()
				if c, ok := e.(*expr.ColumnRef); ok {
					name = c.Name
				}
				names = append(names, name)
			}
			keys = append(keys, SortKey{Col: col, Desc: item.Desc, NullsFirst: !item.Desc})
		}
	}
	var out Node = &Project{Input: input, Exprs: exprs, Names: names}
	if sel.Distinct {
		if visible != len(exprs) {
			return nil, sqlerr.Planf(sqlerr.InvalidParameter, "for SELECT DISTINCT, ORDER BY expressions must appear in select list")
		}
		out = &Aggregate{Input: out, GroupBy: seq(len(exprs)), WindowCol: -1}
	}
	if b.mode == continuousQuery && sel.Limit != nil {
		// ORDER BY ... LIMIT N in a view is a Top-N over one partition.
		l, err := b.bindLimit(sel.Limit)
		if err != nil {
			return nil, err
		}
		if l.Count < 0 {
			return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "a materialized view needs a LIMIT count with OFFSET")
		}
		if len(keys) == 0 {
			return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "LIMIT without ORDER BY in a materialized view keeps arbitrary rows; add ORDER BY")
		}
		out = &TopN{Input: out, Order: keys, N: l.Count, Offset: l.Offset, Kind: RowNumber, RankName: "rank"}
		keys = nil
	}
	if keys != nil {
		out = &Sort{Input: out, Keys: keys}
	}
	if sel.Limit != nil && b.mode != continuousQuery {
		l, err := b.bindLimit(sel.Limit)
		if err != nil {
			return nil, err
		}
		l.Input = out
		out = l
	}
	if visible != len(exprs) {
		refs := make([]expr.Expr, visible)
		s := out.Schema()
		for i := range refs {
			refs[i] = &expr.ColumnRef{Index: i, Name: s[i].Name, T: s[i].Type}
		}
		out = &Project{Input: out, Exprs: refs, Names: names[:visible]}
	}
	return out, nil
}

func (b *binder) bindLimit(l *ast.Limit) (*Limit, error) {
	value := func(n ast.ExprNode, what string) (int64, error) {
		if n == nil {
			return 0, nil
		}
		v, ok := n.(*test_driver.ValueExpr)
		if !ok {
			return 0, sqlerr.Planf(sqlerr.FeatureNotSupported, "%s must be an integer constant", what)
		}
		switch x := v.GetValue().(type) {
		case int64:
			if x < 0 {
				return 0, sqlerr.Planf(sqlerr.InvalidParameter, "%s must not be negative", what)
			}
			return x, nil
		case uint64:
			return int64(min(x, 1<<62)), nil
		}
		return 0, sqlerr.Planf(sqlerr.DatatypeMismatch, "argument of %s must be an integer", what)
	}
	c, err := value(l.Count, "LIMIT")
	if err != nil {
		return nil, err
	}
	o, err := value(l.Offset, "OFFSET")
	if err != nil {
		return nil, err
	}
	if l.Count == nil {
		c = -1
	}
	return &Limit{Count: c, Offset: o}, nil
}

// orderColumn resolves ORDER BY items that name an output column (by
// alias or position) to its index, or -1 for other expressions.
func orderColumn(n ast.ExprNode, names []string, exprs []expr.Expr) (int, error) {
	switch x := n.(type) {
	case *ast.PositionExpr:
		if x.N < 1 || x.N > len(exprs) {
			return 0, sqlerr.Planf(sqlerr.InvalidParameter, "ORDER BY position %d is not in select list", x.N)
		}
		return x.N - 1, nil
	case *ast.ColumnNameExpr:
		if x.Name.Table.L != "" {
			return -1, nil
		}
		found := -1
		for i, name := range names[:len(exprs)] {
			if strings.EqualFold(name, x.Name.Name.O) {
				if found >= 0 {
					if sameExpr(exprs[found], exprs[i]) {
						continue
					}
					return 0, sqlerr.Planf(sqlerr.AmbiguousColumn, "ORDER BY %q is ambiguous", x.Name.Name.O)
				}
				found = i
			}
		}
		return found, nil
	}
	return -1, nil
}

func sameExpr(a, b expr.Expr) bool { return expr.Equal(a, b) }

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// expandFields expands * and t.* and names every output column.
func expandFields(fields []*ast.SelectField, sc *scope) ([]*ast.SelectField, []string, error) {
	var out []*ast.SelectField
	var names []string
	for _, f := range fields {
		if f.WildCard != nil {
			qual := f.WildCard.Table.L
			n := 0
			for _, c := range sc.cols {
				if qual != "" && !strings.EqualFold(c.qual, qual) {
					continue
				}
				if strings.HasPrefix(c.name, "?") { // hidden
					continue
				}
				cn := &ast.ColumnNameExpr{Name: &ast.ColumnName{Table: ast.NewCIStr(c.qual), Name: ast.NewCIStr(c.name)}}
				out = append(out, &ast.SelectField{Expr: cn})
				names = append(names, c.name)
				n++
			}
			if n == 0 && qual != "" {
				return nil, nil, sqlerr.Planf(sqlerr.UndefinedTable, "missing FROM-clause entry for table %q", qual)
			}
			continue
		}
		out = append(out, f)
		names = append(names, fieldName(f))
	}
	if len(out) == 0 {
		return nil, nil, sqlerr.Planf(sqlerr.SyntaxError, "SELECT needs at least one column")
	}
	return out, names, nil
}

// fieldName is the output name of a select item, as Postgres names it.
func fieldName(f *ast.SelectField) string {
	if f.AsName.O != "" {
		return f.AsName.O
	}
	e := f.Expr
	for {
		p, ok := e.(*ast.ParenthesesExpr)
		if !ok {
			break
		}
		e = p.Expr
	}
	switch x := e.(type) {
	case *ast.ColumnNameExpr:
		return x.Name.Name.O
	case *ast.AggregateFuncExpr:
		return strings.ToLower(x.F)
	case *ast.FuncCallExpr:
		switch x.FnName.L {
		case ast.TimestampLiteral:
			return "timestamp"
		case ast.DateLiteral:
			return "date"
		case "date_add", "date_sub", "adddate", "subdate":
			return "?column?"
		}
		return x.FnName.L
	case *ast.FuncCastExpr:
		if t, err := castTypeName(x); err == nil {
			return t
		}
	case *ast.CaseExpr:
		return "case"
	}
	return "?column?"
}

// castTypeName names the column of CAST(x AS type) by the target type, as
// Postgres does: text, bigint, decimal, date...
func castTypeName(x *ast.FuncCastExpr) (string, error) {
	t, err := parser.ConvertFieldType(x.Tp)
	if err != nil {
		return "", err
	}
	name := t.String()
	if i := strings.IndexByte(name, '('); i >= 0 {
		name = name[:i]
	}
	return strings.ToLower(name), nil
}

// bindFrom binds a FROM clause item.
func (b *binder) bindFrom(n ast.ResultSetNode) (Node, *scope, error) {
	switch x := n.(type) {
	case *ast.TableSource:
		return b.bindTableSource(x)
	case *ast.Join:
		if x.Right == nil {
			return b.bindFrom(x.Left)
		}
		return b.bindJoin(x)
	}
	return nil, nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "FROM item %T is not supported", n)
}

func (b *binder) bindTableSource(ts *ast.TableSource) (Node, *scope, error) {
	switch src := ts.Source.(type) {
	case *ast.TableName:
		if strings.HasPrefix(src.Name.L, parser.WindowPlaceholderPrefix) {
			return b.bindWindow(ts, src)
		}
		rel, ok := b.cat.Relation(src.Name.O)
		if !ok {
			return nil, nil, sqlerr.Planf(sqlerr.UndefinedTable, "relation %q does not exist", src.Name.O)
		}
		if rel.Kind == SourceRelation && b.mode != continuousQuery {
			return nil, nil, sqlerr.Planf(sqlerr.WrongObjectType, "source %q keeps no rows, so it cannot be queried: create a materialized view over it", rel.Name)
		}
		b.deps = append(b.deps, rel)
		qual := src.Name.L
		if ts.AsName.L != "" {
			qual = ts.AsName.L
		}
		return &Scan{Rel: rel, Cols: seq(len(rel.Schema))}, scopeFor(qual, rel.Schema), nil
	case *ast.SelectStmt, *ast.SetOprStmt:
		if ts.AsName.L == "" {
			return nil, nil, sqlerr.Planf(sqlerr.SyntaxError, "subquery in FROM must have an alias")
		}
		node, err := b.bindQuery(src)
		if err != nil {
			return nil, nil, err
		}
		return node, scopeFor(ts.AsName.L, node.Schema()), nil
	}
	return nil, nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "FROM item %T is not supported", ts.Source)
}

func (b *binder) bindJoin(j *ast.Join) (Node, *scope, error) {
	if j.NaturalJoin || len(j.Using) > 0 {
		return nil, nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "NATURAL JOIN and JOIN USING are not supported; write ON")
	}
	left, lsc, err := b.bindFrom(j.Left)
	if err != nil {
		return nil, nil, err
	}
	right, rsc, err := b.bindFrom(j.Right)
	if err != nil {
		return nil, nil, err
	}
	kind := InnerJoin
	swapped := false
	switch j.Tp {
	case ast.CrossJoin:
	case ast.LeftJoin:
		kind = LeftJoin
	case ast.RightJoin:
		kind = LeftJoin
		left, right, lsc, rsc, swapped = right, left, rsc, lsc, true
	default:
		return nil, nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "join type %v is not supported", j.Tp)
	}
	sc := lsc.concat(rsc)
	join := &Join{Left: left, Right: right, Kind: kind}
	var node Node = join
	if j.On != nil {
		cond, err := b.exprBinder(sc, "JOIN ON").boolArg(j.On.Expr, "JOIN/ON")
		if err != nil {
			return nil, nil, err
		}
		var residual []expr.Expr
		var lextra, rextra []expr.Expr
		nl := len(lsc.cols)
		for _, c := range splitConjuncts(cond) {
			if l, r, ok := equiKey(c, nl); ok {
				join.LeftKeys = append(join.LeftKeys, l)
				join.RightKeys = append(join.RightKeys, r-nl)
				continue
			}
			if l, r, ok := computedEquiKey(c, nl); ok {
				join.LeftKeys = append(join.LeftKeys, nl+len(lextra))
				join.RightKeys = append(join.RightKeys, len(rsc.cols)+len(rextra))
				lextra = append(lextra, l)
				rextra = append(rextra, shift(r, -nl))
				continue
			}
			residual = append(residual, c)
		}
		join.Residual = conjoin(residual)
		if len(lextra) > 0 {
			node = withComputedKeys(join, lextra, rextra)
		}
	} else if kind == LeftJoin {
		return nil, nil, sqlerr.Planf(sqlerr.SyntaxError, "LEFT JOIN needs an ON condition")
	}
	if !swapped {
		return node, sc, nil
	}
	// Restore the written column order: the right side came first.
	nl, nr := len(lsc.cols), len(rsc.cols)
	exprs := make([]expr.Expr, 0, nl+nr)
	names := make([]string, 0, nl+nr)
	orig := rsc.concat(lsc)
	s := node.Schema()
	for i := 0; i < nr; i++ {
		exprs = append(exprs, &expr.ColumnRef{Index: nl + i, Name: s[nl+i].Name, T: s[nl+i].Type})
		names = append(names, s[nl+i].Name)
	}
	for i := 0; i < nl; i++ {
		exprs = append(exprs, &expr.ColumnRef{Index: i, Name: s[i].Name, T: s[i].Type})
		names = append(names, s[i].Name)
	}
	return &Project{Input: node, Exprs: exprs, Names: names}, orig, nil
}

// computedEquiKey recognises leftExpr = rightExpr where each side reads
// columns of one join input only, such as CAST(a.x AS BIGINT) = b.y: the
// join can hash on the computed values instead of comparing every pair.
func computedEquiKey(e expr.Expr, nl int) (expr.Expr, expr.Expr, bool) {
	c, ok := e.(*expr.Call)
	if !ok || c.Func != expr.Eq {
		return nil, nil, false
	}
	side := func(x expr.Expr) int { // 0: left only, 1: right only, -1: neither or both
		cols := expr.Columns(x)
		switch {
		case len(cols) == 0:
			return -1
		case cols[len(cols)-1] < nl:
			return 0
		case cols[0] >= nl:
			return 1
		}
		return -1
	}
	a, b := side(c.Args[0]), side(c.Args[1])
	switch {
	case a == 0 && b == 1:
		return c.Args[0], c.Args[1], true
	case a == 1 && b == 0:
		return c.Args[1], c.Args[0], true
	}
	return nil, nil, false
}

// withComputedKeys rebuilds join so that each input also computes its
// extra key expressions as trailing columns (join's key indexes already
// point at them), and projects the extra columns away again above it.
func withComputedKeys(join *Join, lextra, rextra []expr.Expr) Node {
	extend := func(in Node, extra []expr.Expr) Node {
		s := in.Schema()
		exprs := make([]expr.Expr, 0, len(s)+len(extra))
		names := make([]string, 0, len(s)+len(extra))
		for i, c := range s {
			exprs = append(exprs, &expr.ColumnRef{Index: i, Name: c.Name, T: c.Type})
			names = append(names, c.Name)
		}
		for _, e := range extra {
			names = append(names, e.String())
		}
		return &Project{Input: in, Exprs: append(exprs, extra...), Names: names}
	}
	nl, nr := len(join.Left.Schema()), len(join.Right.Schema())
	j := *join
	j.Left = extend(join.Left, lextra)
	j.Right = extend(join.Right, rextra)
	if j.Residual != nil {
		j.Residual = expr.Rewrite(j.Residual, func(e expr.Expr) expr.Expr {
			if c, ok := e.(*expr.ColumnRef); ok && c.Index >= nl {
				return &expr.ColumnRef{Index: c.Index + len(lextra), Name: c.Name, T: c.T}
			}
			return e
		})
	}
	s := j.Schema()
	exprs := make([]expr.Expr, 0, nl+nr)
	names := make([]string, 0, nl+nr)
	for i := 0; i < nl; i++ {
		exprs = append(exprs, &expr.ColumnRef{Index: i, Name: s[i].Name, T: s[i].Type})
		names = append(names, s[i].Name)
	}
	for i := 0; i < nr; i++ {
		k := nl + len(lextra) + i
		exprs = append(exprs, &expr.ColumnRef{Index: k, Name: s[k].Name, T: s[k].Type})
		names = append(names, s[k].Name)
	}
	return &Project{Input: &j, Exprs: exprs, Names: names}
}

// equiKey recognises leftCol = rightCol (either order) between the two
// sides of a join whose left side has nl columns.
func equiKey(e expr.Expr, nl int) (int, int, bool) {
	c, ok := e.(*expr.Call)
	if !ok || c.Func != expr.Eq {
		return 0, 0, false
	}
	a, ok1 := c.Args[0].(*expr.ColumnRef)
	bb, ok2 := c.Args[1].(*expr.ColumnRef)
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	if a.Index < nl && bb.Index >= nl {
		return a.Index, bb.Index, true
	}
	if bb.Index < nl && a.Index >= nl {
		return bb.Index, a.Index, true
	}
	return 0, 0, false
}

func splitConjuncts(e expr.Expr) []expr.Expr {
	if c, ok := e.(*expr.Call); ok && c.Func == expr.And {
		return append(splitConjuncts(c.Args[0]), splitConjuncts(c.Args[1])...)
	}
	return []expr.Expr{e}
}

func conjoin(es []expr.Expr) expr.Expr {
	if len(es) == 0 {
		return nil
	}
	out := es[0]
	for _, e := range es[1:] {
		out = &expr.Call{Func: expr.And, Args: []expr.Expr{out, e}, T: types.BoolType}
	}
	return out
}

// collectAggregates lists the aggregate calls of a SELECT's fields,
// HAVING and ORDER BY.
func collectAggregates(sel *ast.SelectStmt) []*ast.AggregateFuncExpr {
	v := &aggCollector{}
	for _, f := range sel.Fields.Fields {
		if f.Expr != nil {
			f.Expr.Accept(v)
		}
	}
	if sel.Having != nil {
		sel.Having.Expr.Accept(v)
	}
	if sel.OrderBy != nil {
		for _, it := range sel.OrderBy.Items {
			it.Expr.Accept(v)
		}
	}
	return v.found
}

type aggCollector struct{ found []*ast.AggregateFuncExpr }

func (v *aggCollector) Enter(n ast.Node) (ast.Node, bool) {
	if a, ok := n.(*ast.AggregateFuncExpr); ok {
		v.found = append(v.found, a)
		return n, true
	}
	if _, ok := n.(*ast.SubqueryExpr); ok {
		return n, true
	}
	return n, false
}

func (v *aggCollector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// aggContext is the result of binding GROUP BY and the aggregate calls.
type aggContext struct {
	node       Node
	inScope    *scope
	groupExprs []expr.Expr
	aggKeys    map[*ast.AggregateFuncExpr]int
	outSchema  types.Schema
}

func (b *binder) bindAggregation(sel *ast.SelectStmt, input Node, sc *scope, fields []*ast.SelectField, names []string, aggNodes []*ast.AggregateFuncExpr) (*aggContext, error) {
	eb := b.exprBinder(sc, "GROUP BY")
	ac := &aggContext{inScope: sc, aggKeys: map[*ast.AggregateFuncExpr]int{}}
	var pre []expr.Expr
	var preNames []string
	if sel.GroupBy != nil {
		for _, item := range sel.GroupBy.Items {
			e, err := b.groupItem(item.Expr, eb, fields, names)
			if err != nil {
				return nil, err
			}
			dup := false
			for _, g := range ac.groupExprs {
				if sameExpr(g, e) {
					dup = true
				}
			}
			if dup {
				continue
			}
			ac.groupExprs = append(ac.groupExprs, e)
			pre = append(pre, e)
			name := e.String()
			if c, ok := e.(*expr.ColumnRef); ok {
				name = c.Name
			}
			preNames = append(preNames, name)
		}
	}
	ng := len(pre)
	var calls []AggCall
	var callKeys []string
	eb.what = "aggregate function arguments"
	for _, a := range aggNodes {
		call, arg, err := b.bindAggCall(a, eb)
		if err != nil {
			return nil, err
		}
		key := call.Func.String() + "|" + call.Type.String()
		if arg != nil {
			key += "|" + arg.String()
			found := -1
			for i := ng; i < len(pre); i++ {
				if sameExpr(pre[i], arg) {
					found = i
				}
			}
			if found < 0 {
				found = len(pre)
				pre = append(pre, arg)
				name := arg.String()
				if c, ok := arg.(*expr.ColumnRef); ok {
					name = c.Name
				}
				preNames = append(preNames, name)
			}
			call.Arg = found
			call.ArgType = arg.Type()
		}
		idx := -1
		for i, k := range callKeys {
			if k == key {
				idx = i
			}
		}
		if idx < 0 {
			idx = len(calls)
			calls = append(calls, call)
			callKeys = append(callKeys, key)
		}
		ac.aggKeys[a] = idx
	}
	var in Node = input
	if !isIdentity(pre, input.Schema()) {
		in = &Project{Input: input, Exprs: pre, Names: preNames}
	}
	agg := &Aggregate{Input: in, GroupBy: seq(ng), Aggs: calls, WindowCol: -1}
	ac.node = agg
	ac.outSchema = agg.Schema()
	return ac, nil
}

func isIdentity(exprs []expr.Expr, s types.Schema) bool {
	if len(exprs) != len(s) {
		return false
	}
	for i, e := range exprs {
		if c, ok := e.(*expr.ColumnRef); !ok || c.Index != i {
			return false
		}
	}
	return true
}

// groupItem binds a GROUP BY item: a position, an output alias (as MySQL
// allows) or an expression over the input.
func (b *binder) groupItem(n ast.ExprNode, eb *exprBinder, fields []*ast.SelectField, names []string) (expr.Expr, error) {
	switch x := n.(type) {
	case *ast.PositionExpr:
		if x.N < 1 || x.N > len(fields) {
			return nil, sqlerr.Planf(sqlerr.InvalidParameter, "GROUP BY position %d is not in select list", x.N)
		}
		return b.groupItem(fields[x.N-1].Expr, eb, nil, nil)
	case *ast.ColumnNameExpr:
		if x.Name.Table.L == "" {
			if _, err := eb.sc.resolve("", x.Name.Name.O); err != nil {
				for i, name := range names {
					if strings.EqualFold(name, x.Name.Name.O) && fields[i].AsName.O != "" {
						return b.groupItem(fields[i].Expr, eb, nil, nil)
					}
				}
			}
		}
	}
	if len(collectAggs(n)) > 0 {
		return nil, sqlerr.Planf(sqlerr.GroupingError, "aggregate functions are not allowed in GROUP BY")
	}
	return eb.bind(n)
}

// substituteAliases replaces, in a HAVING condition, each unqualified name
// that is not an input column but is an output alias by the aliased
// expression (MySQL allows HAVING n > 1 for COUNT(*) AS n).
func substituteAliases(n ast.ExprNode, sc *scope, fields []*ast.SelectField, names []string) ast.ExprNode {
	r := &aliasRewriter{sc: sc, fields: fields, names: names}
	out, _ := n.Accept(r)
	return out.(ast.ExprNode)
}

type aliasRewriter struct {
	sc     *scope
	fields []*ast.SelectField
	names  []string
}

func (r *aliasRewriter) Enter(n ast.Node) (ast.Node, bool) {
	if _, ok := n.(*ast.SubqueryExpr); ok {
		return n, true
	}
	return n, false
}

func (r *aliasRewriter) Leave(n ast.Node) (ast.Node, bool) {
	cn, ok := n.(*ast.ColumnNameExpr)
	if !ok || cn.Name.Table.L != "" {
		return n, true
	}
	if _, err := r.sc.resolve("", cn.Name.Name.O); err == nil {
		return n, true
	}
	for i, name := range r.names {
		if strings.EqualFold(name, cn.Name.Name.O) && r.fields[i].AsName.O != "" {
			return r.fields[i].Expr, true
		}
	}
	return n, true
}

func collectAggs(n ast.Node) []*ast.AggregateFuncExpr {
	v := &aggCollector{}
	n.Accept(v)
	return v.found
}

// bindAggCall binds one aggregate call; arg is nil for COUNT(*).
func (b *binder) bindAggCall(a *ast.AggregateFuncExpr, eb *exprBinder) (AggCall, expr.Expr, error) {
	name := strings.ToLower(a.F)
	for _, arg := range a.Args {
		if len(collectAggs(arg)) > 0 {
			return AggCall{}, nil, sqlerr.Planf(sqlerr.GroupingError, "aggregate function calls cannot be nested")
		}
	}
	if name == "count" && !a.Distinct && len(a.Args) == 1 {
		if v, ok := a.Args[0].(*test_driver.ValueExpr); ok && v.GetValue() != nil {
			return AggCall{Func: AggCountStar, Type: types.BigIntType, Name: "count"}, nil, nil
		}
	}
	if len(a.Args) != 1 {
		return AggCall{}, nil, sqlerr.Planf(sqlerr.UndefinedFunction, "aggregate %s takes one argument", name)
	}
	arg, err := eb.bind(a.Args[0])
	if err != nil {
		return AggCall{}, nil, err
	}
	t := arg.Type()
	if t.Kind == types.Unknown {
		arg, t = castTo(arg, types.BigIntType), types.BigIntType
	}
	if t.Kind == types.Interval {
		return AggCall{}, nil, sqlerr.Planf(sqlerr.UndefinedFunction, "function %s(interval) does not exist", name)
	}
	call := AggCall{Name: name}
	switch name {
	case "count":
		call.Func, call.Type = AggCount, types.BigIntType
		if a.Distinct {
			call.Func = AggCountDistinct
		}
		return call, arg, nil
	case "min", "max":
		call.Func, call.Type = AggMin, t
		if name == "max" {
			call.Func = AggMax
		}
		return call, arg, nil
	case "sum", "avg":
		if a.Distinct {
			return AggCall{}, nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "%s(DISTINCT ...) is not supported", name)
		}
		call.Func = AggSum
		if name == "avg" {
			call.Func = AggAvg
		}
		switch t.Kind {
		case types.Int, types.BigInt:
			if t.Kind == types.Int {
				arg = castTo(arg, types.BigIntType)
			}
			call.Type = types.BigIntType
			if name == "avg" {
				call.Type = types.DoubleType
			}
		case types.Double:
			call.Type = types.DoubleType
		case types.Decimal:
			call.Type = types.DecimalType(types.MaxDecimalPrecision, t.Scale)
			if name == "avg" {
				call.Type = types.DecimalType(types.MaxDecimalPrecision, min(t.Scale+4, types.MaxDecimalPrecision))
			}
		default:
			return AggCall{}, nil, sqlerr.Planf(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, t.Name())
		}
		return call, arg, nil
	}
	return AggCall{}, nil, sqlerr.Planf(sqlerr.UndefinedFunction, "aggregate function %s does not exist", name)
}

// postBinder binds expressions over the aggregate's output: aggregate
// calls become references to their columns, expressions equal to a GROUP
// BY expression become references to it, and any other column reference
// is a grouping error.
func (ac *aggContext) postBinder(b *binder) *exprBinder {
	out := &scope{cols: make([]scopeCol, len(ac.outSchema))}
	for i, c := range ac.outSchema {
		out.cols[i] = scopeCol{name: c.Name, typ: c.Type}
	}
	plain := b.exprBinder(ac.inScope, "")
	eb := b.exprBinder(out, "SELECT")
	eb.hook = func(n ast.ExprNode) (expr.Expr, bool, error) {
		if a, ok := n.(*ast.AggregateFuncExpr); ok {
			i := ac.aggKeys[a]
			return out.ref(len(ac.groupExprs) + i), true, nil
		}
		if _, ok := n.(*test_driver.ValueExpr); ok {
			return nil, false, nil
		}
		if len(collectAggs(n)) == 0 {
			e, err := plain.bind(n)
			if err == nil {
				for i, g := range ac.groupExprs {
					if sameExpr(g, e) {
						return out.ref(i), true, nil
					}
				}
			}
			if cn, ok := n.(*ast.ColumnNameExpr); ok {
				if err != nil {
					return nil, true, err
				}
				return nil, true, sqlerr.Planf(sqlerr.GroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", cn.Name.Name.O)
			}
		}
		return nil, false, nil
	}
	return eb
}
