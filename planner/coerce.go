package planner

import (
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// castTo returns e converted to t, adding a Cast only when the types differ.
func castTo(e expr.Expr, t types.T) expr.Expr {
	if e.Type() == t {
		return e
	}
	if lit, ok := e.(*expr.Literal); ok && lit.Value.Null {
		return &expr.Literal{Value: types.NewNull(t), T: t}
	}
	return &expr.Cast{Arg: e, To: t}
}

// comparisonType is the type both sides of a comparison (or the items of
// IN, COALESCE, CASE arms...) are converted to, following MySQL: numbers
// compare as numbers, strings against numbers as DOUBLE, strings against
// temporal values as that temporal type.
func comparisonType(a, b types.T) (types.T, bool) {
	if a.Kind == types.Unknown {
		return b, true
	}
	if b.Kind == types.Unknown {
		return a, true
	}
	if a.Kind == b.Kind {
		switch a.Kind {
		case types.Decimal:
			return widerDecimal(a, b), true
		case types.Varchar:
			return types.TextType, true
		case types.Timestamp:
			return types.TimestampType(max(a.Precision, b.Precision)), true
		}
		return a, true
	}
	rank := func(t types.T) int {
		switch t.Kind {
		case types.Boolean:
			return 0
		case types.Int:
			return 1
		case types.BigInt:
			return 2
		case types.Decimal:
			return 3
		case types.Double:
			return 4
		}
		return -1
	}
	ra, rb := rank(a), rank(b)
	if ra >= 0 && rb >= 0 {
		hi, lo := a, b
		if rb > ra {
			hi, lo = b, a
		}
		switch hi.Kind {
		case types.Decimal:
			return widerDecimal(hi, decimalFor(lo)), true
		case types.Boolean:
			return types.BoolType, true
		case types.Int:
			if lo.Kind == types.Boolean {
				return types.BigIntType, true
			}
		}
		if hi.Kind == types.Int {
			return types.BigIntType, true
		}
		return hi, true
	}
	// Strings convert to the other side's type.
	if a.Kind == types.Varchar {
		a, b = b, a
	}
	if b.Kind == types.Varchar {
		switch a.Kind {
		case types.Timestamp, types.Date, types.Boolean:
			return a, true
		case types.Int, types.BigInt, types.Double, types.Decimal:
			return types.DoubleType, true
		}
	}
	if a.IsTemporal() && b.IsTemporal() {
		return types.TimestampType(6), true
	}
	return types.T{}, false
}

// resultType is the type of a CASE, COALESCE or GREATEST over values of
// types a and b: like comparisonType, except that mixing strings with
// other types gives a string.
func resultType(a, b types.T) (types.T, bool) {
	if (a.Kind == types.Varchar) != (b.Kind == types.Varchar) && a.Kind != types.Unknown && b.Kind != types.Unknown {
		return types.TextType, true
	}
	return comparisonType(a, b)
}

func decimalFor(t types.T) types.T {
	switch t.Kind {
	case types.Boolean:
		return types.DecimalType(1, 0)
	case types.Int:
		return types.DecimalType(10, 0)
	case types.BigInt:
		return types.DecimalType(19, 0)
	}
	return t
}

func widerDecimal(a, b types.T) types.T {
	s := max(a.Scale, b.Scale)
	p := max(a.Precision-a.Scale, b.Precision-b.Scale) + s
	return types.DecimalType(min(p, types.MaxDecimalPrecision), s)
}

// arithmeticType returns the operand type and result type of a binary
// arithmetic operator over a and b.
func arithmeticType(f expr.Func, a, b types.T) (operand, result types.T, err error) {
	num := func(t types.T) types.T {
		switch t.Kind {
		case types.Varchar, types.Unknown:
			return types.DoubleType
		case types.Int, types.Boolean:
			return types.BigIntType
		}
		return t
	}
	if !isArithmetic(a) || !isArithmetic(b) {
		return types.T{}, types.T{}, sqlerr.Planf(sqlerr.UndefinedFunction, "operator does not exist: %s %s %s", a.Name(), f.Info().Infix, b.Name())
	}
	a, b = num(a), num(b)
	switch {
	case a.Kind == types.Double || b.Kind == types.Double:
		return types.DoubleType, types.DoubleType, nil
	case a.Kind == types.Decimal || b.Kind == types.Decimal:
		da, db := decimalFor(a), decimalFor(b)
		switch f {
		case expr.Mul:
			s := min(da.Scale+db.Scale, types.MaxDecimalPrecision)
			return widerDecimal(da, db), types.DecimalType(min(da.Precision+db.Precision, types.MaxDecimalPrecision), s), nil
		case expr.Div:
			s := min(da.Scale+4, types.MaxDecimalPrecision)
			return widerDecimal(da, db), types.DecimalType(types.MaxDecimalPrecision, s), nil
		case expr.IntDiv:
			return types.BigIntType, types.BigIntType, nil
		}
		w := widerDecimal(da, db)
		return w, types.DecimalType(min(w.Precision+1, types.MaxDecimalPrecision), w.Scale), nil
	}
	// Both integers.
	if f == expr.Div {
		return types.BigIntType, types.DecimalType(types.MaxDecimalPrecision, 4), nil
	}
	return types.BigIntType, types.BigIntType, nil
}

func isArithmetic(t types.T) bool {
	switch t.Kind {
	case types.Int, types.BigInt, types.Double, types.Decimal, types.Varchar, types.Unknown, types.Boolean:
		return true
	}
	return false
}

// assignable reports whether a value of type from may be stored in a
// column of type to (with an implicit cast).
func assignable(from, to types.T) bool {
	if from.Kind == types.Unknown || from.Kind == to.Kind {
		return true
	}
	switch to.Kind {
	case types.Int, types.BigInt, types.Double, types.Decimal:
		return from.IsNumeric() || from.Kind == types.Varchar || from.Kind == types.Boolean
	case types.Boolean:
		return from.IsInteger() || from.Kind == types.Varchar
	case types.Varchar:
		return from.Kind != types.Interval
	case types.Timestamp, types.Date:
		return from.IsTemporal() || from.Kind == types.Varchar
	}
	return false
}
