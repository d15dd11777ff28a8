package eval

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/types"
)

// Take returns a new array holding rows[i] of a for each i, in order.
// It supports the Arrow types of every SQL type.
func Take(mem memory.Allocator, a arrow.Array, rows []int32) (arrow.Array, error) {
	return gather(mem, a.DataType(), []arrow.Array{a}, nil, rows, len(rows))
}

// TakeRecord applies Take to every column of rec.
func TakeRecord(mem memory.Allocator, rec arrow.RecordBatch, rows []int32) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := range cols {
		c, err := Take(mem, rec.Column(i), rows)
		if err != nil {
			return nil, fmt.Errorf("take column %d: %w", i, err)
		}
		cols[i] = c
	}
	return array.NewRecordBatch(rec.Schema(), cols, int64(len(rows))), nil
}

// gather builds an array of n rows of type dt: row j is row rows[j] (or j
// when rows is nil) of srcs[which[j]] (srcs[0] when which is nil); a
// negative which[j] gives NULL. Every source has type dt.
func gather(mem memory.Allocator, dt arrow.DataType, srcs []arrow.Array, which []int32, rows []int32, n int) (arrow.Array, error) {
	if n == 0 {
		return emptyArray(mem, dt), nil
	}
	pick := func(j int) (int, int) {
		s := 0
		if which != nil {
			s = int(which[j])
		}
		r := j
		if rows != nil {
			r = int(rows[j])
		}
		return s, r
	}
	// validity
	valid := make([][]byte, len(srcs))
	anyNull := which != nil
	for k, s := range srcs {
		valid[k] = validBits(s)
		if valid[k] != nil {
			anyNull = true
		}
	}
	var vbuf *memory.Buffer
	if anyNull {
		vbuf = newBitmap(mem, n)
		vb := vbuf.Bytes()
		nulls := 0
		for j := 0; j < n; j++ {
			s, r := pick(j)
			if s >= 0 && isValid(valid[s], r) {
				vb[j>>3] |= 1 << (j & 7)
			} else {
				nulls++
			}
		}
		if nulls == 0 {
			vbuf.Release()
			vbuf = nil
		}
	}
	switch dt.ID() {
	case arrow.INT32, arrow.DATE32:
		return gatherFixed[int32](mem, dt, srcs, which, rows, pick, n, vbuf), nil
	case arrow.INT64, arrow.TIMESTAMP:
		return gatherFixed[int64](mem, dt, srcs, which, rows, pick, n, vbuf), nil
	case arrow.FLOAT64:
		return gatherFixed[float64](mem, dt, srcs, which, rows, pick, n, vbuf), nil
	case arrow.DECIMAL128:
		return gatherFixed[decimal128.Num](mem, dt, srcs, which, rows, pick, n, vbuf), nil
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return gatherFixed[arrow.MonthDayNanoInterval](mem, dt, srcs, which, rows, pick, n, vbuf), nil
	case arrow.BOOL:
		bits := make([][]byte, len(srcs))
		for k, s := range srcs {
			bits[k] = boolBits(s.(*array.Boolean))
		}
		out := newBitmap(mem, n)
		ob := out.Bytes()
		for j := 0; j < n; j++ {
			s, r := pick(j)
			if s >= 0 && bits[s][r>>3]&(1<<(r&7)) != 0 {
				ob[j>>3] |= 1 << (j & 7)
			}
		}
		return finish(dt, n, vbuf, out), nil
	case arrow.STRING:
		offs := make([][]int32, len(srcs))
		data := make([][]byte, len(srcs))
		for k, s := range srcs {
			offs[k], data[k] = stringParts(s.(*array.String))
		}
		total := 0
		for j := 0; j < n; j++ {
			if s, r := pick(j); s >= 0 {
				total += int(offs[s][r+1] - offs[s][r])
			}
		}
		obuf, o := newFixed[int32](mem, n+1)
		dbuf := newBuf(mem, total)
		db := dbuf.Bytes()
		pos := int32(0)
		o[0] = 0
		for j := 0; j < n; j++ {
			if s, r := pick(j); s >= 0 {
				pos += int32(copy(db[pos:], data[s][offs[s][r]:offs[s][r+1]]))
			}
			o[j+1] = pos
		}
		return finish(dt, n, vbuf, obuf, dbuf), nil
	case arrow.NULL:
		return array.NewNull(n), nil
	}
	if vbuf != nil {
		vbuf.Release()
	}
	// Generic fallback through the builder.
	t, err := types.FromArrow(dt)
	if err != nil {
		return nil, err
	}
	b := array.NewBuilder(mem, dt)
	defer b.Release()
	for j := 0; j < n; j++ {
		s, r := pick(j)
		if s < 0 {
			b.AppendNull()
			continue
		}
		types.AppendDatum(b, types.DatumAt(srcs[s], r, t))
	}
	return b.NewArray(), nil
}

func gatherFixed[T arrow.FixedWidthType](mem memory.Allocator, dt arrow.DataType, srcs []arrow.Array, which, rows []int32, pick func(int) (int, int), n int, vbuf *memory.Buffer) arrow.Array {
	vals := make([][]T, len(srcs))
	for k, s := range srcs {
		vals[k] = values[T](s)
	}
	buf, out := newFixed[T](mem, n)
	switch {
	case which == nil && rows != nil:
		v := vals[0]
		for j, r := range rows[:n] {
			out[j] = v[r]
		}
	case which != nil && rows == nil:
		var z T
		for j, s := range which[:n] {
			if s >= 0 {
				out[j] = vals[s][j]
			} else {
				out[j] = z
			}
		}
	default:
		var z T
		for j := 0; j < n; j++ {
			if s, r := pick(j); s >= 0 {
				out[j] = vals[s][r]
			} else {
				out[j] = z
			}
		}
	}
	return finish(dt, n, vbuf, buf)
}

// stringParts returns the absolute offsets (indexed by row) and the data
// buffer of a string array.
func stringParts(a *array.String) ([]int32, []byte) {
	d := a.Data()
	offs := a.ValueOffsets()
	var data []byte
	if b := d.Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	return offs, data
}
