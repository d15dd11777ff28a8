// Package types defines Sluice's SQL value types, their Arrow representation,
// and the Datum used for single values (constants, keys, results).
//
// It sits below every other package: the planner, the operators and the wire
// server all speak in these types.
package types

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Kind is the family of a SQL type.
type Kind uint8

// The SQL type kinds Sluice supports.
const (
	Unknown   Kind = iota // the type of an untyped NULL literal
	Boolean               // BOOLEAN
	Int                   // INT: 32-bit signed
	BigInt                // BIGINT: 64-bit signed
	Double                // DOUBLE: IEEE 754 binary64
	Decimal               // DECIMAL(p,s): 128-bit fixed point, p <= 38
	Varchar               // VARCHAR / TEXT: UTF-8 string
	Timestamp             // TIMESTAMP(p): microseconds since the Unix epoch, UTC
	Date                  // DATE: days since the Unix epoch
	Interval              // INTERVAL: months, days and microseconds (not storable)
)

// MaxDecimalPrecision is the largest DECIMAL precision Sluice stores.
const MaxDecimalPrecision = 38

// T is a SQL type: a kind with its modifiers.
type T struct {
	Kind Kind
	// Precision is the total digits of a DECIMAL, or the fractional-second
	// digits (0-6) of a TIMESTAMP.
	Precision int32
	// Scale is the digits after the point of a DECIMAL.
	Scale int32
	// Width is the declared length of a VARCHAR (0: unbounded, as TEXT).
	Width int32
}

// Convenience values for types without modifiers.
var (
	NullType     = T{Kind: Unknown}
	BoolType     = T{Kind: Boolean}
	IntType      = T{Kind: Int}
	BigIntType   = T{Kind: BigInt}
	DoubleType   = T{Kind: Double}
	TextType     = T{Kind: Varchar}
	DateType     = T{Kind: Date}
	IntervalType = T{Kind: Interval}
)

// TimestampType returns TIMESTAMP(p).
func TimestampType(p int32) T { return T{Kind: Timestamp, Precision: p} }

// DecimalType returns DECIMAL(p,s).
func DecimalType(p, s int32) T { return T{Kind: Decimal, Precision: p, Scale: s} }

// IsNumeric reports whether values of t take part in arithmetic.
func (t T) IsNumeric() bool {
	switch t.Kind {
	case Int, BigInt, Double, Decimal:
		return true
	}
	return false
}

// IsInteger reports whether t is INT or BIGINT.
func (t T) IsInteger() bool { return t.Kind == Int || t.Kind == BigInt }

// DecimalPrecision is the digits a DECIMAL of type t holds: its precision,
// or MaxDecimalPrecision when it has none (a plain DECIMAL).
func (t T) DecimalPrecision() int32 {
	if t.Precision <= 0 || t.Precision > MaxDecimalPrecision {
		return MaxDecimalPrecision
	}
	return t.Precision
}

// IsTemporal reports whether t is TIMESTAMP or DATE.
func (t T) IsTemporal() bool { return t.Kind == Timestamp || t.Kind == Date }

// String prints t in SQL syntax.
func (t T) String() string {
	switch t.Kind {
	case Unknown:
		return "NULL"
	case Boolean:
		return "BOOLEAN"
	case Int:
		return "INT"
	case BigInt:
		return "BIGINT"
	case Double:
		return "DOUBLE"
	case Decimal:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case Varchar:
		if t.Width > 0 {
			return fmt.Sprintf("VARCHAR(%d)", t.Width)
		}
		return "TEXT"
	case Timestamp:
		return fmt.Sprintf("TIMESTAMP(%d)", t.Precision)
	case Date:
		return "DATE"
	case Interval:
		return "INTERVAL"
	}
	return fmt.Sprintf("Kind(%d)", t.Kind)
}

// Name is the lower-case type name without modifiers, as DESCRIBE shows it.
func (t T) Name() string {
	s := t.String()
	if i := strings.IndexByte(s, '('); i >= 0 && t.Kind != Decimal && t.Kind != Varchar && t.Kind != Timestamp {
		s = s[:i]
	}
	return strings.ToLower(s)
}

// Arrow returns the Arrow data type that holds values of t.
func (t T) Arrow() arrow.DataType {
	switch t.Kind {
	case Boolean:
		return arrow.FixedWidthTypes.Boolean
	case Int:
		return arrow.PrimitiveTypes.Int32
	case BigInt:
		return arrow.PrimitiveTypes.Int64
	case Double:
		return arrow.PrimitiveTypes.Float64
	case Decimal:
		return &arrow.Decimal128Type{Precision: t.Precision, Scale: t.Scale}
	case Varchar:
		return arrow.BinaryTypes.String
	case Timestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: ""}
	case Date:
		return arrow.FixedWidthTypes.Date32
	case Interval:
		return arrow.FixedWidthTypes.MonthDayNanoInterval
	default:
		return arrow.Null
	}
}

// FromArrow maps an Arrow data type back to a SQL type.
func FromArrow(dt arrow.DataType) (T, error) {
	switch d := dt.(type) {
	case *arrow.BooleanType:
		return BoolType, nil
	case *arrow.Int32Type:
		return IntType, nil
	case *arrow.Int64Type:
		return BigIntType, nil
	case *arrow.Float64Type:
		return DoubleType, nil
	case *arrow.Decimal128Type:
		return DecimalType(d.Precision, d.Scale), nil
	case *arrow.StringType:
		return TextType, nil
	case *arrow.TimestampType:
		return TimestampType(6), nil
	case *arrow.Date32Type:
		return DateType, nil
	case *arrow.MonthDayNanoIntervalType:
		return IntervalType, nil
	case *arrow.NullType:
		return NullType, nil
	}
	return T{}, fmt.Errorf("types: no SQL type for Arrow type %s", dt)
}

// Column is a named, typed column of a relation.
type Column struct {
	Name     string
	Type     T
	Nullable bool
}

// Schema is an ordered list of columns.
type Schema []Column

// Arrow builds the Arrow schema for s.
func (s Schema) Arrow() *arrow.Schema {
	fields := make([]arrow.Field, len(s))
	for i, c := range s {
		fields[i] = arrow.Field{Name: c.Name, Type: c.Type.Arrow(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil)
}

// Index returns the position of the column named name (case-insensitive), or -1.
func (s Schema) Index(name string) int {
	for i, c := range s {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

// String names the kind as SQL spells it.
func (k Kind) String() string { return T{Kind: k}.Name() }
