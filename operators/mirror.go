package operators

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Mirror passes each chunk on, then the same rows with columns a and b
// swapped, under the same ops; both under its schema, where a and b are
// each nullable when either is. The swap shares the input's arrays: no
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

// pushAs pushes c's rows under the Mirror's schema, with a and b swapped
// when swap is set, and with slot hint slots. The input's own record
// goes on unchanged when its schema is the Mirror's.
func (m *Mirror) pushAs(c *Chunk, slots *SlotHint, swap bool) error {
	if !swap && c.Rec.Schema().Equal(m.schema) {
		return m.out.Push(c)
	}
	m.cols = append(m.cols[:0], c.Rec.Columns()...)
	if swap {
		m.cols[m.a], m.cols[m.b] = m.cols[m.b], m.cols[m.a]
	}
	rec := array.NewRecordBatch(m.schema, m.cols, c.Rec.NumRows())
	clear(m.cols)
	defer rec.Release()
	return m.out.Push(&Chunk{Rec: rec, Ops: c.Ops, Slots: slots})
}

// Push implements Output.
func (m *Mirror) Push(msg Message) error {
	switch x := msg.(type) {
	case *Chunk:
		if err := m.pushAs(x, x.Slots, false); err != nil {
			return err
		}
		return m.pushAs(x, nil, true)
	case Watermark:
		if x.Column == m.a || x.Column == m.b {
			return nil
		}
	}
	return m.out.Push(msg)
}
