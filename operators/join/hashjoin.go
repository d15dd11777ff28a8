// Package join holds the join operators.
package join

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/eval"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/types"
)

// Kind is the join kind.
type Kind uint8

// The join kinds.
const (
	Inner Kind = iota + 1
	LeftOuter
)

// side is one input's state: its rows grouped by join key, each distinct
// row with a multiplicity.
type side struct {
	types   []types.T
	keys    []int
	buckets map[string][]entry
	enc     []state.KeyEncoder
}

type entry struct {
	row   []types.Datum
	count int64
}

// HashJoin is an equi-join of two inputs, exposed as two ports (Left and
// Right). The inner join is symmetric and incremental: a row arriving on
// either side is matched against the other side's state and then added
// to (or, for a retraction, removed from) its own, so it is correct under
// inserts and deletes in any order. Update pairs come out as a Delete
// and an Insert.
//
// LeftOuter is bounded only (for queries): both inputs are buffered until
// the barrier, then left rows without a match that passes the residual are
// emitted padded with NULLs.
type HashJoin struct {
	mem      memory.Allocator
	kind     Kind
	schema   *arrow.Schema
	outTypes []types.T
	sides    [2]*side
	residual expr.Expr
	out      operators.Output
	barriers [2]uint64
	seen     [2]bool
	kbuf     []byte
	left     [][]types.Datum // LeftOuter: buffered left rows
}

// New returns a HashJoin. leftKeys and rightKeys are the equi-join
// columns of each input; residual (over the concatenated row, may be nil)
// is evaluated only by LeftOuter — for Inner, put a Filter after the join.
func New(mem memory.Allocator, kind Kind, leftTypes, rightTypes []types.T, leftKeys, rightKeys []int, residual expr.Expr, outSchema *arrow.Schema, out operators.Output) *HashJoin {
	j := &HashJoin{mem: mem, kind: kind, schema: outSchema, residual: residual, out: out}
	j.sides[0] = &side{types: leftTypes, keys: leftKeys, buckets: map[string][]entry{}, enc: make([]state.KeyEncoder, len(leftKeys))}
	j.sides[1] = &side{types: rightTypes, keys: rightKeys, buckets: map[string][]entry{}, enc: make([]state.KeyEncoder, len(rightKeys))}
	j.outTypes = append(append([]types.T{}, leftTypes...), rightTypes...)
	return j
}

// Left is the port for the left input.
func (j *HashJoin) Left() operators.Output { return port{j, 0} }

// Right is the port for the right input.
func (j *HashJoin) Right() operators.Output { return port{j, 1} }

type port struct {
	j *HashJoin
	i int
}

func (p port) Push(m operators.Message) error { return p.j.push(p.i, m) }

// Schema implements operators.Operator.
func (j *HashJoin) Schema() *arrow.Schema { return j.schema }

// Push implements operators.Operator; a HashJoin is fed through its ports.
func (j *HashJoin) Push(m operators.Message) error { return j.push(0, m) }

// Close implements operators.Operator.
func (j *HashJoin) Close() error {
	for _, s := range j.sides {
		s.buckets = map[string][]entry{}
	}
	j.left = nil
	return nil
}

func (j *HashJoin) push(in int, m operators.Message) error {
	switch x := m.(type) {
	case *operators.Chunk:
		return j.chunk(in, x)
	case operators.Barrier:
		j.seen[in] = true
		if !j.seen[0] || !j.seen[1] {
			return nil
		}
		j.seen = [2]bool{}
		if j.kind == LeftOuter {
			if err := j.finishLeftOuter(); err != nil {
				return err
			}
		}
		return j.out.Push(x)
	case operators.Watermark:
		// Watermarks are handled by the windowed joins; the regular join
		// does not forward them (its output has no event-time guarantee).
		return nil
	}
	return j.out.Push(m)
}

// keyOf encodes row i's key into j.kbuf; ok is false if a key is NULL
// (NULL never equals anything).
func (j *HashJoin) keyOf(s *side, i int) (string, bool) {
	j.kbuf = j.kbuf[:0]
	for k := range s.keys {
		if s.enc[k].IsNull(i) {
			return "", false
		}
		j.kbuf = s.enc[k].Append(j.kbuf, i)
	}
	return string(j.kbuf), true
}

func (j *HashJoin) chunk(in int, c *operators.Chunk) error {
	s, other := j.sides[in], j.sides[1-in]
	rec := c.Rec
	for k, col := range s.keys {
		s.enc[k].Reset(rec.Column(col))
	}
	if j.kind == LeftOuter {
		for i := 0; i < c.Len(); i++ {
			row := rowAt(rec, i, s.types)
			if in == 0 {
				j.left = append(j.left, row)
				continue
			}
			if key, ok := j.keyOf(s, i); ok {
				s.add(key, row, 1)
			}
		}
		return nil
	}
	b := array.NewRecordBuilder(j.mem, j.schema)
	defer b.Release()
	var ops []operators.Op
	for i := 0; i < c.Len(); i++ {
		key, ok := j.keyOf(s, i)
		if !ok {
			continue
		}
		sign := c.Op(i).Sign()
		row := rowAt(rec, i, s.types)
		op := operators.Insert
		if sign < 0 {
			op = operators.Delete
		}
		for _, e := range other.buckets[key] {
			for n := int64(0); n < e.count; n++ {
				if in == 0 {
					appendRow(b, 0, row)
					appendRow(b, len(row), e.row)
				} else {
					appendRow(b, 0, e.row)
					appendRow(b, len(e.row), row)
				}
				ops = append(ops, op)
			}
		}
		s.add(key, row, sign)
	}
	if len(ops) == 0 {
		return nil
	}
	out := b.NewRecordBatch()
	defer out.Release()
	allInserts := true
	for _, o := range ops {
		allInserts = allInserts && o == operators.Insert
	}
	if allInserts {
		ops = nil
	}
	return j.out.Push(&operators.Chunk{Rec: out, Ops: ops})
}

func (s *side) add(key string, row []types.Datum, sign int64) {
	b := s.buckets[key]
	for i := range b {
		if rowsEqual(b[i].row, row) {
			b[i].count += sign
			if b[i].count == 0 {
				b[i] = b[len(b)-1]
				b = b[:len(b)-1]
				if len(b) == 0 {
					delete(s.buckets, key)
					return
				}
			}
			s.buckets[key] = b
			return
		}
	}
	if sign > 0 {
		s.buckets[key] = append(b, entry{row: row, count: sign})
	}
}

func (j *HashJoin) finishLeftOuter() error {
	defer func() { j.left = nil }()
	b := array.NewRecordBuilder(j.mem, j.schema)
	defer b.Release()
	l, r := j.sides[0], j.sides[1]
	nulls := make([]types.Datum, len(r.types))
	for i, t := range r.types {
		nulls[i] = types.NewNull(t)
	}
	combined := make([]types.Datum, len(l.types)+len(r.types))
	rows := 0
	for _, row := range j.left {
		matched := false
		if key, ok := encodeDatums(&j.kbuf, row, l); ok {
			for _, e := range r.buckets[key] {
				copy(combined, row)
				copy(combined[len(row):], e.row)
				if j.residual != nil {
					v, err := eval.EvalScalar(j.residual, combined)
					if err != nil {
						return err
					}
					if !v.Bool() {
						continue
					}
				}
				for n := int64(0); n < e.count; n++ {
					appendRow(b, 0, combined)
					rows++
				}
				matched = true
			}
		}
		if !matched {
			appendRow(b, 0, row)
			appendRow(b, len(row), nulls)
			rows++
		}
	}
	if rows == 0 {
		return nil
	}
	out := b.NewRecordBatch()
	defer out.Release()
	return j.out.Push(&operators.Chunk{Rec: out})
}

func encodeDatums(buf *[]byte, row []types.Datum, s *side) (string, bool) {
	*buf = (*buf)[:0]
	for _, k := range s.keys {
		if row[k].Null {
			return "", false
		}
		*buf = state.AppendDatum(*buf, row[k], s.types[k])
	}
	return string(*buf), true
}

func rowAt(rec arrow.RecordBatch, i int, ts []types.T) []types.Datum {
	row := make([]types.Datum, len(ts))
	for c, t := range ts {
		row[c] = types.DatumAt(rec.Column(c), i, t)
	}
	return row
}

func appendRow(b *array.RecordBuilder, offset int, row []types.Datum) {
	for i, d := range row {
		types.AppendDatum(b.Field(offset+i), d)
	}
}

func rowsEqual(a, b []types.Datum) bool {
	for i := range a {
		if a[i].Null != b[i].Null || (!a[i].Null && types.Compare(a[i], b[i]) != 0) {
			return false
		}
	}
	return true
}
