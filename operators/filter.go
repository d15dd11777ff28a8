package operators

import (
	"fmt"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/operators/eval"
	"github.com/sluicedb/sluice/types"
)

// Filter keeps the rows whose predicate is TRUE (NULL and FALSE drop),
// with their ops. A batch where every row is kept is passed through
// without a copy; a batch where none is kept emits nothing. Watermarks and
// barriers pass through unchanged.
type Filter struct {
	mem    memory.Allocator
	schema *arrow.Schema
	pred   *eval.Evaluator
	out    Output
	rows   []int32 // reused selection vector
}

// NewFilter returns a Filter over input schema in keeping rows where pred
// (a BOOLEAN expression over in's columns) is TRUE.
func NewFilter(mem memory.Allocator, in *arrow.Schema, pred expr.Expr, out Output) (*Filter, error) {
	if k := pred.Type().Kind; k != types.Boolean && k != types.Unknown {
		return nil, fmt.Errorf("filter: predicate %s is %s, not BOOLEAN", pred, pred.Type())
	}
	ev, err := eval.Compile(pred)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return &Filter{mem: mem, schema: in, pred: ev, out: out}, nil
}

// Schema implements Operator: a Filter emits its input schema.
func (f *Filter) Schema() *arrow.Schema { return f.schema }

// Close implements Operator. A Filter holds nothing between batches.
func (f *Filter) Close() error { return nil }

// Push implements Output.
func (f *Filter) Push(msg Message) error {
	c, ok := msg.(*Chunk)
	if !ok {
		return f.out.Push(msg)
	}
	n := c.Len()
	if n == 0 {
		return nil
	}
	mask, err := f.pred.Eval(f.mem, c.Rec)
	if err != nil {
		return fmt.Errorf("filter %s: %w", f.pred.Expr(), err)
	}
	rows := f.selection(mask, n)
	mask.Release()
	switch len(rows) {
	case 0:
		return nil
	case n:
		c.Rec.Retain()
		defer c.Rec.Release()
		return f.out.Push(c)
	}
	rec, err := eval.TakeRecord(f.mem, c.Rec, rows)
	if err != nil {
		return fmt.Errorf("filter: %w", err)
	}
	defer rec.Release()
	out := &Chunk{Rec: rec}
	if c.Ops != nil {
		out.Ops = make([]Op, len(rows))
		for i, r := range rows {
			out.Ops[i] = c.Ops[r]
		}
	}
	return f.out.Push(out)
}

// selection returns the indexes of rows where mask is valid and true.
func (f *Filter) selection(mask arrow.Array, n int) []int32 {
	rows := f.rows[:0]
	b, ok := mask.(*array.Boolean)
	if !ok { // an all-NULL predicate
		f.rows = rows
		return rows
	}
	d := b.Data()
	nb := int(bitutil.BytesForBits(int64(n)))
	vals := make([]byte, nb)
	bitutil.CopyBitmap(d.Buffers()[1].Bytes(), d.Offset(), n, vals, 0)
	if b.NullN() > 0 {
		bitutil.BitmapAnd(vals, b.NullBitmapBytes(), 0, int64(d.Offset()), vals, 0, int64(n))
	}
	if n&7 != 0 {
		vals[nb-1] &= byte(1<<(n&7)) - 1
	}
	for i, v := range vals {
		for v != 0 {
			rows = append(rows, int32(i*8+bits.TrailingZeros8(v)))
			v &= v - 1
		}
	}
	f.rows = rows
	return rows
}
