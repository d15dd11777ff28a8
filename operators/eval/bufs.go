package eval

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// newBuf allocates a buffer of nbytes from mem (contents unspecified).
func newBuf(mem memory.Allocator, nbytes int) *memory.Buffer {
	b := memory.NewResizableBuffer(mem)
	b.Resize(nbytes)
	return b
}

// newFixed allocates a value buffer of n elements of T.
func newFixed[T arrow.FixedWidthType](mem memory.Allocator, n int) (*memory.Buffer, []T) {
	var z T
	b := newBuf(mem, n*int(unsafe.Sizeof(z)))
	if n == 0 {
		return b, nil
	}
	return b, arrow.GetData[T](b.Bytes())[:n]
}

// newBitmap allocates a zeroed bitmap of n bits.
func newBitmap(mem memory.Allocator, n int) *memory.Buffer {
	b := newBuf(mem, int(bitutil.BytesForBits(int64(n))))
	clear(b.Bytes())
	return b
}

// values returns the physical values of a fixed-width array (timestamps as
// int64, dates as int32), honouring the array offset.
func values[T arrow.FixedWidthType](a arrow.Array) []T {
	d := a.Data()
	n := d.Len()
	if n == 0 {
		return nil
	}
	buf := d.Buffers()[1]
	if buf == nil {
		return make([]T, n)
	}
	return arrow.GetData[T](buf.Bytes())[d.Offset() : d.Offset()+n]
}

// finish builds an array from buffers and releases the caller's
// references to them (the array keeps its own). validity may be nil;
// with one, arrow counts the nulls on first use (a record shared across
// goroutines is settled first: see operators.SettleNullCounts).
func finish(dt arrow.DataType, n int, bufs ...*memory.Buffer) arrow.Array {
	nulls := 0
	if bufs[0] != nil {
		nulls = array.UnknownNullCount
	}
	data := array.NewData(dt, n, bufs, nil, nulls, 0)
	arr := array.MakeFromData(data)
	data.Release()
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	return arr
}

// validityOf returns a's validity bitmap and bit offset; bm is nil when a
// has no nulls. allNull reports a null array without a bitmap.
func validityOf(a arrow.Array) (bm []byte, off int, allNull bool) {
	if a.NullN() == 0 {
		return nil, 0, false
	}
	bm = a.NullBitmapBytes()
	if len(bm) == 0 {
		return nil, 0, true
	}
	return bm, a.Data().Offset(), false
}

// andValidity returns the AND of the validity bitmaps of arrs as a new
// buffer of n bits, or nil when every row of every array is valid.
func andValidity(mem memory.Allocator, n int, arrs ...arrow.Array) *memory.Buffer {
	var out *memory.Buffer
	for _, a := range arrs {
		bm, off, allNull := validityOf(a)
		if bm == nil && !allNull {
			continue
		}
		if out == nil {
			out = newBitmap(mem, n)
			if allNull {
				continue // already zero
			}
			bitutil.CopyBitmap(bm, off, n, out.Bytes(), 0)
			continue
		}
		if allNull {
			clear(out.Bytes())
			continue
		}
		tmp := make([]byte, len(out.Bytes()))
		bitutil.BitmapAnd(out.Bytes(), bm, 0, int64(off), tmp, 0, int64(n))
		copy(out.Bytes(), tmp)
	}
	return out
}

// alignedBits returns the bits [off, off+n) of bm starting at bit 0,
// copying only when off is not zero.
func alignedBits(bm []byte, off, n int) []byte {
	if off == 0 {
		return bm[:bitutil.BytesForBits(int64(n))]
	}
	out := make([]byte, bitutil.BytesForBits(int64(n)))
	bitutil.CopyBitmap(bm, off, n, out, 0)
	return out
}

// boolBits returns the value bits of a Boolean array aligned at bit 0.
func boolBits(a *array.Boolean) []byte {
	d := a.Data()
	if d.Len() == 0 {
		return nil
	}
	return alignedBits(d.Buffers()[1].Bytes(), d.Offset(), d.Len())
}

// validBits returns a's validity aligned at bit 0, or nil if all valid
// (an all-null array without a bitmap gets a zero bitmap).
func validBits(a arrow.Array) []byte {
	bm, off, allNull := validityOf(a)
	if allNull {
		return make([]byte, bitutil.BytesForBits(int64(a.Len())))
	}
	if bm == nil {
		return nil
	}
	return alignedBits(bm, off, a.Len())
}

// isValid reports whether row i is valid given an aligned bitmap (nil: all).
func isValid(bm []byte, i int) bool { return bm == nil || bm[i>>3]&(1<<(i&7)) != 0 }

// emptyArray returns a zero-length array of dt.
func emptyArray(mem memory.Allocator, dt arrow.DataType) arrow.Array {
	b := array.NewBuilder(mem, dt)
	defer b.Release()
	return b.NewArray()
}
