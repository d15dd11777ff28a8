package operators

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Mirror passes each chunk on, then the same rows with columns a and b
// swapped, under the same ops. The swap shares the input's arrays: no
// value is copied. Slot hints stay with the first chunk; the mirrored
// rows are other rows of the view. A Watermark on a or b is dropped (the
// mirrored rows hold the other column's values there); others, and
// Barriers, pass through.
type Mirror struct {
	schema *arrow.Schema
	a, b   int
	cols   []arrow.Array // scratch for the mirrored record's columns
	out    Output
}

// NewMirror returns a Mirror of columns a and b of schema, which must
// have the same type.
func NewMirror(schema *arrow.Schema, a, b int, out Output) *Mirror {
	fields := append([]arrow.Field{}, schema.Fields()...)
	null := fields[a].Nullable || fields[b].Nullable
	fields[a].Nullable, fields[b].Nullable = null, null
	md := schema.Metadata()
	return &Mirror{schema: arrow.NewSchema(fields, &md), a: a, b: b, out: out}
}

// Schema implements Operator.
func (m *Mirror) Schema() *arrow.Schema { return m.schema }

// Close implements Operator. A Mirror holds nothing between batches.
func (m *Mirror) Close() error { return nil }

// Push implements Output.
func (m *Mirror) Push(msg Message) error {
	switch x := msg.(type) {
	case *Chunk:
		if err := m.out.Push(x); err != nil {
			return err
		}
		m.cols = append(m.cols[:0], x.Rec.Columns()...)
		m.cols[m.a], m.cols[m.b] = m.cols[m.b], m.cols[m.a]
		rec := array.NewRecordBatch(m.schema, m.cols, x.Rec.NumRows())
		clear(m.cols)
		defer rec.Release()
		return m.out.Push(&Chunk{Rec: rec, Ops: x.Ops})
	case Watermark:
		if x.Column == m.a || x.Column == m.b {
			return nil
		}
	}
	return m.out.Push(msg)
}
