package agg

import (
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/types"
)

// validity returns the validity bitmap of col and its bit offset, or nil
// when col has no NULLs (so loops can skip the per-row check).
func validity(col arrow.Array) ([]byte, int) {
	if col.NullN() == 0 {
		return nil, 0
	}
	return col.NullBitmapBytes(), col.Data().Offset()
}

// isValid reports whether bit i of a validity bitmap is set.
func isValid(bits []byte, i int) bool { return bits[uint(i)>>3]&(1<<(uint(i)&7)) != 0 }

// growSlice returns (*s)[:n], reallocating when the capacity is short.
func growSlice[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n, n+n/4)
	}
	*s = (*s)[:n]
	return *s
}

// extend grows s to length n with zero values.
func extend[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	return append(s, make([]T, n-len(s))...)
}

// family is the set of operations MIN/MAX and COUNT(DISTINCT) need on one
// physical value representation V.
type family[V any] struct {
	// read returns the values of a column as a []V (zero-copy when the
	// layout matches); NULL slots hold garbage.
	read func(col arrow.Array, scratch *[]V) ([]V, error)
	// cmp orders values (NaN above every number, as Postgres does).
	cmp func(a, b V) int
	// keep copies a value out of Arrow memory before it is stored.
	keep func(V) V
	// appender binds an output builder and returns a typed append.
	appender func(b array.Builder) (func(V), error)
}

func errArray(col arrow.Array, want string) error {
	return fmt.Errorf("agg: column is %s, want %s", col.DataType(), want)
}

// intFamily covers INT, BIGINT, TIMESTAMP, DATE and BOOLEAN as int64.
var intFamily = family[int64]{
	read: readInts,
	cmp: func(a, b int64) int {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	},
	keep: func(v int64) int64 { return v },
	appender: func(b array.Builder) (func(int64), error) {
		switch bb := b.(type) {
		case *array.Int64Builder:
			return bb.Append, nil
		case *array.Int32Builder:
			return func(v int64) { bb.Append(int32(v)) }, nil
		case *array.TimestampBuilder:
			return func(v int64) { bb.Append(arrow.Timestamp(v)) }, nil
		case *array.Date32Builder:
			return func(v int64) { bb.Append(arrow.Date32(v)) }, nil
		case *array.BooleanBuilder:
			return func(v int64) { bb.Append(v != 0) }, nil
		}
		return nil, fmt.Errorf("agg: no integer appender for %T", b)
	},
}

func readInts(col arrow.Array, scratch *[]int64) ([]int64, error) {
	switch a := col.(type) {
	case *array.Int64:
		return a.Int64Values(), nil
	case *array.Int32:
		vs := a.Int32Values()
		out := growSlice(scratch, len(vs))
		for i, v := range vs {
			out[i] = int64(v)
		}
		return out, nil
	case *array.Timestamp:
		vs := a.TimestampValues()
		out := growSlice(scratch, len(vs))
		for i, v := range vs {
			out[i] = int64(v)
		}
		return out, nil
	case *array.Date32:
		vs := a.Date32Values()
		out := growSlice(scratch, len(vs))
		for i, v := range vs {
			out[i] = int64(v)
		}
		return out, nil
	case *array.Boolean:
		n := a.Len()
		out := growSlice(scratch, n)
		for i := 0; i < n; i++ {
			if a.Value(i) {
				out[i] = 1
			} else {
				out[i] = 0
			}
		}
		return out, nil
	}
	return nil, errArray(col, "an integer, timestamp, date or boolean column")
}

func cmpFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var floatFamily = family[float64]{
	read: func(col arrow.Array, _ *[]float64) ([]float64, error) {
		a, ok := col.(*array.Float64)
		if !ok {
			return nil, errArray(col, "a DOUBLE column")
		}
		return a.Float64Values(), nil
	},
	cmp:  cmpFloat,
	keep: func(v float64) float64 { return v },
	appender: func(b array.Builder) (func(float64), error) {
		if bb, ok := b.(*array.Float64Builder); ok {
			return bb.Append, nil
		}
		return nil, fmt.Errorf("agg: no float appender for %T", b)
	},
}

// canonicalFloatBits maps a float to bits under which equal SQL values are
// equal: -0 becomes 0 and every NaN the same NaN.
func canonicalFloatBits(f float64) int64 {
	switch {
	case f == 0:
		return 0
	case math.IsNaN(f):
		return int64(math.Float64bits(math.NaN()))
	}
	return int64(math.Float64bits(f))
}

// floatBitsFamily stores DOUBLE values as canonical bits, for hashing
// (COUNT DISTINCT); it has no appender or order.
var floatBitsFamily = family[int64]{
	read: func(col arrow.Array, scratch *[]int64) ([]int64, error) {
		a, ok := col.(*array.Float64)
		if !ok {
			return nil, errArray(col, "a DOUBLE column")
		}
		vs := a.Float64Values()
		out := growSlice(scratch, len(vs))
		for i, v := range vs {
			out[i] = canonicalFloatBits(v)
		}
		return out, nil
	},
	keep: func(v int64) int64 { return v },
}

var decFamily = family[decimal128.Num]{
	read: func(col arrow.Array, _ *[]decimal128.Num) ([]decimal128.Num, error) {
		a, ok := col.(*array.Decimal128)
		if !ok {
			return nil, errArray(col, "a DECIMAL column")
		}
		return a.Values(), nil
	},
	cmp:  func(a, b decimal128.Num) int { return a.Cmp(b) },
	keep: func(v decimal128.Num) decimal128.Num { return v },
	appender: func(b array.Builder) (func(decimal128.Num), error) {
		if bb, ok := b.(*array.Decimal128Builder); ok {
			return bb.Append, nil
		}
		return nil, fmt.Errorf("agg: no decimal appender for %T", b)
	},
}

var strFamily = family[string]{
	read: func(col arrow.Array, scratch *[]string) ([]string, error) {
		a, ok := col.(*array.String)
		if !ok {
			return nil, errArray(col, "a VARCHAR column")
		}
		n := a.Len()
		out := growSlice(scratch, n)
		for i := 0; i < n; i++ {
			out[i] = a.Value(i) // aliases Arrow memory; keep() copies
		}
		return out, nil
	},
	cmp:  strings.Compare,
	keep: strings.Clone,
	appender: func(b array.Builder) (func(string), error) {
		if bb, ok := b.(*array.StringBuilder); ok {
			return bb.Append, nil
		}
		return nil, fmt.Errorf("agg: no string appender for %T", b)
	},
}

// isIntLike reports whether values of t are handled as int64.
func isIntLike(t types.T) bool {
	switch t.Kind {
	case types.Int, types.BigInt, types.Timestamp, types.Date, types.Boolean:
		return true
	}
	return false
}
