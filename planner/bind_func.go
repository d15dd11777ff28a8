package planner

import (
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

func newRestoreCtx(sb *strings.Builder) *format.RestoreCtx {
	return format.NewRestoreCtx(format.DefaultRestoreFlags, sb)
}

// castable reports whether CAST(from AS to) is defined.
func castable(from, to types.T) bool {
	if from.Kind == types.Interval || to.Kind == types.Interval {
		return from.Kind == to.Kind
	}
	if from.Kind == types.Varchar || to.Kind == types.Varchar || from.Kind == types.Unknown {
		return true
	}
	if from.IsTemporal() && to.IsTemporal() {
		return true
	}
	isNum := func(t types.T) bool { return t.IsNumeric() || t.Kind == types.Boolean }
	return isNum(from) && isNum(to)
}

type funcSig struct {
	f       expr.Func
	minArgs int
	maxArgs int // -1: variadic
}

var scalarFuncs = map[string]funcSig{
	"abs": {expr.Abs, 1, 1}, "round": {expr.Round, 1, 2}, "floor": {expr.Floor, 1, 1},
	"ceil": {expr.Ceil, 1, 1}, "ceiling": {expr.Ceil, 1, 1}, "sqrt": {expr.Sqrt, 1, 1},
	"ln": {expr.Ln, 1, 1}, "exp": {expr.Exp, 1, 1}, "pow": {expr.Pow, 2, 2}, "power": {expr.Pow, 2, 2},
	"lower": {expr.Lower, 1, 1}, "lcase": {expr.Lower, 1, 1}, "upper": {expr.Upper, 1, 1}, "ucase": {expr.Upper, 1, 1},
	"concat": {expr.Concat, 1, -1}, "length": {expr.Length, 1, 1}, "char_length": {expr.Length, 1, 1},
	"character_length": {expr.Length, 1, 1},
	"coalesce":         {expr.Coalesce, 1, -1}, "ifnull": {expr.Coalesce, 2, 2},
	"greatest": {expr.Greatest, 2, -1}, "least": {expr.Least, 2, -1},
}

func (b *exprBinder) call(x *ast.FuncCallExpr) (expr.Expr, error) {
	name := x.FnName.L
	switch name {
	case ast.TimestampLiteral, ast.DateLiteral, ast.TimeLiteral:
		return b.typedLiteral(name, x.Args)
	case "date_add", "adddate", "date_sub", "subdate":
		return b.dateAddCall(name, x.Args)
	case "extract":
		return b.extract(x.Args)
	case "date_trunc":
		return b.dateTrunc(x.Args)
	case "now", "current_timestamp", "localtimestamp", "sysdate":
		if len(x.Args) > 1 {
			return nil, argCountError(name, len(x.Args))
		}
		return &expr.Call{Func: expr.Now, T: types.TimestampType(6)}, nil
	case "if":
		if len(x.Args) != 3 {
			return nil, argCountError(name, len(x.Args))
		}
		return b.caseExpr(&ast.CaseExpr{WhenClauses: []*ast.WhenClause{{Expr: x.Args[0], Result: x.Args[1]}}, ElseClause: x.Args[2]})
	case "nullif":
		if len(x.Args) != 2 {
			return nil, argCountError(name, len(x.Args))
		}
		return b.caseExpr(&ast.CaseExpr{
			WhenClauses: []*ast.WhenClause{{Expr: &ast.BinaryOperationExpr{Op: opcode.EQ, L: x.Args[0], R: x.Args[1]}, Result: ast.NewValueExpr(nil, "", "")}},
			ElseClause:  x.Args[0]})
	}
	sig, ok := scalarFuncs[name]
	if !ok {
		return nil, sqlerr.Planf(sqlerr.UndefinedFunction, "function %s does not exist", name)
	}
	if len(x.Args) < sig.minArgs || (sig.maxArgs >= 0 && len(x.Args) > sig.maxArgs) {
		return nil, argCountError(name, len(x.Args))
	}
	args := make([]expr.Expr, len(x.Args))
	for i, a := range x.Args {
		e, err := b.bind(a)
		if err != nil {
			return nil, err
		}
		args[i] = e
	}
	switch sig.f {
	case expr.Abs, expr.Floor, expr.Ceil, expr.Round:
		a := castTo(b.typeParam(args[0], types.DoubleType), numericOf(args[0].Type()))
		if !a.Type().IsNumeric() {
			return nil, sqlerr.Planf(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, a.Type().Name())
		}
		t := a.Type()
		if (sig.f == expr.Floor || sig.f == expr.Ceil) && t.Kind == types.Decimal {
			t = types.DecimalType(min(t.Precision-t.Scale+1, types.MaxDecimalPrecision), 0)
		}
		out := []expr.Expr{a}
		if len(args) == 2 {
			d := castTo(b.typeParam(args[1], types.BigIntType), types.BigIntType)
			if !args[1].Type().IsInteger() && args[1].Type().Kind != types.Unknown {
				return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "ROUND digits must be an integer, not %s", args[1].Type().Name())
			}
			out = append(out, d)
		}
		if sig.f == expr.Round && t.Kind == types.Decimal {
			t = roundDecimalType(t, out)
		}
		return &expr.Call{Func: sig.f, Args: out, T: t}, nil
	case expr.Sqrt, expr.Ln, expr.Exp, expr.Pow:
		for i := range args {
			args[i] = b.typeParam(args[i], types.DoubleType)
			if !args[i].Type().IsNumeric() && args[i].Type().Kind != types.Unknown && args[i].Type().Kind != types.Varchar {
				return nil, sqlerr.Planf(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, args[i].Type().Name())
			}
			args[i] = castTo(args[i], types.DoubleType)
		}
		return &expr.Call{Func: sig.f, Args: args, T: types.DoubleType}, nil
	case expr.Lower, expr.Upper, expr.Concat:
		for i := range args {
			args[i] = castTo(b.typeParam(args[i], types.TextType), types.TextType)
		}
		return &expr.Call{Func: sig.f, Args: args, T: types.TextType}, nil
	case expr.Length:
		return &expr.Call{Func: sig.f, Args: []expr.Expr{castTo(b.typeParam(args[0], types.TextType), types.TextType)}, T: types.BigIntType}, nil
	case expr.Coalesce, expr.Greatest, expr.Least:
		t := types.NullType
		for _, a := range args {
			var ok bool
			if sig.f == expr.Coalesce {
				t, ok = resultType(t, a.Type())
			} else {
				t, ok = comparisonType(t, a.Type())
			}
			if !ok {
				return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "%s types %s and %s cannot be matched", strings.ToUpper(name), t.Name(), a.Type().Name())
			}
		}
		if t.Kind == types.Int {
			t = types.BigIntType
		}
		for i := range args {
			args[i] = castTo(b.typeParam(args[i], t), t)
		}
		return &expr.Call{Func: sig.f, Args: args, T: t}, nil
	}
	return nil, sqlerr.Planf(sqlerr.InternalError, "function %s has no binding", name)
}

// roundDecimalType is the type of ROUND(x [, d]) for x of DECIMAL type t,
// as in MySQL and Postgres: as many decimals as asked for (none without
// d; d < 0 also gives none), never more than x has, and one more integer
// digit for the carry. A non-constant d keeps x's scale.
func roundDecimalType(t types.T, args []expr.Expr) types.T {
	scale := int64(0)
	if len(args) == 2 {
		lit, ok := args[1].(*expr.Literal)
		if !ok || lit.Value.Null {
			return t
		}
		scale = min(max(lit.Value.I, 0), int64(t.Scale))
	}
	p := int64(t.Precision-t.Scale) + 1 + scale
	return types.DecimalType(int32(min(p, types.MaxDecimalPrecision)), int32(scale))
}

func argCountError(name string, n int) error {
	return sqlerr.Planf(sqlerr.UndefinedFunction, "function %s does not take %d arguments", name, n)
}

func (b *exprBinder) typedLiteral(name string, args []ast.ExprNode) (expr.Expr, error) {
	if len(args) != 1 {
		return nil, argCountError(name, len(args))
	}
	a, err := b.bind(args[0])
	if err != nil {
		return nil, err
	}
	switch name {
	case ast.DateLiteral:
		return &expr.Cast{Arg: a, To: types.DateType}, nil
	case ast.TimestampLiteral:
		p := int32(0)
		if lit, ok := a.(*expr.Literal); ok {
			if i := strings.IndexByte(lit.Value.S, '.'); i >= 0 {
				p = int32(min(len(lit.Value.S)-i-1, 6))
			}
		}
		return &expr.Cast{Arg: a, To: types.TimestampType(p)}, nil
	}
	return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "type TIME is not supported")
}

// intervalLiteral turns the INTERVAL value and unit TiDB parsed into an
// INTERVAL constant.
func (b *exprBinder) intervalLiteral(v ast.ExprNode, unitNode ast.ExprNode) (expr.Expr, error) {
	unit, ok := unitNode.(*ast.TimeUnitExpr)
	if !ok {
		return nil, sqlerr.Planf(sqlerr.SyntaxError, "INTERVAL needs a unit")
	}
	e, err := b.bind(v)
	if err != nil {
		return nil, err
	}
	lit, ok := e.(*expr.Literal)
	if !ok || lit.Value.Null {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "INTERVAL value must be a constant")
	}
	d, err := makeInterval(lit.Value, unit.Unit)
	if err != nil {
		return nil, err
	}
	return &expr.Literal{Value: d, T: types.IntervalType}, nil
}

// makeInterval builds an interval of n units.
func makeInterval(v types.Datum, unit ast.TimeUnitType) (types.Datum, error) {
	var n float64
	switch v.Kind {
	case types.BigInt, types.Int:
		n = float64(v.I)
	case types.Double, types.Decimal:
		n = v.Float()
	case types.Varchar:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.S), 64)
		if err != nil {
			return types.Datum{}, sqlerr.Planf(sqlerr.InvalidDatetime, "invalid interval value %q for unit %s", v.S, unit)
		}
		n = f
	default:
		return types.Datum{}, sqlerr.Planf(sqlerr.DatatypeMismatch, "invalid interval value of type %s", v.Kind)
	}
	us := func(scale float64) types.Datum { return types.NewInterval(0, 0, int64(n*scale)) }
	switch unit {
	case ast.TimeUnitMicrosecond:
		return us(1), nil
	case ast.TimeUnitSecond:
		return us(1e6), nil
	case ast.TimeUnitMinute:
		return us(60e6), nil
	case ast.TimeUnitHour:
		return us(3600e6), nil
	case ast.TimeUnitDay:
		return types.NewInterval(0, int32(n), 0), nil
	case ast.TimeUnitWeek:
		return types.NewInterval(0, int32(n*7), 0), nil
	case ast.TimeUnitMonth:
		return types.NewInterval(int32(n), 0, 0), nil
	case ast.TimeUnitQuarter:
		return types.NewInterval(int32(n*3), 0, 0), nil
	case ast.TimeUnitYear:
		return types.NewInterval(int32(n*12), 0, 0), nil
	}
	return types.Datum{}, sqlerr.Planf(sqlerr.FeatureNotSupported, "interval unit %s is not supported", unit)
}

func (b *exprBinder) dateAddCall(name string, args []ast.ExprNode) (expr.Expr, error) {
	if len(args) != 3 {
		return nil, argCountError(name, len(args))
	}
	ts, err := b.bind(args[0])
	if err != nil {
		return nil, err
	}
	iv, err := b.intervalLiteral(args[1], args[2])
	if err != nil {
		return nil, err
	}
	f := expr.AddInterval
	if name == "date_sub" || name == "subdate" {
		f = expr.SubInterval
	}
	return b.dateArith(f, b.typeParam(ts, types.TimestampType(6)), iv)
}

var extractUnits = map[ast.TimeUnitType]string{
	ast.TimeUnitYear: "YEAR", ast.TimeUnitQuarter: "QUARTER", ast.TimeUnitMonth: "MONTH", ast.TimeUnitWeek: "WEEK",
	ast.TimeUnitDay: "DAY", ast.TimeUnitHour: "HOUR", ast.TimeUnitMinute: "MINUTE", ast.TimeUnitSecond: "SECOND",
	ast.TimeUnitMicrosecond: "MICROSECOND",
}

func (b *exprBinder) extract(args []ast.ExprNode) (expr.Expr, error) {
	if len(args) != 2 {
		return nil, argCountError("extract", len(args))
	}
	unit := ""
	switch u := args[0].(type) {
	case *ast.TimeUnitExpr:
		unit = extractUnits[u.Unit]
	case *test_driver.ValueExpr:
		unit = strings.ToUpper(u.GetString())
	}
	switch unit {
	case "YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MICROSECOND", "DOW", "DOY", "EPOCH":
	default:
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "EXTRACT unit %s is not supported", restore(args[0]))
	}
	ts, err := b.bind(args[1])
	if err != nil {
		return nil, err
	}
	ts = b.typeParam(ts, types.TimestampType(6))
	switch ts.Type().Kind {
	case types.Timestamp, types.Date:
	case types.Varchar:
		ts = castTo(ts, types.TimestampType(6))
	default:
		return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "EXTRACT needs a timestamp or date, not %s", ts.Type().Name())
	}
	u := &expr.Literal{Value: types.NewText(unit), T: types.TextType}
	return &expr.Call{Func: expr.Extract, Args: []expr.Expr{u, ts}, T: types.BigIntType}, nil
}

func (b *exprBinder) dateTrunc(args []ast.ExprNode) (expr.Expr, error) {
	if len(args) != 2 {
		return nil, argCountError("date_trunc", len(args))
	}
	u, err := b.bind(args[0])
	if err != nil {
		return nil, err
	}
	lit, ok := u.(*expr.Literal)
	if !ok || lit.T.Kind != types.Varchar {
		return nil, sqlerr.Planf(sqlerr.FeatureNotSupported, "DATE_TRUNC unit must be a string constant")
	}
	unit := strings.ToLower(lit.Value.S)
	switch unit {
	case "year", "quarter", "month", "week", "day", "hour", "minute", "second":
	default:
		return nil, sqlerr.Planf(sqlerr.InvalidParameter, "DATE_TRUNC unit %q is not recognized", lit.Value.S)
	}
	ts, err := b.bind(args[1])
	if err != nil {
		return nil, err
	}
	ts = b.typeParam(ts, types.TimestampType(6))
	t := ts.Type()
	switch t.Kind {
	case types.Timestamp:
	case types.Date, types.Varchar:
		t = types.TimestampType(6)
		if ts.Type().Kind == types.Date {
			t = types.TimestampType(0)
		}
		ts = castTo(ts, t)
	default:
		return nil, sqlerr.Planf(sqlerr.DatatypeMismatch, "DATE_TRUNC needs a timestamp, not %s", t.Name())
	}
	return &expr.Call{Func: expr.DateTrunc, Args: []expr.Expr{&expr.Literal{Value: types.NewText(unit), T: types.TextType}, ts}, T: t}, nil
}
