package state

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/types"
)

// storage is how a column keeps its values: one typed slice per kind.
type storage uint8

const (
	stI64  storage = iota + 1 // BIGINT, TIMESTAMP
	stI32                     // INT, DATE
	stBool                    // BOOLEAN
	stF64                     // DOUBLE
	stStr                     // VARCHAR
	stDec                     // DECIMAL
)

// storageOf returns the storage for t, or an error for a type a store
// cannot hold (INTERVAL, untyped NULL).
func storageOf(t types.T) (storage, error) {
	switch t.Kind {
	case types.BigInt, types.Timestamp:
		return stI64, nil
	case types.Int, types.Date:
		return stI32, nil
	case types.Boolean:
		return stBool, nil
	case types.Double:
		return stF64, nil
	case types.Varchar:
		return stStr, nil
	case types.Decimal:
		return stDec, nil
	}
	return 0, fmt.Errorf("type %s cannot be stored", t)
}

// column is one column's values by slot. Only the slice of its storage
// is used; nulls is a bit set (value is NULL) that grows only when a NULL
// is stored. An omitted column (Columns.Omit) stores nothing.
type column struct {
	st    storage
	t     types.T
	omit  bool
	i64   []int64
	i32   []int32
	bools []bool
	f64   []float64
	strs  []string
	decs  []decimal128.Num
	nulls []uint64
}

func newColumn(t types.T) (column, error) {
	st, err := storageOf(t)
	return column{st: st, t: t}, err
}

// reader is a typed view of one Arrow array, set once per chunk so that
// copying a value is a switch on a small tag rather than an interface
// type switch.
type reader struct {
	arr   arrow.Array
	nulls bool // the array has NULLs
	i64   []int64
	i32   []int32
	f64   []float64
	b     *array.Boolean
	str   *array.String
	dec   []decimal128.Num
}

// reset points r at a, which must be of the Arrow type of storage st.
func (r *reader) reset(a arrow.Array) {
	*r = reader{arr: a, nulls: a.NullN() > 0}
	switch x := a.(type) {
	case *array.Int64:
		r.i64 = x.Int64Values()
	case *array.Timestamp:
		r.i64 = timestampsAsInt64(x.TimestampValues())
	case *array.Int32:
		r.i32 = x.Int32Values()
	case *array.Date32:
		r.i32 = date32AsInt32(x.Date32Values())
	case *array.Float64:
		r.f64 = x.Float64Values()
	case *array.Boolean:
		r.b = x
	case *array.String:
		r.str = x
	case *array.Decimal128:
		r.dec = x.Values()
	}
}

// grow appends one zero slot and returns its index.
func (c *column) grow() int {
	switch c.st {
	case stI64:
		c.i64 = append(c.i64, 0)
		return len(c.i64) - 1
	case stI32:
		c.i32 = append(c.i32, 0)
		return len(c.i32) - 1
	case stBool:
		c.bools = append(c.bools, false)
		return len(c.bools) - 1
	case stF64:
		c.f64 = append(c.f64, 0)
		return len(c.f64) - 1
	case stStr:
		c.strs = append(c.strs, "")
		return len(c.strs) - 1
	default:
		c.decs = append(c.decs, decimal128.Num{})
		return len(c.decs) - 1
	}
}

func (c *column) isNull(slot int) bool {
	w := slot >> 6
	return w < len(c.nulls) && c.nulls[w]&(1<<(slot&63)) != 0
}

func (c *column) setNull(slot int, null bool) {
	w := slot >> 6
	if null {
		for len(c.nulls) <= w {
			c.nulls = append(c.nulls, 0)
		}
		c.nulls[w] |= 1 << (slot & 63)
	} else if w < len(c.nulls) {
		c.nulls[w] &^= 1 << (slot & 63)
	}
}

// set overwrites slot with row i of r.
func (c *column) set(slot int, r *reader, i int) {
	if r.nulls && r.arr.IsNull(i) {
		c.setNull(slot, true)
		c.zero(slot)
		return
	}
	c.setNull(slot, false)
	switch c.st {
	case stI64:
		c.i64[slot] = r.i64[i]
	case stI32:
		c.i32[slot] = r.i32[i]
	case stBool:
		c.bools[slot] = r.b.Value(i)
	case stF64:
		c.f64[slot] = r.f64[i]
	case stStr:
		// Clone: the Arrow buffer does not outlive the chunk.
		c.strs[slot] = strings.Clone(r.str.Value(i))
	case stDec:
		c.decs[slot] = r.dec[i]
	}
}

// zero resets slot's value (dropping a string so it can be collected).
func (c *column) zero(slot int) {
	switch c.st {
	case stI64:
		c.i64[slot] = 0
	case stI32:
		c.i32[slot] = 0
	case stBool:
		c.bools[slot] = false
	case stF64:
		c.f64[slot] = 0
	case stStr:
		c.strs[slot] = ""
	case stDec:
		c.decs[slot] = decimal128.Num{}
	}
}

// clear empties a freed slot.
func (c *column) clear(slot int) {
	c.setNull(slot, false)
	c.zero(slot)
}

// datum returns slot's value as a Datum of the column's type.
func (c *column) datum(slot int) types.Datum {
	if c.isNull(slot) {
		return types.NewNull(c.t)
	}
	switch c.st {
	case stI64:
		return types.Datum{Kind: c.t.Kind, I: c.i64[slot]}
	case stI32:
		return types.Datum{Kind: c.t.Kind, I: int64(c.i32[slot])}
	case stBool:
		return types.NewBool(c.bools[slot])
	case stF64:
		return types.NewDouble(c.f64[slot])
	case stStr:
		return types.NewText(c.strs[slot])
	default:
		return types.NewDecimal(c.decs[slot], c.t.Scale)
	}
}

// equalReader reports whether slot holds row i of r (NULL equals NULL;
// doubles compare by key identity, so -0 equals 0 and NaN equals NaN).
func (c *column) equalReader(slot int, r *reader, i int) bool {
	rn := r.nulls && r.arr.IsNull(i)
	if c.isNull(slot) || rn {
		return c.isNull(slot) == rn
	}
	switch c.st {
	case stI64:
		return c.i64[slot] == r.i64[i]
	case stI32:
		return c.i32[slot] == r.i32[i]
	case stBool:
		return c.bools[slot] == r.b.Value(i)
	case stF64:
		return floatBits(c.f64[slot]) == floatBits(r.f64[i])
	case stStr:
		return c.strs[slot] == r.str.Value(i)
	default:
		return c.decs[slot] == r.dec[i]
	}
}

// appendRows appends rows 0..n-1 of r as slots base..base+n-1, base being
// the column's current length: a bulk copy for fixed-width storage, and
// for VARCHAR one copy of the chunk's string data that the slots share
// (slots of an append-only store are never freed, so nothing is pinned
// that would otherwise be collected). NULL slots hold the zero value.
func (c *column) appendRows(r *reader, base, n int) {
	switch c.st {
	case stI64:
		c.i64 = appendValues(c.i64, r.i64, n)
	case stI32:
		c.i32 = appendValues(c.i32, r.i32, n)
	case stF64:
		c.f64 = appendValues(c.f64, r.f64, n)
	case stDec:
		c.decs = appendValues(c.decs, r.dec, n)
	case stBool:
		c.bools = slices.Grow(c.bools, n)
		for i := range n {
			c.bools = append(c.bools, !(r.nulls && r.arr.IsNull(i)) && r.b.Value(i))
		}
	case stStr:
		if r.arr.NullN() == n { // all NULL: there may be no offsets buffer
			c.strs = append(c.strs, make([]string, n)...)
			break
		}
		offs := r.str.ValueOffsets()
		data := string(r.str.ValueBytes())
		o0 := offs[0]
		c.strs = slices.Grow(c.strs, n)
		for i := range n {
			c.strs = append(c.strs, data[offs[i]-o0:offs[i+1]-o0])
		}
	}
	if !r.nulls {
		return
	}
	for i := range n {
		if r.arr.IsNull(i) {
			c.setNull(base+i, true)
			c.zero(base + i)
		}
	}
}

// appendValues appends src[:n] to dst, or n zero values when src is
// shorter (an all-NULL array may have no value buffer).
func appendValues[T any](dst, src []T, n int) []T {
	if len(src) >= n {
		return append(dst, src[:n]...)
	}
	return append(dst, make([]T, n)...)
}
