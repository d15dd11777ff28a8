package operators

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// Collector is the end of a bounded (query) pipeline: it keeps the chunks
// it receives until Release. Retractions are not expected in query output
// and are kept as they are.
type Collector struct {
	schema *arrow.Schema
	Chunks []*Chunk
}

// NewCollector returns a Collector for rows of schema.
func NewCollector(schema *arrow.Schema) *Collector { return &Collector{schema: schema} }

// Schema implements Operator.
func (c *Collector) Schema() *arrow.Schema { return c.schema }

// Push implements Operator.
func (c *Collector) Push(msg Message) error {
	if x, ok := msg.(*Chunk); ok && x.Len() > 0 {
		x.Rec.Retain()
		c.Chunks = append(c.Chunks, &Chunk{Rec: x.Rec, Ops: x.Ops})
	}
	return nil
}

// Close releases the collected chunks.
func (c *Collector) Close() error {
	for _, ch := range c.Chunks {
		ch.Rec.Release()
	}
	c.Chunks = nil
	return nil
}
