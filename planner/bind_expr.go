package planner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// scopeCol is one column visible to name resolution.
type scopeCol struct {
	qual string // table name or alias, lower case
	name string // column name as declared
	typ  types.T
}

// scope is the list of columns an expression may name, in input order.
type scope struct {
	cols []scopeCol
}

func scopeFor(qual string, s types.Schema) *scope {
	sc := &scope{cols: make([]scopeCol, len(s))}
	for i, c := range s {
		sc.cols[i] = scopeCol{qual: qual, name: c.Name, typ: c.Type}
	}
	return sc
}

func (s *scope) concat(o *scope) *scope {
	return &scope{cols: append(append([]scopeCol{}, s.cols...), o.cols...)}
}

// resolve finds the column qual.name (qual may be empty).
func (s *scope) resolve(qual, name string) (int, error) {
	found := -1
	for i, c := range s.cols {
		if !strings.EqualFold(c.name, name) || (qual != "" && !strings.EqualFold(c.qual, qual)) {
			continue
		}
		if found >= 0 {
			return 0, sqlerr.Planf(sqlerr.AmbiguousColumn, "column reference %q is ambiguous", name)
		}
		found = i
	}
	if found < 0 {
		full := name
		if qual != "" {
			full = qual + "." + name
		}
		return 0, sqlerr.Planf(sqlerr.UndefinedColumn, "column %q does not exist", full)
	}
	return found, nil
}

func (s *scope) ref(i int) *expr.ColumnRef {
	return &expr.ColumnRef{Index: i, Name: s.cols[i].name, T: s.cols[i].typ}
}

// exprBinder turns TiDB expression ASTs into bound expressions.
type exprBinder struct {
	sc *scope
	// hook, when set, is offered every node first; it returns handled=false
	// to let normal binding proceed. Aggregate binding uses it.
	hook func(n ast.ExprNode) (e expr.Expr, handled bool, err error)
	// params collects the types inferred for placeholders, by ordinal.
	params *[]types.T
	// what names the clause for error messages ("WHERE", "SELECT"...).
	what string
}

func (b *exprBinder) bind(n ast.ExprNode) (expr.Expr, error) {
	if b.hook != nil {
		if e, ok, err := b.hook(n); ok || err != nil {
			return e, err
		}
	}
	switch x := n.(type) {
	case *ast.ParenthesesExpr:
		return b.bind(x.Expr)
	case *ast.ColumnNameExpr:
		i, err := b.sc.resolve(x.Name.Table.L, x.Name.Name.O)
		if err != nil {
			return nil, err
		}
		return b.sc.ref(i), nil
	case *test_driver.ValueExpr:
		return literalOf(x)
	case *test_driver.ParamMarkerExpr:
		return b.param(x.Order+1, types.NullType), nil
	case *ast.BinaryOperationExpr:
		return b.binary(x)
	case *ast.UnaryOperationExpr:
		return b.unary(x)
	case *ast.IsNullExpr:
		a, err := b.bind(x.Expr)
		if err != nil {
			return nil, err
		}
		f := expr.IsNull
		if x.Not {
			f = expr.IsNotNull
		}
		return &expr.Call{Func: f, Args: []expr.Expr{a}, T: types.BoolType}, nil
	case *ast.IsTruthExpr:
		a, err := b.boolArg(x.Expr, "IS TRUE")
		if err != nil {
			return nil, err
		}
		cond := a
		if x.True == 0 {
			cond = &expr.Call{Func: expr.Not, Args: []expr.Expr{a}, T: types.BoolType}
		}
		res := &expr.Case{Whens: []expr.When{{Cond: cond, Result: boolLit(!x.Not)}}, Else: boolLit(x.Not), T: types.BoolType}
		return res, nil
	case *ast.BetweenExpr:
		v, err := b.bind(x.Expr)
		if err != nil {
			return nil, err
		}
		lo, err := b.bind(x.Left)
		if err != nil {
			return nil, err
		}
		hi, err := b.bind(x.Right)
		if err != nil {
			return nil, err
		}
		ge, err := b.compare(expr.Ge, v, lo)
		if err != nil {
			return nil, err
		}
		le, err := b.compare(expr.Le, v, hi)
		if err != nil {
			return nil, err
		}
		var res expr.Expr = &expr.Call{Func: expr.And, Args: []expr.Expr{ge, le}, T: types.BoolType}
		if x.Not {
			res = &expr.Call{Func: expr.Not, Args: []expr.Expr{res}, T: types.BoolType}
		}
		return res, nil
	case *ast.PatternInExpr:
		return b.in(x)
	case *ast.PatternLikeOrIlikeExpr:
		return b.like(x)
	case *ast.CaseExpr:
		return b.caseExpr(x)
	case *ast.FuncCastExpr:
		a, err := b.bind(x.Expr)
		if err != nil {
			return nil, err
		}
		t, err := parser.ConvertFieldType(x.Tp)
		if err != nil {
			return nil, err
		}
		if a.Type().Kind == types.Unknown {
			return &expr.Literal{Value: types.NewNull(t), T: t}, nil
		}
		if !castable(a.Type(), t) {
			return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "cannot cast type %s to %s", a.Type(), t)
		}
		return &expr.Cast{Arg: a, To: t}, nil
	case *ast.FuncCallExpr:
		return b.call(x)
	case *ast.AggregateFuncExpr:
		return nil, sqlerr.Planf(sqlerr.GroupingError, "aggregate function %s is not allowed in %s", strings.ToUpper(x.F), b.clause())
	case *ast.SubqueryExpr, *ast.ExistsSubqueryExpr, *ast.CompareSubqueryExpr:
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "subqueries in expressions are not supported")
	case *ast.WindowFuncExpr:
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "window function %s is not supported here", strings.ToUpper(x.Name))
	case *ast.DefaultExpr:
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "DEFAULT is not supported")
	}
	return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "expression %s is not supported", restore(n))
}

func (b *exprBinder) clause() string {
	if b.what == "" {
		return "this context"
	}
	return b.what
}

func (b *exprBinder) param(ordinal int, t types.T) expr.Expr {
	if b.params != nil {
		for len(*b.params) < ordinal {
			*b.params = append(*b.params, types.NullType)
		}
		if t.Kind != types.Unknown {
			(*b.params)[ordinal-1] = t
		}
		t = (*b.params)[ordinal-1]
	}
	return &expr.Param{Ordinal: ordinal, T: t}
}

// typeParam gives an untyped placeholder the type its context expects.
func (b *exprBinder) typeParam(e expr.Expr, t types.T) expr.Expr {
	if p, ok := e.(*expr.Param); ok && p.T.Kind == types.Unknown {
		return b.param(p.Ordinal, t)
	}
	return e
}

func boolLit(v bool) *expr.Literal { return &expr.Literal{Value: types.NewBool(v), T: types.BoolType} }

// literalOf converts a parsed constant.
func literalOf(v *test_driver.ValueExpr) (expr.Expr, error) {
	switch val := v.GetValue().(type) {
	case nil:
		return &expr.Literal{Value: types.NullDatum, T: types.NullType}, nil
	case int64:
		if mysql.HasIsBooleanFlag(v.Type.GetFlag()) {
			return boolLit(val != 0), nil
		}
		return &expr.Literal{Value: types.NewBigInt(val), T: types.BigIntType}, nil
	case uint64:
		return decimalLiteral(strconv.FormatUint(val, 10))
	case float64:
		return &expr.Literal{Value: types.NewDouble(val), T: types.DoubleType}, nil
	case string:
		return &expr.Literal{Value: types.NewText(val), T: types.TextType}, nil
	case *test_driver.MyDecimal:
		return decimalLiteral(val.String())
	}
	return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "literal %v of type %T is not supported", v.GetValue(), v.GetValue())
}

func decimalLiteral(s string) (expr.Expr, error) {
	digits := strings.TrimLeft(strings.TrimPrefix(s, "-"), "0")
	scale := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		scale = len(s) - i - 1
	}
	prec := len(strings.ReplaceAll(digits, ".", ""))
	if prec < scale+1 {
		prec = scale + 1
	}
	if prec > types.MaxDecimalPrecision {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, sqlerr.Planf(sqlerr.NumericOutOfRange, "numeric literal %s is out of range", s)
		}
		return &expr.Literal{Value: types.NewDouble(f), T: types.DoubleType}, nil
	}
	n, err := decimal128.FromString(s, int32(prec), int32(scale))
	if err != nil {
		return nil, sqlerr.Planf(sqlerr.InvalidTextRep, "invalid numeric literal %s: %v", s, err)
	}
	t := types.DecimalType(int32(prec), int32(scale))
	return &expr.Literal{Value: types.NewDecimal(n, int32(scale)), T: t}, nil
}

func (b *exprBinder) binary(x *ast.BinaryOperationExpr) (expr.Expr, error) {
	l, err := b.bind(x.L)
	if err != nil {
		return nil, err
	}
	r, err := b.bind(x.R)
	if err != nil {
		return nil, err
	}
	switch x.Op {
	case opcode.LogicAnd, opcode.LogicOr:
		if l, err = b.asBool(l, strings.ToUpper(x.Op.String())); err != nil {
			return nil, err
		}
		if r, err = b.asBool(r, strings.ToUpper(x.Op.String())); err != nil {
			return nil, err
		}
		f := expr.And
		if x.Op == opcode.LogicOr {
			f = expr.Or
		}
		return &expr.Call{Func: f, Args: []expr.Expr{l, r}, T: types.BoolType}, nil
	case opcode.EQ:
		return b.compare(expr.Eq, l, r)
	case opcode.NE:
		return b.compare(expr.Ne, l, r)
	case opcode.LT:
		return b.compare(expr.Lt, l, r)
	case opcode.LE:
		return b.compare(expr.Le, l, r)
	case opcode.GT:
		return b.compare(expr.Gt, l, r)
	case opcode.GE:
		return b.compare(expr.Ge, l, r)
	case opcode.Plus:
		return b.arith(expr.Add, l, r)
	case opcode.Minus:
		return b.arith(expr.Sub, l, r)
	case opcode.Mul:
		return b.arith(expr.Mul, l, r)
	case opcode.Div:
		return b.arith(expr.Div, l, r)
	case opcode.IntDiv:
		return b.arith(expr.IntDiv, l, r)
	case opcode.Mod:
		return b.arith(expr.Mod, l, r)
	}
	return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "operator %s is not supported", x.Op)
}

func (b *exprBinder) unary(x *ast.UnaryOperationExpr) (expr.Expr, error) {
	a, err := b.bind(x.V)
	if err != nil {
		return nil, err
	}
	switch x.Op {
	case opcode.Plus:
		return a, nil
	case opcode.Minus:
		if lit, ok := a.(*expr.Literal); ok && !lit.Value.Null {
			switch lit.T.Kind {
			case types.BigInt:
				if lit.Value.I != -1<<63 {
					return &expr.Literal{Value: types.NewBigInt(-lit.Value.I), T: lit.T}, nil
				}
			case types.Double:
				return &expr.Literal{Value: types.NewDouble(-lit.Value.F), T: lit.T}, nil
			case types.Decimal:
				return &expr.Literal{Value: types.NewDecimal(lit.Value.Dec.Negate(), lit.Value.Scale), T: lit.T}, nil
			}
		}
		a = b.typeParam(a, types.BigIntType)
		t := a.Type()
		switch t.Kind {
		case types.Int, types.Boolean:
			a, t = castTo(a, types.BigIntType), types.BigIntType
		case types.Varchar, types.Unknown:
			a, t = castTo(a, types.DoubleType), types.DoubleType
		case types.BigInt, types.Double, types.Decimal:
		default:
			return nil, sqlerr.Planf(sqlerr.UndefinedFunction, "operator does not exist: - %s", t.Name())
		}
		return &expr.Call{Func: expr.Neg, Args: []expr.Expr{a}, T: t}, nil
	case opcode.Not, opcode.Not2:
		a, err = b.asBool(a, "NOT")
		if err != nil {
			return nil, err
		}
		return &expr.Call{Func: expr.Not, Args: []expr.Expr{a}, T: types.BoolType}, nil
	}
	return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "unary operator %s is not supported", x.Op)
}

// asBool converts a condition to BOOLEAN the way MySQL does: numbers are
// true when non-zero. Other types are an error.
func (b *exprBinder) asBool(e expr.Expr, what string) (expr.Expr, error) {
	e = b.typeParam(e, types.BoolType)
	switch e.Type().Kind {
	case types.Boolean:
		return e, nil
	case types.Unknown:
		return castTo(e, types.BoolType), nil
	case types.Int, types.BigInt:
		return &expr.Cast{Arg: e, To: types.BoolType}, nil
	case types.Double, types.Decimal:
		return &expr.Call{Func: expr.Ne, Args: []expr.Expr{e, castTo(&expr.Literal{Value: types.NewBigInt(0), T: types.BigIntType}, e.Type())}, T: types.BoolType}, nil
	}
	return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "argument of %s must be type boolean, not type %s", what, e.Type().Name())
}

func (b *exprBinder) boolArg(n ast.ExprNode, what string) (expr.Expr, error) {
	e, err := b.bind(n)
	if err != nil {
		return nil, err
	}
	return b.asBool(e, what)
}

func (b *exprBinder) compare(f expr.Func, l, r expr.Expr) (expr.Expr, error) {
	l = b.typeParam(l, r.Type())
	r = b.typeParam(r, l.Type())
	t, ok := comparisonType(l.Type(), r.Type())
	if !ok {
		return nil, sqlerr.Planf(sqlerr.UndefinedFunction, "operator does not exist: %s %s %s", l.Type().Name(), f.Info().Infix, r.Type().Name())
	}
	return &expr.Call{Func: f, Args: []expr.Expr{castTo(l, t), castTo(r, t)}, T: types.BoolType}, nil
}

func (b *exprBinder) arith(f expr.Func, l, r expr.Expr) (expr.Expr, error) {
	l = b.typeParam(l, r.Type())
	r = b.typeParam(r, l.Type())
	if lt, rt := l.Type(), r.Type(); lt.Kind == types.Interval || rt.Kind == types.Interval {
		return b.intervalArith(f, l, r)
	}
	operand, result, err := arithmeticType(f, l.Type(), r.Type())
	if err != nil {
		return nil, err
	}
	if operand.Kind == types.Decimal {
		// Decimal arguments keep their own scale; integers become decimals.
		if !(l.Type().Kind == types.Decimal) {
			l = castTo(l, decimalFor(numericOf(l.Type())))
		}
		if !(r.Type().Kind == types.Decimal) {
			r = castTo(r, decimalFor(numericOf(r.Type())))
		}
	} else {
		l, r = castTo(l, operand), castTo(r, operand)
	}
	return &expr.Call{Func: f, Args: []expr.Expr{l, r}, T: result}, nil
}

func numericOf(t types.T) types.T {
	switch t.Kind {
	case types.Int, types.Boolean:
		return types.BigIntType
	case types.Varchar, types.Unknown:
		return types.DoubleType
	}
	return t
}

func (b *exprBinder) intervalArith(f expr.Func, l, r expr.Expr) (expr.Expr, error) {
	if l.Type().Kind == types.Interval && f == expr.Add {
		l, r = r, l
	}
	if r.Type().Kind != types.Interval || (f != expr.Add && f != expr.Sub) {
		return nil, sqlerr.Planf(sqlerr.UndefinedFunction, "operator does not exist: %s %s %s", l.Type().Name(), f.Info().Infix, r.Type().Name())
	}
	g := expr.AddInterval
	if f == expr.Sub {
		g = expr.SubInterval
	}
	return b.dateArith(g, l, r)
}

// dateArith builds ts +/- interval.
func (b *exprBinder) dateArith(f expr.Func, ts, iv expr.Expr) (expr.Expr, error) {
	t := ts.Type()
	switch t.Kind {
	case types.Varchar, types.Unknown:
		ts, t = castTo(ts, types.TimestampType(6)), types.TimestampType(6)
	case types.Date:
		lit, _ := iv.(*expr.Literal)
		if lit == nil || lit.Value.I != 0 {
			ts, t = castTo(ts, types.TimestampType(0)), types.TimestampType(0)
		}
	case types.Timestamp:
	default:
		return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "cannot add an interval to type %s", t.Name())
	}
	if lit, ok := iv.(*expr.Literal); ok && t.Kind == types.Timestamp && lit.Value.I%1000000 != 0 {
		t = types.TimestampType(6)
	}
	return &expr.Call{Func: f, Args: []expr.Expr{ts, iv}, T: t}, nil
}

func (b *exprBinder) in(x *ast.PatternInExpr) (expr.Expr, error) {
	if x.Sel != nil {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "IN (subquery) is not supported")
	}
	v, err := b.bind(x.Expr)
	if err != nil {
		return nil, err
	}
	items := make([]expr.Expr, len(x.List))
	t := v.Type()
	for i, n := range x.List {
		if items[i], err = b.bind(n); err != nil {
			return nil, err
		}
		nt, ok := comparisonType(t, items[i].Type())
		if !ok {
			return nil, sqlerr.Planf(sqlerr.UndefinedFunction, "operator does not exist: %s = %s", t.Name(), items[i].Type().Name())
		}
		t = nt
	}
	args := make([]expr.Expr, 0, len(items)+1)
	args = append(args, castTo(b.typeParam(v, t), t))
	for _, it := range items {
		args = append(args, castTo(b.typeParam(it, t), t))
	}
	var res expr.Expr = &expr.Call{Func: expr.In, Args: args, T: types.BoolType}
	if x.Not {
		res = &expr.Call{Func: expr.Not, Args: []expr.Expr{res}, T: types.BoolType}
	}
	return res, nil
}

func (b *exprBinder) like(x *ast.PatternLikeOrIlikeExpr) (expr.Expr, error) {
	v, err := b.bind(x.Expr)
	if err != nil {
		return nil, err
	}
	p, err := b.bind(x.Pattern)
	if err != nil {
		return nil, err
	}
	v, p = castTo(b.typeParam(v, types.TextType), types.TextType), castTo(b.typeParam(p, types.TextType), types.TextType)
	if !x.IsLike { // ILIKE
		v = &expr.Call{Func: expr.Lower, Args: []expr.Expr{v}, T: types.TextType}
		p = &expr.Call{Func: expr.Lower, Args: []expr.Expr{p}, T: types.TextType}
	}
	args := []expr.Expr{v, p}
	if x.Escape != 0 && x.Escape != '\\' {
		args = append(args, &expr.Literal{Value: types.NewText(string([]byte{x.Escape})), T: types.TextType})
	}
	var res expr.Expr = &expr.Call{Func: expr.Like, Args: args, T: types.BoolType}
	if x.Not {
		res = &expr.Call{Func: expr.Not, Args: []expr.Expr{res}, T: types.BoolType}
	}
	return res, nil
}

func (b *exprBinder) caseExpr(x *ast.CaseExpr) (expr.Expr, error) {
	var operand expr.Expr
	var err error
	if x.Value != nil {
		if operand, err = b.bind(x.Value); err != nil {
			return nil, err
		}
	}
	whens := make([]expr.When, len(x.WhenClauses))
	t := types.NullType
	for i, w := range x.WhenClauses {
		var cond expr.Expr
		if operand != nil {
			v, err := b.bind(w.Expr)
			if err != nil {
				return nil, err
			}
			if cond, err = b.compare(expr.Eq, operand, v); err != nil {
				return nil, err
			}
		} else if cond, err = b.boolArg(w.Expr, "CASE/WHEN"); err != nil {
			return nil, err
		}
		res, err := b.bind(w.Result)
		if err != nil {
			return nil, err
		}
		nt, ok := resultType(t, res.Type())
		if !ok {
			return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "CASE types %s and %s cannot be matched", t.Name(), res.Type().Name())
		}
		t = nt
		whens[i] = expr.When{Cond: cond, Result: res}
	}
	var els expr.Expr
	if x.ElseClause != nil {
		if els, err = b.bind(x.ElseClause); err != nil {
			return nil, err
		}
		nt, ok := resultType(t, els.Type())
		if !ok {
			return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "CASE types %s and %s cannot be matched", t.Name(), els.Type().Name())
		}
		t = nt
	}
	for i := range whens {
		whens[i].Result = castTo(whens[i].Result, t)
	}
	if els != nil {
		els = castTo(els, t)
	}
	return &expr.Case{Whens: whens, Else: els, T: t}, nil
}

func restore(n ast.Node) string {
	var sb strings.Builder
	if err := n.Restore(newRestoreCtx(&sb)); err != nil {
		return fmt.Sprintf("%T", n)
	}
	return sb.String()
}
