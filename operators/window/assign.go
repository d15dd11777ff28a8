// Package window holds the event-time window operators: Assign, which
// tags each row with its TUMBLE or HOP windows, and Session, which groups
// each key's rows into gap-separated sessions. Both append window_start
// and window_end (TIMESTAMP, Arrow Timestamp µs) to their input columns
// and translate the input's event-time watermark into watermarks on those
// columns, so a downstream aggregate can close windows and free state.
package window

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/eval"
)

// Kind is a fixed-size window kind.
type Kind uint8

// The fixed-size window kinds.
const (
	Tumble Kind = iota // TUMBLE(t, ts, size): disjoint windows of size
	Hop                // HOP(t, ts, slide, size): windows of size every slide
)

// String returns the SQL name of k.
func (k Kind) String() string {
	switch k {
	case Tumble:
		return "TUMBLE"
	case Hop:
		return "HOP"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// tsType is the Arrow type of window_start and window_end.
var tsType = &arrow.TimestampType{Unit: arrow.Microsecond}

// windowFields returns in's fields followed by window_start, window_end.
func windowSchema(in *arrow.Schema) *arrow.Schema {
	fields := append([]arrow.Field(nil), in.Fields()...)
	fields = append(fields,
		arrow.Field{Name: "window_start", Type: tsType, Nullable: true},
		arrow.Field{Name: "window_end", Type: tsType, Nullable: true})
	return arrow.NewSchema(fields, nil)
}

// floorTo returns the largest multiple of step not above ts (step > 0),
// rounding toward minus infinity for negative ts too.
func floorTo(ts, step int64) int64 {
	r := ts % step
	r += (r >> 63) & step // r < 0 → r + step
	return ts - r
}

// Assign assigns every row to its TUMBLE or HOP windows. Its output is the
// input columns followed by window_start and window_end; a HOP row
// appears once per window that contains it (size/slide times), each
// window [start, start+size). Rows whose timestamp is NULL are dropped
// and counted (NullRows). Ops are carried: a retracted input row retracts
// all its window rows.
//
// Output layout: an input chunk of n rows becomes size/slide output
// chunks of (at most) n rows, the j-th holding every row's j-th window;
// the input columns are shared with the input chunk, not copied (only
// when some timestamps are NULL are the rows gathered once). An
// UpdateBefore/UpdateAfter pair whose rows land in different windows is
// emitted as Delete + Insert, since its key changed.
//
// Watermarks: one on the timestamp column is forwarded as is, then
// translated to window_start (the least start a row at or above it can
// produce) and window_end (that plus size), in that order. Other
// watermarks and barriers pass through.
type Assign struct {
	mem    memory.Allocator
	in     *arrow.Schema
	schema *arrow.Schema
	tsCol  int
	kind   Kind
	size   int64
	slide  int64
	copies int
	out    operators.Output

	nullRows int64
	keep     []int32
	base     []int64
	ops      []operators.Op
	closed   bool
}

var _ operators.Operator = (*Assign)(nil)

// NewAssign returns an Assign over input schema in whose column tsCol is a
// TIMESTAMP (Arrow Timestamp µs). size and slide are in microseconds;
// slide must equal size for Tumble, and for Hop size must be a multiple of
// slide.
func NewAssign(mem memory.Allocator, in *arrow.Schema, tsCol int, kind Kind, size, slide int64, out operators.Output) (*Assign, error) {
	if mem == nil || in == nil || out == nil {
		return nil, fmt.Errorf("window assign: needs an allocator, an input schema and an output")
	}
	if err := checkTSCol(in, tsCol); err != nil {
		return nil, fmt.Errorf("window assign: %w", err)
	}
	if size <= 0 || slide <= 0 {
		return nil, fmt.Errorf("window assign: %s size %d and slide %d must be positive", kind, size, slide)
	}
	switch kind {
	case Tumble:
		if slide != size {
			return nil, fmt.Errorf("window assign: TUMBLE slide %d must equal its size %d", slide, size)
		}
	case Hop:
		if size%slide != 0 {
			return nil, fmt.Errorf("window assign: HOP size %d is not a multiple of its slide %d", size, slide)
		}
		if size/slide > 1<<16 {
			return nil, fmt.Errorf("window assign: HOP size %d / slide %d gives too many windows per row", size, slide)
		}
	default:
		return nil, fmt.Errorf("window assign: unknown window kind %d", kind)
	}
	return &Assign{
		mem: mem, in: in, schema: windowSchema(in), tsCol: tsCol, kind: kind,
		size: size, slide: slide, copies: int(size / slide), out: out,
	}, nil
}

func checkTSCol(in *arrow.Schema, tsCol int) error {
	if tsCol < 0 || tsCol >= in.NumFields() {
		return fmt.Errorf("time column %d out of range (%d columns)", tsCol, in.NumFields())
	}
	if t, ok := in.Field(tsCol).Type.(*arrow.TimestampType); !ok || t.Unit != arrow.Microsecond {
		return fmt.Errorf("time column %q is %s, want a TIMESTAMP (µs)", in.Field(tsCol).Name, in.Field(tsCol).Type)
	}
	return nil
}

// Schema returns the input columns followed by window_start, window_end.
func (a *Assign) Schema() *arrow.Schema { return a.schema }

// NullRows is the number of rows dropped because their timestamp was NULL.
func (a *Assign) NullRows() int64 { return a.nullRows }

// StartWatermark is the window_start watermark implied by a timestamp
// watermark wm: the least window_start a row with ts >= wm can get.
func (a *Assign) StartWatermark(wm int64) int64 {
	return floorTo(wm, a.slide) - a.size + a.slide
}

// Close implements operators.Operator; Assign holds no state.
func (a *Assign) Close() error {
	a.closed = true
	a.keep, a.base, a.ops = nil, nil, nil
	return nil
}

// Push implements operators.Output.
func (a *Assign) Push(msg operators.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("window assign: panic: %v", r)
		}
	}()
	if a.closed {
		return fmt.Errorf("window assign: Push after Close")
	}
	switch m := msg.(type) {
	case *operators.Chunk:
		return a.pushChunk(m)
	case operators.Watermark:
		if m.Column != a.tsCol {
			return a.out.Push(m)
		}
		ws := a.StartWatermark(m.Time)
		n := a.in.NumFields()
		for _, w := range []operators.Watermark{m, {Column: n, Time: ws}, {Column: n + 1, Time: ws + a.size}} {
			if err := a.out.Push(w); err != nil {
				return err
			}
		}
		return nil
	}
	return a.out.Push(msg)
}

func (a *Assign) pushChunk(c *operators.Chunk) error {
	rec, ops := c.Rec, c.Ops
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	if int(rec.NumCols()) != a.in.NumFields() {
		return fmt.Errorf("window assign: chunk has %d columns, want %d", rec.NumCols(), a.in.NumFields())
	}
	if ops != nil && len(ops) != n {
		return fmt.Errorf("window assign: chunk has %d ops for %d rows", len(ops), n)
	}
	tsArr, ok := rec.Column(a.tsCol).(*array.Timestamp)
	if !ok {
		return fmt.Errorf("window assign: time column is %s, want a TIMESTAMP", rec.Column(a.tsCol).DataType())
	}
	if nulls := tsArr.NullN(); nulls > 0 {
		keep := a.keep[:0]
		for i := 0; i < n; i++ {
			if tsArr.IsValid(i) {
				keep = append(keep, int32(i))
			}
		}
		a.keep = keep
		a.nullRows += int64(nulls)
		if len(keep) == 0 {
			return nil
		}
		g, err := eval.TakeRecord(a.mem, rec, keep)
		if err != nil {
			return fmt.Errorf("window assign: dropping NULL timestamps: %w", err)
		}
		defer g.Release()
		if ops != nil {
			nops := make([]operators.Op, len(keep))
			for j, i := range keep {
				nops[j] = ops[i]
			}
			ops = nops
		}
		rec, n = g, len(keep)
		tsArr = rec.Column(a.tsCol).(*array.Timestamp)
	}
	ts := tsArr.TimestampValues()[:n]
	base := growSlice(&a.base, n)
	slide := a.slide
	for i, t := range ts {
		base[i] = floorTo(int64(t), slide)
	}
	ops = a.splitPairs(ops, base)

	cols := make([]arrow.Array, a.in.NumFields()+2)
	copy(cols, rec.Columns())
	nin := a.in.NumFields()
	// One buffer holds every copy's window_start and window_end; each
	// array is a view at an offset into it.
	buf := memory.NewResizableBuffer(a.mem)
	defer buf.Release()
	buf.Resize(2 * a.copies * n * 8)
	vals := arrow.Int64Traits.CastFromBytes(buf.Bytes())[:2*a.copies*n]
	for j := 0; j < a.copies; j++ {
		shift := int64(j) * slide
		s, e := vals[2*j*n:(2*j+1)*n], vals[(2*j+1)*n:(2*j+2)*n]
		end := a.size - shift
		for i, b := range base {
			s[i] = b - shift
			e[i] = b + end
		}
	}
	for j := 0; j < a.copies; j++ {
		ws, we := timestampView(buf, 2*j*n, n), timestampView(buf, (2*j+1)*n, n)
		cols[nin], cols[nin+1] = ws, we
		out := array.NewRecordBatch(a.schema, cols, int64(n))
		ws.Release()
		we.Release()
		err := a.out.Push(&operators.Chunk{Rec: out, Ops: ops})
		out.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// timestampView returns n non-NULL Timestamp µs values of buf starting at
// element off (the array takes its own reference to buf).
func timestampView(buf *memory.Buffer, off, n int) arrow.Array {
	d := array.NewData(tsType, n, []*memory.Buffer{nil, buf}, nil, 0, off)
	arr := array.NewTimestampData(d)
	d.Release()
	return arr
}

// splitPairs returns ops with every UpdateBefore/UpdateAfter pair whose
// two rows fall in different windows (different base) turned into
// Delete + Insert, and unpaired update halves likewise; ops itself when
// nothing changes.
func (a *Assign) splitPairs(ops []operators.Op, base []int64) []operators.Op {
	if ops == nil {
		return nil
	}
	var out []operators.Op
	set := func(i int, op operators.Op) {
		if out == nil {
			out = growSlice(&a.ops, len(ops))
			copy(out, ops)
		}
		out[i] = op
	}
	for i := 0; i < len(ops); i++ {
		switch ops[i] {
		case operators.UpdateBefore:
			if i+1 < len(ops) && ops[i+1] == operators.UpdateAfter {
				if base[i] != base[i+1] {
					set(i, operators.Delete)
					set(i+1, operators.Insert)
				}
				i++
				continue
			}
			set(i, operators.Delete)
		case operators.UpdateAfter:
			set(i, operators.Insert)
		}
	}
	if out == nil {
		return ops
	}
	return out
}

// growSlice returns (*s)[:n], reallocating when the capacity is short.
func growSlice[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n, n+n/4)
	}
	*s = (*s)[:n]
	return *s
}
