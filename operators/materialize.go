package operators

import "github.com/apache/arrow-go/v18/arrow"

// EpochFunc receives the changes a Materialize collected in one epoch. It
// takes ownership of the chunks' records and must release them.
type EpochFunc func(epoch uint64, changes []*Chunk) error

// Materialize is the last operator of a view's pipeline: it collects the
// epoch's changes and, at each barrier, hands them to its EpochFunc, which
// commits them to the view's store and passes them downstream.
type Materialize struct {
	schema  *arrow.Schema
	pending []*Chunk
	onEpoch EpochFunc
}

// NewMaterialize returns a Materialize for rows of schema.
func NewMaterialize(schema *arrow.Schema, onEpoch EpochFunc) *Materialize {
	return &Materialize{schema: schema, onEpoch: onEpoch}
}

// Schema implements Operator.
func (m *Materialize) Schema() *arrow.Schema { return m.schema }

// Push implements Operator.
func (m *Materialize) Push(msg Message) error {
	switch x := msg.(type) {
	case *Chunk:
		if x.Len() == 0 {
			return nil
		}
		x.Rec.Retain()
		m.pending = append(m.pending, &Chunk{Rec: x.Rec, Ops: append([]Op(nil), x.Ops...), Slots: x.Slots})
	case Barrier:
		changes := m.pending
		m.pending = nil
		return m.onEpoch(x.Epoch, changes)
	}
	return nil
}

// Close implements Operator.
func (m *Materialize) Close() error {
	for _, c := range m.pending {
		c.Rec.Release()
	}
	m.pending = nil
	return nil
}
