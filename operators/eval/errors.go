package eval

import (
	"fmt"

	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// errOutOfRange is the MySQL-style numeric overflow error (22003).
func errOutOfRange(t types.T) error {
	name := "BIGINT"
	switch t.Kind {
	case types.Int:
		name = "INT"
	case types.Double:
		name = "DOUBLE"
	case types.Decimal:
		name = "DECIMAL"
	}
	return sqlerr.Execf(sqlerr.NumericOutOfRange, "%s value is out of range", name)
}

var (
	errBigIntRange = errOutOfRange(types.BigIntType)
	errDoubleRange = errOutOfRange(types.DoubleType)
	errDecRange    = errOutOfRange(types.DecimalType(38, 0))
)

// errSyntax is the invalid-text-representation error (22P02).
func errSyntax(t types.T, s string) error {
	return sqlerr.Execf(sqlerr.InvalidTextRep, "invalid input syntax for type %s: %q", t.Name(), s)
}

// errDatetime is the invalid-datetime error (22007).
func errDatetime(what, s string) error {
	return sqlerr.Execf(sqlerr.InvalidDatetime, "invalid input syntax for type %s: %q", what, s)
}

// errUnsupported reports a function/type combination the evaluator lacks.
func errUnsupported(format string, args ...any) error {
	return sqlerr.Execf(sqlerr.FeatureNotSupported, "eval: "+format, args...)
}

// errInternal wraps a recovered panic.
func errInternal(v any) error {
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "eval: internal error: %s", fmt.Sprint(v))
}
