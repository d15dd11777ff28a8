package state

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// Store holds the current rows of a table or materialized view in columnar
// slots, with a hash index on the key for point lookups.
//
// A keyed store (keyed=true) holds at most one row per key; an Insert of a
// present key or a Delete of an absent one is an error. An unkeyed store is
// a multiset: the whole row is the key and each slot counts its copies.
//
// A Store is not safe for concurrent use; its owner locks around it.
type Store struct {
	schema types.Schema
	keyed  bool
	key    []int
	cols   []column
	count  []int64 // copies per slot; 0 marks a free slot
	free   []uint32
	rows   int64 // live rows, counting multiset copies

	// Exactly one index is used: intIdx for a single non-null-able
	// BIGINT-like key, else idx on encoded key bytes.
	intKey   bool
	intIdx   map[int64]uint32
	nullSlot int64 // slot of the NULL key in the integer index, or -1
	idx      map[string]uint32

	enc  []KeyEncoder
	kbuf []byte
}

// NewStore makes an empty store. With keyed=false, key is ignored and
// rows form a multiset.
func NewStore(schema types.Schema, key []int, keyed bool) *Store {
	s := &Store{schema: schema, keyed: keyed, key: key, nullSlot: -1}
	if !keyed {
		s.key = make([]int, len(schema))
		for i := range s.key {
			s.key[i] = i
		}
	}
	s.cols = make([]column, len(schema))
	for i, c := range schema {
		s.cols[i].kind = c.Type.Kind
		s.cols[i].t = c.Type
	}
	if keyed && len(key) == 1 {
		switch schema[key[0]].Type.Kind {
		case types.BigInt, types.Int, types.Timestamp, types.Date:
			s.intKey = true
		}
	}
	if s.intKey {
		s.intIdx = make(map[int64]uint32)
	} else {
		s.idx = make(map[string]uint32)
	}
	s.enc = make([]KeyEncoder, len(s.key))
	return s
}

// Schema returns the store's columns.
func (s *Store) Schema() types.Schema { return s.schema }

// Len is the number of rows (multiset copies included).
func (s *Store) Len() int64 { return s.rows }

// Apply folds a chunk of changes into the store.
func (s *Store) Apply(c *operators.Chunk) error {
	rec := c.Rec
	n := int(rec.NumRows())
	if s.intKey {
		return s.applyInt(c, n)
	}
	for k, col := range s.key {
		s.enc[k].Reset(rec.Column(col))
	}
	for i := 0; i < n; i++ {
		s.kbuf = s.kbuf[:0]
		for k := range s.enc {
			s.kbuf = s.enc[k].Append(s.kbuf, i)
		}
		slot, ok := s.idx[string(s.kbuf)]
		if c.Op(i).IsRetract() {
			if !ok {
				return s.missing(rec, i)
			}
			if err := s.retract(slot); err != nil {
				return err
			}
			if s.count[slot] == 0 {
				delete(s.idx, string(s.kbuf))
			}
			continue
		}
		if ok {
			if s.keyed {
				return s.duplicate(rec, i)
			}
			s.count[slot]++
			s.rows++
			continue
		}
		slot = s.alloc(rec, i)
		s.idx[string(s.kbuf)] = slot
	}
	return nil
}

func (s *Store) applyInt(c *operators.Chunk, n int) error {
	rec := c.Rec
	keyArr := rec.Column(s.key[0])
	var e KeyEncoder
	e.Reset(keyArr)
	for i := 0; i < n; i++ {
		if keyArr.IsNull(i) {
			if err := s.applyNullKey(c.Op(i), rec, i); err != nil {
				return err
			}
			continue
		}
		var k int64
		if e.i64 != nil {
			k = e.i64[i]
		} else {
			k = int64(e.i32[i])
		}
		slot, ok := s.intIdx[k]
		if c.Op(i).IsRetract() {
			if !ok {
				return s.missing(rec, i)
			}
			if err := s.retract(slot); err != nil {
				return err
			}
			if s.count[slot] == 0 {
				delete(s.intIdx, k)
			}
			continue
		}
		if ok {
			return s.duplicate(rec, i)
		}
		s.intIdx[k] = s.alloc(rec, i)
	}
	return nil
}

// applyNullKey applies a change to the row whose single integer key is
// NULL (a GROUP BY key may be NULL); it lives outside the integer index.
func (s *Store) applyNullKey(op operators.Op, rec arrow.RecordBatch, i int) error {
	if op.IsRetract() {
		if s.nullSlot < 0 {
			return s.missing(rec, i)
		}
		slot := uint32(s.nullSlot)
		if err := s.retract(slot); err != nil {
			return err
		}
		if s.count[slot] == 0 {
			s.nullSlot = -1
		}
		return nil
	}
	if s.nullSlot >= 0 {
		return s.duplicate(rec, i)
	}
	s.nullSlot = int64(s.alloc(rec, i))
	return nil
}

func (s *Store) retract(slot uint32) error {
	s.count[slot]--
	s.rows--
	if s.count[slot] == 0 {
		for c := range s.cols {
			s.cols[c].clear(int(slot))
		}
		s.free = append(s.free, slot)
	}
	return nil
}

func (s *Store) alloc(rec arrow.RecordBatch, i int) uint32 {
	var slot uint32
	if n := len(s.free); n > 0 {
		slot = s.free[n-1]
		s.free = s.free[:n-1]
		for c := range s.cols {
			s.cols[c].set(int(slot), rec.Column(c), i)
		}
		s.count[slot] = 1
	} else {
		slot = uint32(len(s.count))
		for c := range s.cols {
			s.cols[c].push(rec.Column(c), i)
		}
		s.count = append(s.count, 1)
	}
	s.rows++
	return slot
}

func (s *Store) rowString(rec arrow.RecordBatch, i int) string {
	parts := ""
	for c, col := range s.schema {
		if c > 0 {
			parts += ", "
		}
		parts += types.DatumAt(rec.Column(c), i, col.Type).String()
	}
	return "(" + parts + ")"
}

func (s *Store) missing(rec arrow.RecordBatch, i int) error {
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "state inconsistency: delete of a row that is not present: %s", s.rowString(rec, i))
}

func (s *Store) duplicate(rec arrow.RecordBatch, i int) error {
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "state inconsistency: insert of a key that is present: %s", s.rowString(rec, i))
}

// KeyOf encodes key values (one per key column, of the columns' types)
// for Lookup.
func (s *Store) lookupSlot(key []types.Datum) (uint32, bool) {
	if len(key) != len(s.key) {
		return 0, false
	}
	if s.intKey {
		if key[0].Null {
			return uint32(s.nullSlot), s.nullSlot >= 0
		}
		slot, ok := s.intIdx[key[0].I]
		return slot, ok
	}
	s.kbuf = s.kbuf[:0]
	for k, col := range s.key {
		s.kbuf = AppendDatum(s.kbuf, key[k], s.schema[col].Type)
	}
	slot, ok := s.idx[string(s.kbuf)]
	return slot, ok
}

// Lookup returns the row with the given key (one value per key column,
// each of that column's type), restricted to cols, appended to dst.
// Lookup on an unkeyed store matches whole rows.
func (s *Store) Lookup(key []types.Datum, cols []int, dst []types.Datum) ([]types.Datum, bool) {
	slot, ok := s.lookupSlot(key)
	if !ok {
		return dst, false
	}
	for _, c := range cols {
		dst = append(dst, s.cols[c].datum(int(slot)))
	}
	return dst, true
}

// Row returns every column of the row at key.
func (s *Store) Row(key []types.Datum) ([]types.Datum, bool) {
	return s.Lookup(key, allCols(len(s.schema)), nil)
}

func allCols(n int) []int {
	c := make([]int, n)
	for i := range c {
		c[i] = i
	}
	return c
}

// Scan emits the store's rows, projected to cols, as Arrow record batches
// of up to batchSize rows. Multiset rows appear once per copy. The record
// passed to fn is released after fn returns.
func (s *Store) Scan(mem memory.Allocator, cols []int, batchSize int, fn func(arrow.RecordBatch) error) error {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: s.schema[c].Name, Type: s.schema[c].Type.Arrow(), Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	rows := 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		rows = 0
		return fn(rec)
	}
	for slot, cnt := range s.count {
		for ; cnt > 0; cnt-- {
			for i, c := range cols {
				s.cols[c].appendTo(b.Field(i), slot)
			}
			rows++
			if rows >= batchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// Rows calls fn with every row (all columns) as Datums; multiset rows once
// per copy. It is for DML paths over keyed tables, not hot loops.
func (s *Store) Rows(fn func(row []types.Datum) error) error {
	row := make([]types.Datum, len(s.schema))
	for slot, cnt := range s.count {
		if cnt == 0 {
			continue
		}
		for c := range s.cols {
			row[c] = s.cols[c].datum(slot)
		}
		for ; cnt > 0; cnt-- {
			if err := fn(row); err != nil {
				return err
			}
		}
	}
	return nil
}

// column is one column's values by slot.
type column struct {
	kind  types.Kind
	t     types.T
	ints  []int64
	flts  []float64
	strs  []string
	decs  []decimal128.Num
	nulls []uint64 // bit set: value is NULL
}

func (c *column) isNull(slot int) bool {
	w := slot >> 6
	return w < len(c.nulls) && c.nulls[w]&(1<<(slot&63)) != 0
}

func (c *column) setNull(slot int, null bool) {
	w := slot >> 6
	if null {
		for len(c.nulls) <= w {
			c.nulls = append(c.nulls, 0)
		}
		c.nulls[w] |= 1 << (slot & 63)
	} else if w < len(c.nulls) {
		c.nulls[w] &^= 1 << (slot & 63)
	}
}

// push appends row i of a as a new slot.
func (c *column) push(a arrow.Array, i int) {
	slot := 0
	switch c.kind {
	case types.Double:
		slot = len(c.flts)
		c.flts = append(c.flts, 0)
	case types.Varchar:
		slot = len(c.strs)
		c.strs = append(c.strs, "")
	case types.Decimal:
		slot = len(c.decs)
		c.decs = append(c.decs, decimal128.Num{})
	default:
		slot = len(c.ints)
		c.ints = append(c.ints, 0)
	}
	c.set(slot, a, i)
}

// set overwrites slot with row i of a.
func (c *column) set(slot int, a arrow.Array, i int) {
	null := a.IsNull(i)
	c.setNull(slot, null)
	if null {
		return
	}
	switch x := a.(type) {
	case *array.Int64:
		c.ints[slot] = x.Value(i)
	case *array.Int32:
		c.ints[slot] = int64(x.Value(i))
	case *array.Timestamp:
		c.ints[slot] = int64(x.Value(i))
	case *array.Date32:
		c.ints[slot] = int64(x.Value(i))
	case *array.Boolean:
		if x.Value(i) {
			c.ints[slot] = 1
		} else {
			c.ints[slot] = 0
		}
	case *array.Float64:
		c.flts[slot] = x.Value(i)
	case *array.String:
		c.strs[slot] = x.Value(i)
		if len(c.strs[slot]) > 0 {
			// Copy: the Arrow buffer does not outlive the chunk.
			c.strs[slot] = string([]byte(c.strs[slot]))
		}
	case *array.Decimal128:
		c.decs[slot] = x.Value(i)
	default:
		panic(fmt.Sprintf("state: unsupported array %T", a))
	}
}

func (c *column) clear(slot int) {
	c.setNull(slot, false)
	if c.kind == types.Varchar {
		c.strs[slot] = ""
	}
}

func (c *column) datum(slot int) types.Datum {
	if c.isNull(slot) {
		return types.NewNull(c.t)
	}
	switch c.kind {
	case types.Double:
		return types.NewDouble(c.flts[slot])
	case types.Varchar:
		return types.NewText(c.strs[slot])
	case types.Decimal:
		return types.NewDecimal(c.decs[slot], c.t.Scale)
	}
	return types.Datum{Kind: c.kind, I: c.ints[slot]}
}

func (c *column) appendTo(b array.Builder, slot int) {
	if c.isNull(slot) {
		b.AppendNull()
		return
	}
	switch bb := b.(type) {
	case *array.Int64Builder:
		bb.Append(c.ints[slot])
	case *array.Int32Builder:
		bb.Append(int32(c.ints[slot]))
	case *array.TimestampBuilder:
		bb.Append(arrow.Timestamp(c.ints[slot]))
	case *array.Date32Builder:
		bb.Append(arrow.Date32(c.ints[slot]))
	case *array.BooleanBuilder:
		bb.Append(c.ints[slot] != 0)
	case *array.Float64Builder:
		bb.Append(c.flts[slot])
	case *array.StringBuilder:
		bb.Append(c.strs[slot])
	case *array.Decimal128Builder:
		bb.Append(c.decs[slot])
	default:
		panic(fmt.Sprintf("state: unsupported builder %T", b))
	}
}
