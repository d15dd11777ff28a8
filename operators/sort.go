package operators

import (
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/types"
)

// SortKey orders rows by one column.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// Sort is a bounded (query) operator: it buffers every row and, at the
// barrier that ends its input, emits them ordered by its keys. Rows equal
// on every key keep their arrival order.
type Sort struct {
	mem    memory.Allocator
	schema *arrow.Schema
	types  []types.T
	keys   []SortKey
	out    Output
	chunks []arrow.RecordBatch
}

// NewSort returns a Sort over rows of the given schema and SQL types.
func NewSort(mem memory.Allocator, schema *arrow.Schema, colTypes []types.T, keys []SortKey, out Output) *Sort {
	return &Sort{mem: mem, schema: schema, types: colTypes, keys: keys, out: out}
}

// Schema implements Operator.
func (s *Sort) Schema() *arrow.Schema { return s.schema }

// Push implements Operator.
func (s *Sort) Push(msg Message) error {
	switch x := msg.(type) {
	case *Chunk:
		if x.Len() > 0 {
			x.Rec.Retain()
			s.chunks = append(s.chunks, x.Rec)
		}
		return nil
	case Barrier:
		if err := s.emit(); err != nil {
			return err
		}
	}
	return s.out.Push(msg)
}

type sortRow struct {
	chunk, row int
	keys       []types.Datum
}

func (s *Sort) emit() error {
	defer s.Close()
	var rows []sortRow
	for ci, rec := range s.chunks {
		for r := 0; r < int(rec.NumRows()); r++ {
			k := make([]types.Datum, len(s.keys))
			for i, key := range s.keys {
				k[i] = types.DatumAt(rec.Column(key.Col), r, s.types[key.Col])
			}
			rows = append(rows, sortRow{chunk: ci, row: r, keys: k})
		}
	}
	slices.SortStableFunc(rows, func(a, b sortRow) int {
		for i, key := range s.keys {
			x, y := a.keys[i], b.keys[i]
			var c int
			switch {
			case x.Null && y.Null:
				c = 0
			case x.Null:
				c = 1
				if key.NullsFirst {
					c = -1
				}
			case y.Null:
				c = -1
				if key.NullsFirst {
					c = 1
				}
			default:
				c = types.Compare(x, y)
				if key.Desc {
					c = -c
				}
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	const batch = 4096
	for start := 0; start < len(rows); start += batch {
		end := min(start+batch, len(rows))
		b := array.NewRecordBuilder(s.mem, s.schema)
		for _, r := range rows[start:end] {
			rec := s.chunks[r.chunk]
			for c := range s.types {
				types.AppendDatum(b.Field(c), types.DatumAt(rec.Column(c), r.row, s.types[c]))
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		err := s.out.Push(&Chunk{Rec: rec})
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// Close implements Operator.
func (s *Sort) Close() error {
	for _, c := range s.chunks {
		c.Release()
	}
	s.chunks = nil
	return nil
}

// Limit is a bounded (query) operator that skips Offset rows and passes
// at most Count (Count < 0: all).
type Limit struct {
	schema        *arrow.Schema
	offset, count int64
	out           Output
}

// NewLimit returns a Limit.
func NewLimit(schema *arrow.Schema, offset, count int64, out Output) *Limit {
	return &Limit{schema: schema, offset: offset, count: count, out: out}
}

// Schema implements Operator.
func (l *Limit) Schema() *arrow.Schema { return l.schema }

// Push implements Operator.
func (l *Limit) Push(msg Message) error {
	c, ok := msg.(*Chunk)
	if !ok {
		return l.out.Push(msg)
	}
	n := int64(c.Len())
	start := min(l.offset, n)
	l.offset -= start
	end := n
	if l.count >= 0 {
		end = min(n, start+l.count)
		l.count -= end - start
	}
	if end <= start {
		return nil
	}
	if start == 0 && end == n {
		return l.out.Push(c)
	}
	rec := c.Rec.NewSlice(start, end)
	defer rec.Release()
	var ops []Op
	if c.Ops != nil {
		ops = c.Ops[start:end]
	}
	return l.out.Push(&Chunk{Rec: rec, Ops: ops})
}

// Close implements Operator.
func (l *Limit) Close() error { return nil }
