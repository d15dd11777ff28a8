// Package state holds the keyed, columnar row stores that back tables and
// materialized views, and the key encoding shared by stateful operators.
package state

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicedb/sluice/types"
)

// KeyEncoder appends the bytes of one column's values to composite keys.
// Two rows get equal keys exactly when their values are equal (NULL equals
// NULL, -0 equals 0, all NaNs are equal), so a map keyed by the bytes
// groups or indexes them. Each value is self-delimiting (a NULL flag byte,
// then fixed-width bytes or a length-prefixed string), so concatenated
// keys of several columns never collide. AppendDatum gives the same bytes
// for the same value held in a Datum.
type KeyEncoder struct {
	arr arrow.Array
	i64 []int64
	i32 []int32
	f64 []float64
	str *array.String
	dec *array.Decimal128
	b   *array.Boolean
	ivl []arrow.MonthDayNanoInterval
}

// Reset points the encoder at a new array.
func (e *KeyEncoder) Reset(a arrow.Array) {
	*e = KeyEncoder{arr: a}
	switch x := a.(type) {
	case *array.Int64:
		e.i64 = x.Int64Values()
	case *array.Timestamp:
		v := x.TimestampValues()
		e.i64 = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
	case *array.Int32:
		e.i32 = x.Int32Values()
	case *array.Date32:
		v := x.Date32Values()
		e.i32 = unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
	case *array.Float64:
		e.f64 = x.Float64Values()
	case *array.String:
		e.str = x
	case *array.Decimal128:
		e.dec = x
	case *array.Boolean:
		e.b = x
	case *array.MonthDayNanoInterval:
		e.ivl = x.MonthDayNanoIntervalValues()
	}
}

// Append appends the encoding of row i to buf.
func (e *KeyEncoder) Append(buf []byte, i int) []byte {
	if e.arr.IsNull(i) {
		return append(buf, 0)
	}
	switch {
	case e.i64 != nil:
		return binary.LittleEndian.AppendUint64(append(buf, 1), uint64(e.i64[i]))
	case e.i32 != nil:
		return binary.LittleEndian.AppendUint32(append(buf, 1), uint32(e.i32[i]))
	case e.f64 != nil:
		return binary.LittleEndian.AppendUint64(append(buf, 1), floatBits(e.f64[i]))
	case e.str != nil:
		s := e.str.Value(i)
		buf = binary.AppendUvarint(append(buf, 1), uint64(len(s)))
		return append(buf, s...)
	case e.dec != nil:
		v := e.dec.Value(i)
		buf = binary.LittleEndian.AppendUint64(append(buf, 1), v.LowBits())
		return binary.LittleEndian.AppendUint64(buf, uint64(v.HighBits()))
	case e.b != nil:
		if e.b.Value(i) {
			return append(buf, 1, 1)
		}
		return append(buf, 1, 0)
	case e.ivl != nil:
		v := e.ivl[i]
		return appendInterval(buf, v.Months, v.Days, v.Nanoseconds)
	}
	return append(buf, 1)
}

func appendInterval(buf []byte, months, days int32, ns int64) []byte {
	buf = binary.LittleEndian.AppendUint32(append(buf, 1), uint32(months))
	buf = binary.LittleEndian.AppendUint32(buf, uint32(days))
	return binary.LittleEndian.AppendUint64(buf, uint64(ns))
}

// AppendDatum appends the encoding of d (of SQL type t) to buf, equal to
// what Append gives for the same value in an Arrow array of type t.
func AppendDatum(buf []byte, d types.Datum, t types.T) []byte {
	if d.Null {
		return append(buf, 0)
	}
	switch t.Kind {
	case types.BigInt, types.Timestamp:
		return binary.LittleEndian.AppendUint64(append(buf, 1), uint64(d.I))
	case types.Int, types.Date:
		return binary.LittleEndian.AppendUint32(append(buf, 1), uint32(int32(d.I)))
	case types.Double:
		return binary.LittleEndian.AppendUint64(append(buf, 1), floatBits(d.F))
	case types.Varchar:
		buf = binary.AppendUvarint(append(buf, 1), uint64(len(d.S)))
		return append(buf, d.S...)
	case types.Decimal:
		buf = binary.LittleEndian.AppendUint64(append(buf, 1), d.Dec.LowBits())
		return binary.LittleEndian.AppendUint64(buf, uint64(d.Dec.HighBits()))
	case types.Boolean:
		if d.I != 0 {
			return append(buf, 1, 1)
		}
		return append(buf, 1, 0)
	case types.Interval:
		return appendInterval(buf, d.Months, d.Days, d.I*1000)
	}
	return append(buf, 1)
}

func floatBits(f float64) uint64 {
	if f == 0 {
		return 0 // -0 == 0
	}
	if f != f {
		return math.Float64bits(math.NaN())
	}
	return math.Float64bits(f)
}

// IsNull reports whether row i is NULL.
func (e *KeyEncoder) IsNull(i int) bool { return e.arr.IsNull(i) }

func timestampsAsInt64(v []arrow.Timestamp) []int64 {
	return unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
}

func date32AsInt32(v []arrow.Date32) []int32 {
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
}
