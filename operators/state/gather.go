package state

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Gathers build output arrays in bulk: the values are gathered straight
// into the new array's value buffer (one typed loop per column, no
// per-value builder call), and a validity bitmap is allocated only when
// some value is NULL.

// GatherSlots appends to dst one new array per column holding the values
// at slots (NoSlot: NULL), of the types of schema's fields first,
// first+1, ... (each of its column's Arrow type). The caller releases the
// arrays; on an error, the arrays already in dst are released too.
func (c *Columns) GatherSlots(mem memory.Allocator, schema *arrow.Schema, first int, slots []uint32, dst []arrow.Array) ([]arrow.Array, error) {
	return gatherEach(len(c.cols), dst, func(k int) (arrow.Array, error) {
		return c.GatherSlotsColumn(mem, schema.Field(first+k).Type, k, slots)
	})
}

// GatherRows appends to dst one new array per column holding rows of the
// bound record, of the types of schema's fields first, first+1, ... The
// caller releases the arrays; on an error, the arrays already in dst are
// released too.
func (c *Columns) GatherRows(mem memory.Allocator, schema *arrow.Schema, first int, rows []int32, dst []arrow.Array) ([]arrow.Array, error) {
	return gatherEach(len(c.rd), dst, func(k int) (arrow.Array, error) {
		return c.GatherRowsColumn(mem, schema.Field(first+k).Type, k, rows)
	})
}

// gatherEach appends gather(k) for k = 0 .. n-1 to dst, releasing dst on
// an error.
func gatherEach(n int, dst []arrow.Array, gather func(k int) (arrow.Array, error)) ([]arrow.Array, error) {
	for k := range n {
		a, err := gather(k)
		if err != nil {
			ReleaseAll(dst)
			return nil, err
		}
		dst = append(dst, a)
	}
	return dst, nil
}

// GatherSlotsColumn returns a new array of dt (of the column's Arrow
// type) holding column col at slots (NoSlot: NULL).
func (c *Columns) GatherSlotsColumn(mem memory.Allocator, dt arrow.DataType, col int, slots []uint32) (arrow.Array, error) {
	a, err := c.cols[col].gatherSlots(mem, dt, slots)
	if err != nil {
		return nil, fmt.Errorf("column %d: %w", col, err)
	}
	return a, nil
}

// GatherRowsColumn returns a new array of dt holding column col of the
// bound record at rows.
func (c *Columns) GatherRowsColumn(mem memory.Allocator, dt arrow.DataType, col int, rows []int32) (arrow.Array, error) {
	a, err := c.rd[col].gatherRows(mem, dt, rows)
	if err != nil {
		return nil, fmt.Errorf("column %d: %w", col, err)
	}
	return a, nil
}

// Int64Array returns a new array of dt, a type of 8-byte values (BIGINT,
// TIMESTAMP), holding vals, none NULL.
func Int64Array(mem memory.Allocator, dt arrow.DataType, vals []int64) arrow.Array {
	buf, b := newBuffer(mem, 8*len(vals))
	copy(arrow.Int64Traits.CastFromBytes(b), vals)
	d := array.NewData(dt, len(vals), []*memory.Buffer{nil, buf}, nil, 0, 0)
	a := array.MakeFromData(d)
	d.Release()
	buf.Release()
	return a
}

// NewRecord returns a record of schema holding arrs (n rows each), which
// it releases and clears, so that the caller can reuse the slice.
func NewRecord(schema *arrow.Schema, arrs []arrow.Array, n int) arrow.RecordBatch {
	rec := array.NewRecordBatch(schema, arrs, int64(n))
	ReleaseAll(arrs)
	clear(arrs)
	return rec
}

// ReleaseAll releases every array of as.
func ReleaseAll(as []arrow.Array) {
	for _, a := range as {
		a.Release()
	}
}

// storageOfArrow returns the storage that holds values of Arrow type id.
func storageOfArrow(id arrow.Type) storage {
	switch id {
	case arrow.INT64, arrow.TIMESTAMP:
		return stI64
	case arrow.INT32, arrow.DATE32:
		return stI32
	case arrow.BOOL:
		return stBool
	case arrow.FLOAT64:
		return stF64
	case arrow.STRING:
		return stStr
	case arrow.DECIMAL128:
		return stDec
	}
	return 0
}

// newBuffer returns a buffer of size bytes (not zeroed) and its bytes.
func newBuffer(mem memory.Allocator, size int) (*memory.Buffer, []byte) {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(size)
	return buf, buf.Bytes()
}

// gatherSlotVals sets dst[i] to src[slots[i]], or the zero value for
// NoSlot; it reports whether some slot was NoSlot.
func gatherSlotVals[T any](dst, src []T, slots []uint32) bool {
	dst = dst[:len(slots)]
	missing := false
	for i, s := range slots {
		if s == NoSlot {
			var z T
			dst[i] = z
			missing = true
			continue
		}
		dst[i] = src[s]
	}
	return missing
}

// gatherRowVals sets dst[i] to src[rows[i]].
func gatherRowVals[T any](dst, src []T, rows []int32) {
	dst = dst[:len(rows)]
	for i, r := range rows {
		dst[i] = src[r]
	}
}

// slotValidity returns a validity bitmap for slots of c (NoSlot and NULL
// values unset) and the number of NULLs, or nil when there is none.
func (c *column) slotValidity(mem memory.Allocator, slots []uint32) (*memory.Buffer, int) {
	buf, bm := newBuffer(mem, int(bitutil.BytesForBits(int64(len(slots)))))
	clear(bm)
	nulls := 0
	for i, s := range slots {
		if s == NoSlot || c.isNull(int(s)) {
			nulls++
			continue
		}
		bitutil.SetBit(bm, i)
	}
	if nulls == 0 {
		buf.Release()
		return nil, 0
	}
	return buf, nulls
}

// rowValidity is slotValidity for rows of r's array.
func (r *reader) rowValidity(mem memory.Allocator, rows []int32) (*memory.Buffer, int) {
	buf, bm := newBuffer(mem, int(bitutil.BytesForBits(int64(len(rows)))))
	clear(bm)
	nulls := 0
	for i, x := range rows {
		if r.arr.IsNull(int(x)) {
			nulls++
			continue
		}
		bitutil.SetBit(bm, i)
	}
	if nulls == 0 {
		buf.Release()
		return nil, 0
	}
	return buf, nulls
}

// makeArray assembles an array of n values of dt from its buffers and
// releases them (the array holds its own references).
func makeArray(dt arrow.DataType, n int, bufs []*memory.Buffer, nulls int) arrow.Array {
	d := array.NewData(dt, n, bufs, nil, nulls, 0)
	a := array.MakeFromData(d)
	d.Release()
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	return a
}

// gatherSlots returns a new array of dt (of the column's storage) holding
// the values at slots, NoSlot as NULL.
func (c *column) gatherSlots(mem memory.Allocator, dt arrow.DataType, slots []uint32) (arrow.Array, error) {
	if c.omit {
		return nil, fmt.Errorf("column of type %s is omitted: it holds no values", c.t)
	}
	if storageOfArrow(dt.ID()) != c.st {
		return nil, fmt.Errorf("column of type %s cannot fill a %s array", c.t, dt)
	}
	n := len(slots)
	var vals *memory.Buffer
	var missing bool
	switch c.st {
	case stI64:
		buf, b := newBuffer(mem, 8*n)
		missing = gatherSlotVals(arrow.Int64Traits.CastFromBytes(b), c.i64, slots)
		vals = buf
	case stI32:
		buf, b := newBuffer(mem, 4*n)
		missing = gatherSlotVals(arrow.Int32Traits.CastFromBytes(b), c.i32, slots)
		vals = buf
	case stF64:
		buf, b := newBuffer(mem, 8*n)
		missing = gatherSlotVals(arrow.Float64Traits.CastFromBytes(b), c.f64, slots)
		vals = buf
	case stDec:
		buf, b := newBuffer(mem, 16*n)
		missing = gatherSlotVals(arrow.Decimal128Traits.CastFromBytes(b), c.decs, slots)
		vals = buf
	case stBool:
		buf, bm := newBuffer(mem, int(bitutil.BytesForBits(int64(n))))
		clear(bm)
		for i, s := range slots {
			if s == NoSlot {
				missing = true
				continue
			}
			if c.bools[s] {
				bitutil.SetBit(bm, i)
			}
		}
		vals = buf
	case stStr:
		return c.gatherSlotStrings(mem, dt, slots)
	}
	var valid *memory.Buffer
	nulls := 0
	if missing || len(c.nulls) > 0 {
		valid, nulls = c.slotValidity(mem, slots)
	}
	return makeArray(dt, n, []*memory.Buffer{valid, vals}, nulls), nil
}

// gatherSlotStrings is gatherSlots for VARCHAR: the offsets and the
// characters are written in two passes into exactly sized buffers.
func (c *column) gatherSlotStrings(mem memory.Allocator, dt arrow.DataType, slots []uint32) (arrow.Array, error) {
	n := len(slots)
	total := 0
	missing := false
	for _, s := range slots {
		if s == NoSlot {
			missing = true
			continue
		}
		total += len(c.strs[s])
	}
	if total > math.MaxInt32 {
		return nil, fmt.Errorf("%d bytes of text do not fit one array", total)
	}
	offBuf, ob := newBuffer(mem, 4*(n+1))
	offs := arrow.Int32Traits.CastFromBytes(ob)
	data, db := newBuffer(mem, total)
	pos := 0
	offs[0] = 0
	for i, s := range slots {
		if s != NoSlot {
			pos += copy(db[pos:], c.strs[s])
		}
		offs[i+1] = int32(pos)
	}
	var valid *memory.Buffer
	nulls := 0
	if missing || len(c.nulls) > 0 {
		valid, nulls = c.slotValidity(mem, slots)
	}
	return makeArray(dt, n, []*memory.Buffer{valid, offBuf, data}, nulls), nil
}

// gatherRows returns a new array of dt (of r's array type) holding rows
// of r's array.
func (r *reader) gatherRows(mem memory.Allocator, dt arrow.DataType, rows []int32) (arrow.Array, error) {
	if dt.ID() != r.arr.DataType().ID() {
		return nil, fmt.Errorf("cannot gather %s into a %s array", r.arr.DataType(), dt)
	}
	n := len(rows)
	var vals *memory.Buffer
	switch storageOfArrow(dt.ID()) {
	case stI64:
		buf, b := newBuffer(mem, 8*n)
		gatherRowValsPadded(arrow.Int64Traits.CastFromBytes(b), r.i64, rows)
		vals = buf
	case stI32:
		buf, b := newBuffer(mem, 4*n)
		gatherRowValsPadded(arrow.Int32Traits.CastFromBytes(b), r.i32, rows)
		vals = buf
	case stF64:
		buf, b := newBuffer(mem, 8*n)
		gatherRowValsPadded(arrow.Float64Traits.CastFromBytes(b), r.f64, rows)
		vals = buf
	case stDec:
		buf, b := newBuffer(mem, 16*n)
		gatherRowValsPadded(arrow.Decimal128Traits.CastFromBytes(b), r.dec, rows)
		vals = buf
	case stBool:
		buf, bm := newBuffer(mem, int(bitutil.BytesForBits(int64(n))))
		clear(bm)
		for i, x := range rows {
			if !(r.nulls && r.arr.IsNull(int(x))) && r.b.Value(int(x)) {
				bitutil.SetBit(bm, i)
			}
		}
		vals = buf
	case stStr:
		return r.gatherRowStrings(mem, dt, rows)
	default:
		return nil, fmt.Errorf("cannot gather %s", r.arr.DataType())
	}
	var valid *memory.Buffer
	nulls := 0
	if r.nulls {
		valid, nulls = r.rowValidity(mem, rows)
	}
	return makeArray(dt, n, []*memory.Buffer{valid, vals}, nulls), nil
}

// gatherRowValsPadded is gatherRowVals, or zero values when src is empty
// (an all-NULL array may have no value buffer).
func gatherRowValsPadded[T any](dst, src []T, rows []int32) {
	if len(src) == 0 {
		clear(dst[:len(rows)])
		return
	}
	gatherRowVals(dst, src, rows)
}

// gatherRowStrings is gatherRows for VARCHAR.
func (r *reader) gatherRowStrings(mem memory.Allocator, dt arrow.DataType, rows []int32) (arrow.Array, error) {
	n := len(rows)
	s := r.str
	total := 0
	for _, x := range rows {
		if !(r.nulls && r.arr.IsNull(int(x))) {
			total += s.ValueLen(int(x))
		}
	}
	if total > math.MaxInt32 {
		return nil, fmt.Errorf("%d bytes of text do not fit one array", total)
	}
	offBuf, ob := newBuffer(mem, 4*(n+1))
	offs := arrow.Int32Traits.CastFromBytes(ob)
	data, db := newBuffer(mem, total)
	pos := 0
	offs[0] = 0
	for i, x := range rows {
		if !(r.nulls && r.arr.IsNull(int(x))) {
			pos += copy(db[pos:], s.Value(int(x)))
		}
		offs[i+1] = int32(pos)
	}
	var valid *memory.Buffer
	nulls := 0
	if r.nulls {
		valid, nulls = r.rowValidity(mem, rows)
	}
	return makeArray(dt, n, []*memory.Buffer{valid, offBuf, data}, nulls), nil
}

// BatchLen returns how many of slots, from the first, fit a batch holding
// at most maxBytes bytes of text (the VARCHAR values of the stored
// columns); at least one when slots is not empty, so that a single longer
// row still makes a batch. It splits slots into GatherSlots runs that stay
// under a reader's record size limit.
func (c *Columns) BatchLen(slots []uint32, maxBytes int) int {
	var text [][]string
	for k := range c.cols {
		if col := &c.cols[k]; col.st == stStr && !col.omit {
			text = append(text, col.strs)
		}
	}
	if len(text) == 0 {
		return len(slots)
	}
	size := 0
	for i, s := range slots {
		if s == NoSlot {
			continue
		}
		for _, strs := range text {
			size += len(strs[s])
		}
		if size > maxBytes && i > 0 {
			return i
		}
	}
	return len(slots)
}
