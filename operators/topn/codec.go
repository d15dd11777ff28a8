package topn

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/types"
)

// The row keys of the Top-N state are order-preserving ("memcomparable")
// encodings: comparing two keys with bytes.Compare orders the rows as the
// ORDER BY does, and a key decodes back into its values, so the key is the
// only per-row copy of the row the operator keeps.
//
// A value is a flag byte (NULL placement) followed, when not NULL, by the
// value bytes; a DESC field has its value bytes inverted. Every encoding is
// prefix-free, so inverting it reverses its order and concatenated fields
// compare field by field:
//   - BIGINT, TIMESTAMP: 8 bytes big-endian with the sign bit flipped;
//     INT, DATE: 4 bytes likewise; DECIMAL: 16 bytes likewise;
//   - DOUBLE: 8 bytes of IEEE bits, sign-adjusted (negative: all bits
//     inverted, else the sign bit set); -0 is stored as 0 and every NaN as
//     one NaN, which sorts above +Inf;
//   - BOOLEAN: one byte 0 or 1;
//   - VARCHAR: the bytes with each 0x00 escaped as 0x00 0xFF, then the
//     terminator 0x00 0x01 (so byte order is Go string order);
//   - INTERVAL: months, days (4 bytes each) and nanoseconds (8), each
//     sign-flipped: a total order by (months, days, time).
//
// A NULL of a fixed-width type is the flag and width zero bytes, so when
// every field is fixed-width all keys have one length and the blocks
// store them without offsets.

const (
	flagNullFirst byte = 0x00
	flagValue     byte = 0x01
	flagNullLast  byte = 0x02
)

// kind is how a field's values are encoded.
type kind uint8

const (
	kI64  kind = iota + 1 // BIGINT, TIMESTAMP
	kI32                  // INT, DATE
	kF64                  // DOUBLE
	kDec                  // DECIMAL
	kBool                 // BOOLEAN
	kStr                  // VARCHAR
	kIvl                  // INTERVAL
)

func kindOf(t types.T) (kind, error) {
	switch t.Kind {
	case types.BigInt, types.Timestamp:
		return kI64, nil
	case types.Int, types.Date:
		return kI32, nil
	case types.Double:
		return kF64, nil
	case types.Decimal:
		return kDec, nil
	case types.Boolean:
		return kBool, nil
	case types.Varchar:
		return kStr, nil
	case types.Interval:
		return kIvl, nil
	}
	return 0, fmt.Errorf("type %s cannot be ordered", t)
}

// width is the fixed byte width of a kind's value, or -1 for VARCHAR.
func (k kind) width() int {
	switch k {
	case kI64, kF64:
		return 8
	case kI32:
		return 4
	case kDec, kIvl:
		return 16
	case kBool:
		return 1
	}
	return -1
}

// field is one encoded column of a key.
type field struct {
	col        int
	kind       kind
	desc       bool
	nullsFirst bool
}

// reader is a typed view of one Arrow array, reset once per chunk so that
// encoding a value is a switch on a small tag.
type reader struct {
	arr   arrow.Array
	nulls bool
	i64   []int64
	i32   []int32
	f64   []float64
	dec   []decimal128.Num
	b     *array.Boolean
	str   *array.String
	ivl   []arrow.MonthDayNanoInterval
}

func (r *reader) reset(a arrow.Array) {
	*r = reader{arr: a, nulls: a.NullN() > 0}
	switch x := a.(type) {
	case *array.Int64:
		r.i64 = x.Int64Values()
	case *array.Timestamp:
		v := x.TimestampValues()
		r.i64 = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
	case *array.Int32:
		r.i32 = x.Int32Values()
	case *array.Date32:
		v := x.Date32Values()
		r.i32 = unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
	case *array.Float64:
		r.f64 = x.Float64Values()
	case *array.Decimal128:
		r.dec = x.Values()
	case *array.Boolean:
		r.b = x
	case *array.String:
		r.str = x
	case *array.MonthDayNanoInterval:
		r.ivl = x.MonthDayNanoIntervalValues()
	}
}

// canonFloat maps -0 to 0 and every NaN to one NaN, as SQL equality does.
func canonFloat(f float64) uint64 {
	if f == 0 {
		return 0
	}
	if f != f {
		return math.Float64bits(math.NaN())
	}
	return math.Float64bits(f)
}

// appendField appends the encoding of row i of r as field f.
func appendField(buf []byte, f *field, r *reader, i int) []byte {
	if r.nulls && r.arr.IsNull(i) {
		flag := flagNullLast
		if f.nullsFirst {
			flag = flagNullFirst
		}
		buf = append(buf, flag)
		if w := f.kind.width(); w > 0 {
			// Fixed-width fields keep their width when NULL, so keys of
			// fixed-width fields all have one length.
			buf = append(buf, zeros[:w]...)
		}
		return buf
	}
	buf = append(buf, flagValue)
	start := len(buf)
	switch f.kind {
	case kI64:
		buf = binary.BigEndian.AppendUint64(buf, uint64(r.i64[i])^(1<<63))
	case kI32:
		buf = binary.BigEndian.AppendUint32(buf, uint32(r.i32[i])^(1<<31))
	case kF64:
		b := canonFloat(r.f64[i])
		if b&(1<<63) != 0 {
			b = ^b
		} else {
			b |= 1 << 63
		}
		buf = binary.BigEndian.AppendUint64(buf, b)
	case kDec:
		v := r.dec[i]
		buf = binary.BigEndian.AppendUint64(buf, uint64(v.HighBits())^(1<<63))
		buf = binary.BigEndian.AppendUint64(buf, v.LowBits())
	case kBool:
		if r.b.Value(i) {
			buf = append(buf, 1)
		} else {
			buf = append(buf, 0)
		}
	case kStr:
		s := r.str.Value(i)
		for j := 0; j < len(s); j++ {
			if s[j] == 0 {
				buf = append(buf, 0, 0xFF)
			} else {
				buf = append(buf, s[j])
			}
		}
		buf = append(buf, 0, 1)
	case kIvl:
		v := r.ivl[i]
		buf = binary.BigEndian.AppendUint32(buf, uint32(v.Months)^(1<<31))
		buf = binary.BigEndian.AppendUint32(buf, uint32(v.Days)^(1<<31))
		buf = binary.BigEndian.AppendUint64(buf, uint64(v.Nanoseconds)^(1<<63))
	}
	if f.desc {
		for j := start; j < len(buf); j++ {
			buf[j] = ^buf[j]
		}
	}
	return buf
}

var errCorrupt = fmt.Errorf("corrupt row key")

var zeros [16]byte

// skipField returns the offset just past the field starting at pos.
func skipField(key []byte, pos int, f *field) (int, error) {
	if pos >= len(key) {
		return 0, errCorrupt
	}
	w := f.kind.width()
	if key[pos] != flagValue && w < 0 {
		return pos + 1, nil
	}
	pos++
	if w >= 0 {
		if pos+w > len(key) {
			return 0, errCorrupt
		}
		return pos + w, nil
	}
	var x byte
	if f.desc {
		x = 0xFF
	}
	for pos+1 < len(key) {
		if key[pos]^x == 0 {
			if key[pos+1]^x == 1 {
				return pos + 2, nil
			}
			pos += 2
			continue
		}
		pos++
	}
	return 0, errCorrupt
}

// sink receives decoded values of one output column: exactly one of the
// typed builders is set, chosen once when the output builder is made.
type sink struct {
	i64 *array.Int64Builder
	ts  *array.TimestampBuilder
	i32 *array.Int32Builder
	d32 *array.Date32Builder
	f64 *array.Float64Builder
	dec *array.Decimal128Builder
	b   *array.BooleanBuilder
	str *array.StringBuilder
	ivl *array.MonthDayNanoIntervalBuilder
	any array.Builder
}

func newSink(b array.Builder) sink {
	s := sink{any: b}
	switch x := b.(type) {
	case *array.Int64Builder:
		s.i64 = x
	case *array.TimestampBuilder:
		s.ts = x
	case *array.Int32Builder:
		s.i32 = x
	case *array.Date32Builder:
		s.d32 = x
	case *array.Float64Builder:
		s.f64 = x
	case *array.Decimal128Builder:
		s.dec = x
	case *array.BooleanBuilder:
		s.b = x
	case *array.StringBuilder:
		s.str = x
	case *array.MonthDayNanoIntervalBuilder:
		s.ivl = x
	}
	return s
}

// decodeField decodes the field starting at pos into s (nil: skip it) and
// returns the offset past it. scratch is reused for unescaped strings.
func decodeField(key []byte, pos int, f *field, s *sink, scratch *[]byte) (int, error) {
	if f.kind == kI64 && s != nil && pos+9 <= len(key) && key[pos] == flagValue {
		// Every BIGINT or TIMESTAMP value, without the copy to scratch.
		b := binary.BigEndian.Uint64(key[pos+1 : pos+9])
		if f.desc {
			b = ^b
		}
		if x := int64(b ^ (1 << 63)); s.ts != nil {
			s.ts.Append(arrow.Timestamp(x))
		} else {
			s.i64.Append(x)
		}
		return pos + 9, nil
	}
	end, err := skipField(key, pos, f)
	if err != nil {
		return 0, err
	}
	if s == nil {
		return end, nil
	}
	if key[pos] != flagValue {
		s.any.AppendNull()
		return end, nil
	}
	v := key[pos+1 : end]
	if f.desc || f.kind == kStr {
		buf := (*scratch)[:0]
		if f.desc {
			for _, c := range v {
				buf = append(buf, ^c)
			}
		} else {
			buf = append(buf, v...)
		}
		if f.kind == kStr {
			out := buf[:0]
			for j := 0; j < len(buf)-2; j++ {
				out = append(out, buf[j])
				if buf[j] == 0 {
					j++ // skip the escape 0xFF
				}
			}
			buf = out
		}
		*scratch = buf
		v = buf
	}
	switch f.kind { // kI64 values are all decoded above: skipField refuses a short one
	case kI32:
		x := int32(binary.BigEndian.Uint32(v) ^ (1 << 31))
		if s.d32 != nil {
			s.d32.Append(arrow.Date32(x))
		} else {
			s.i32.Append(x)
		}
	case kF64:
		b := binary.BigEndian.Uint64(v)
		if b&(1<<63) != 0 {
			b &^= 1 << 63
		} else {
			b = ^b
		}
		s.f64.Append(math.Float64frombits(b))
	case kDec:
		hi := int64(binary.BigEndian.Uint64(v) ^ (1 << 63))
		lo := binary.BigEndian.Uint64(v[8:])
		s.dec.Append(decimal128.New(hi, lo))
	case kBool:
		s.b.Append(v[0] != 0)
	case kStr:
		s.str.BinaryBuilder.Append(v)
	case kIvl:
		s.ivl.Append(arrow.MonthDayNanoInterval{
			Months:      int32(binary.BigEndian.Uint32(v) ^ (1 << 31)),
			Days:        int32(binary.BigEndian.Uint32(v[4:]) ^ (1 << 31)),
			Nanoseconds: int64(binary.BigEndian.Uint64(v[8:]) ^ (1 << 63)),
		})
	}
	return end, nil
}
