package types

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// DatumAt reads row i of an Arrow array as a Datum of SQL type t.
// It is for row-at-a-time paths (results, keys, tests), not inner loops.
func DatumAt(a arrow.Array, i int, t T) Datum {
	if a.IsNull(i) {
		return NewNull(t)
	}
	switch arr := a.(type) {
	case *array.Boolean:
		return NewBool(arr.Value(i))
	case *array.Int32:
		return Datum{Kind: t.Kind, I: int64(arr.Value(i))}
	case *array.Int64:
		return Datum{Kind: t.Kind, I: arr.Value(i)}
	case *array.Float64:
		return NewDouble(arr.Value(i))
	case *array.Decimal128:
		return NewDecimal(arr.Value(i), t.Scale)
	case *array.String:
		return NewText(arr.Value(i))
	case *array.Timestamp:
		return NewTimestamp(int64(arr.Value(i)))
	case *array.Date32:
		return NewDate(int32(arr.Value(i)))
	case *array.MonthDayNanoInterval:
		v := arr.Value(i)
		return NewInterval(v.Months, v.Days, v.Nanoseconds/1000)
	case *array.Null:
		return NewNull(t)
	}
	panic(fmt.Sprintf("types: DatumAt on unsupported array %T", a))
}

// AppendDatum appends d to an Arrow builder made for d's type. A NULL
// appends a null.
func AppendDatum(b array.Builder, d Datum) {
	if d.Null {
		b.AppendNull()
		return
	}
	switch bb := b.(type) {
	case *array.BooleanBuilder:
		bb.Append(d.I != 0)
	case *array.Int32Builder:
		bb.Append(int32(d.I))
	case *array.Int64Builder:
		bb.Append(d.I)
	case *array.Float64Builder:
		bb.Append(d.F)
	case *array.Decimal128Builder:
		bb.Append(d.Dec)
	case *array.StringBuilder:
		bb.Append(d.S)
	case *array.TimestampBuilder:
		bb.Append(arrow.Timestamp(d.I))
	case *array.Date32Builder:
		bb.Append(arrow.Date32(d.I))
	case *array.MonthDayNanoIntervalBuilder:
		bb.Append(arrow.MonthDayNanoInterval{Months: d.Months, Days: d.Days, Nanoseconds: d.I * 1000})
	case *array.NullBuilder:
		bb.AppendNull()
	default:
		panic(fmt.Sprintf("types: AppendDatum on unsupported builder %T", b))
	}
}
