package state

import (
	"fmt"
	"math"
	"strings"

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
// present key or a Delete of an absent one is an error. Key identity treats
// NULL as equal to NULL, so a GROUP BY view may hold one row whose key is
// NULL. A keyed store with no key columns holds at most one row (a global
// aggregate). An unkeyed store is a multiset: the whole row is the key and
// each slot counts its copies.
//
// A single INT, BIGINT, DATE or TIMESTAMP key is indexed by a compact
// open-addressing table that reads keys from the key column; other keys by
// a map on their encoded bytes (see KeyEncoder).
//
// A Store is not safe for concurrent use with Apply; its owner locks
// around it. Lookup, Row, Scan and Rows only read, so any number of them
// may run at once (under a read lock).
type Store struct {
	schema types.Schema
	ids    []arrow.Type // expected Arrow type of each column
	keyed  bool
	key    []int
	cols   []column
	count  []uint32 // copies per slot; 0 marks a free slot (nil when appendOnly)
	free   []uint32
	rows   int64 // live rows, counting multiset copies
	bad    error // the schema or key cannot be stored

	// appendOnly stores take inserts only and keep no index and no
	// counts: slots 0..rows-1 each hold one row (see NewAppendStore).
	appendOnly bool

	// Exactly one index is used: iidx (with nullSlot) for a single
	// integer-like key, else idx on encoded key bytes.
	intKey   bool
	iidx     intIndex
	nullSlot int64 // slot of the NULL key, or -1
	idx      map[string]uint32

	// Scratch for Apply.
	rd      []reader
	enc     []KeyEncoder
	kbuf    []byte
	undo    []undoEntry
	pending []uint32 // slots freed by the Apply in progress
}

type undoKind uint8

const (
	undoNew undoKind = iota // slot was allocated
	undoInc                 // a multiset copy was added
	undoDec                 // a copy was removed (the slot freed if its count reached 0)
)

type undoEntry struct {
	slot uint32
	kind undoKind
}

// NewStore makes an empty store. With keyed=false, key is ignored and
// rows form a multiset. A schema with a type that cannot be stored
// (INTERVAL) or a key column out of range makes every later Apply and
// Scan fail with an error saying so.
func NewStore(schema types.Schema, key []int, keyed bool) *Store {
	s := &Store{schema: schema, keyed: keyed, key: key, nullSlot: -1}
	if !keyed {
		s.key = make([]int, len(schema))
		for i := range s.key {
			s.key[i] = i
		}
	}
	s.cols = make([]column, len(schema))
	s.ids = make([]arrow.Type, len(schema))
	for i, c := range schema {
		col, err := newColumn(c.Type)
		if err != nil && s.bad == nil {
			s.bad = sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "store: column %q: %v", c.Name, err)
		}
		s.cols[i] = col
		s.ids[i] = c.Type.Arrow().ID()
	}
	for _, k := range s.key {
		if k < 0 || k >= len(schema) {
			s.bad = sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "store: key column %d out of range (%d columns)", k, len(schema))
			s.key = nil
			break
		}
	}
	if s.bad == nil && keyed && len(s.key) == 1 {
		st := s.cols[s.key[0]].st
		s.intKey = st == stI64 || st == stI32
	}
	if s.intKey {
		s.iidx.col = &s.cols[s.key[0]]
	} else {
		s.idx = make(map[string]uint32)
	}
	s.rd = make([]reader, len(schema))
	s.enc = make([]KeyEncoder, len(s.key))
	return s
}

// NewAppendStore makes an empty append-only store: a multiset that only
// ever receives inserts, as for an APPEND ONLY table. It keeps no index,
// so Apply appends each chunk's columns to the slots in bulk; a retraction
// is an error (and no change is applied), and Lookup and Row find
// nothing. Scan, Rows, Len and Snapshot/Restore work as for NewStore.
func NewAppendStore(schema types.Schema) *Store {
	s := NewStore(schema, nil, false)
	s.appendOnly = true
	s.idx = nil
	s.enc = nil
	return s
}

// AppendOnly reports whether the store was made by NewAppendStore.
func (s *Store) AppendOnly() bool { return s.appendOnly }

// Schema returns the store's columns.
func (s *Store) Schema() types.Schema { return s.schema }

// Len is the number of rows (multiset copies included).
func (s *Store) Len() int64 { return s.rows }

// check validates a chunk against the store's schema, so that nothing
// below can meet an array of an unexpected type.
func (s *Store) check(c *operators.Chunk) error {
	if s.bad != nil {
		return s.bad
	}
	rec := c.Rec
	if int(rec.NumCols()) != len(s.schema) {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "store: chunk has %d columns, want %d", rec.NumCols(), len(s.schema))
	}
	for i, id := range s.ids {
		if got := rec.Column(i).DataType(); got.ID() != id {
			return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "store: column %q is %s in the chunk, want %s", s.schema[i].Name, got, s.schema[i].Type)
		}
	}
	if c.Ops != nil && len(c.Ops) != c.Len() {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "store: chunk has %d rows but %d ops", c.Len(), len(c.Ops))
	}
	return nil
}

// Apply folds a chunk of changes into the store, row by row in order. It
// is atomic: when a row is inconsistent with the state (an Insert of a
// present key, a Delete of an absent row) Apply returns an error naming
// the row and leaves the store as it was before the call.
func (s *Store) Apply(c *operators.Chunk) error {
	if err := s.check(c); err != nil {
		return err
	}
	rec := c.Rec
	n := c.Len()
	for i := range s.rd {
		s.rd[i].reset(rec.Column(i))
	}
	if s.appendOnly {
		return s.appendChunk(c)
	}
	if !s.intKey {
		for k, col := range s.key {
			s.enc[k].Reset(rec.Column(col))
		}
	}
	s.undo = s.undo[:0]
	s.pending = s.pending[:0]
	for i := 0; i < n; i++ {
		var err error
		if c.Op(i).IsRetract() {
			err = s.retractRow(rec, i)
		} else {
			err = s.insertRow(rec, i)
		}
		if err != nil {
			s.rollback()
			return err
		}
	}
	for _, slot := range s.pending {
		for c := range s.cols {
			s.cols[c].clear(int(slot))
		}
		s.free = append(s.free, slot)
	}
	s.pending = s.pending[:0]
	return nil
}

// appendChunk is Apply for an append-only store: after checking that no
// row is a retraction, it appends every column's values in one pass per
// column. The readers must already point at the chunk's columns.
func (s *Store) appendChunk(c *operators.Chunk) error {
	n := c.Len()
	for i, op := range c.Ops {
		if op.IsRetract() {
			return sqlerr.New(sqlerr.Internal, sqlerr.InternalError,
				"store: append-only store cannot apply a retraction (%s): %s (row %d of the chunk; no change applied)",
				op, s.rowString(c.Rec, i), i)
		}
	}
	if n == 0 {
		return nil
	}
	if s.rows+int64(n) > math.MaxUint32 {
		return sqlerr.New(sqlerr.Resource, sqlerr.ProgramLimitExceeded, "store: more than %d rows in an append-only store", uint32(math.MaxUint32))
	}
	base := int(s.rows)
	for col := range s.cols {
		s.cols[col].appendRows(&s.rd[col], base, n)
	}
	s.rows += int64(n)
	return nil
}

// findRow returns the slot holding row i's key. For the byte-keyed index
// it leaves the encoded key in s.kbuf.
func (s *Store) findRow(i int) (uint32, bool) {
	if s.intKey {
		r := &s.rd[s.key[0]]
		if r.nulls && r.arr.IsNull(i) {
			return uint32(s.nullSlot), s.nullSlot >= 0
		}
		var k int64
		if r.i64 != nil {
			k = r.i64[i]
		} else {
			k = int64(r.i32[i])
		}
		return s.iidx.find(k)
	}
	s.kbuf = s.kbuf[:0]
	for k := range s.enc {
		s.kbuf = s.enc[k].Append(s.kbuf, i)
	}
	slot, ok := s.idx[string(s.kbuf)]
	return slot, ok
}

func (s *Store) insertRow(rec arrow.RecordBatch, i int) error {
	slot, ok := s.findRow(i)
	if ok {
		if s.keyed {
			return s.inconsistent("insert of a key that is present", rec, i)
		}
		if s.count[slot] == math.MaxUint32 {
			return sqlerr.New(sqlerr.Resource, sqlerr.ProgramLimitExceeded, "store: more than %d copies of row %s", uint32(math.MaxUint32), s.rowString(rec, i))
		}
		s.count[slot]++
		s.rows++
		s.undo = append(s.undo, undoEntry{slot, undoInc})
		return nil
	}
	slot = s.alloc(i)
	if s.intKey {
		s.indexInt(slot)
	} else {
		s.idx[string(s.kbuf)] = slot
	}
	s.undo = append(s.undo, undoEntry{slot, undoNew})
	return nil
}

func (s *Store) retractRow(rec arrow.RecordBatch, i int) error {
	slot, ok := s.findRow(i)
	if !ok {
		return s.inconsistent("delete of a row that is not present", rec, i)
	}
	s.count[slot]--
	s.rows--
	s.undo = append(s.undo, undoEntry{slot, undoDec})
	if s.count[slot] == 0 {
		if s.intKey {
			s.unindexInt(slot)
		} else {
			delete(s.idx, string(s.kbuf))
		}
		// The slot's values stay until Apply succeeds, for rollback.
		s.pending = append(s.pending, slot)
	}
	return nil
}

func (s *Store) indexInt(slot uint32) {
	if s.iidx.col.isNull(int(slot)) {
		s.nullSlot = int64(slot)
		return
	}
	s.iidx.insert(slot)
}

func (s *Store) unindexInt(slot uint32) {
	if s.iidx.col.isNull(int(slot)) {
		s.nullSlot = -1
		return
	}
	s.iidx.remove(s.iidx.keyAt(slot))
}

// slotKey encodes the key of the row at slot (for rollback).
func (s *Store) slotKey(slot uint32) string {
	var buf []byte
	for _, col := range s.key {
		buf = AppendDatum(buf, s.cols[col].datum(int(slot)), s.schema[col].Type)
	}
	return string(buf)
}

// rollback undoes the rows applied so far by the current Apply.
func (s *Store) rollback() {
	for u := len(s.undo) - 1; u >= 0; u-- {
		e := s.undo[u]
		switch e.kind {
		case undoNew:
			if s.intKey {
				s.unindexInt(e.slot)
			} else {
				delete(s.idx, s.slotKey(e.slot))
			}
			s.count[e.slot] = 0
			s.rows--
			for c := range s.cols {
				s.cols[c].clear(int(e.slot))
			}
			s.free = append(s.free, e.slot)
		case undoInc:
			s.count[e.slot]--
			s.rows--
		case undoDec:
			s.count[e.slot]++
			s.rows++
			if s.count[e.slot] == 1 {
				if s.intKey {
					s.indexInt(e.slot)
				} else {
					s.idx[s.slotKey(e.slot)] = e.slot
				}
			}
		}
	}
	s.undo = s.undo[:0]
	s.pending = s.pending[:0]
}

func (s *Store) alloc(i int) uint32 {
	var slot uint32
	if n := len(s.free); n > 0 {
		slot = s.free[n-1]
		s.free = s.free[:n-1]
		s.count[slot] = 1
	} else {
		slot = uint32(len(s.count))
		for c := range s.cols {
			s.cols[c].grow()
		}
		s.count = append(s.count, 1)
	}
	for c := range s.cols {
		s.cols[c].set(int(slot), &s.rd[c], i)
	}
	s.rows++
	return slot
}

func (s *Store) rowString(rec arrow.RecordBatch, i int) string {
	var b strings.Builder
	b.WriteByte('(')
	for c, col := range s.schema {
		if c > 0 {
			b.WriteString(", ")
		}
		b.WriteString(types.DatumAt(rec.Column(c), i, col.Type).String())
	}
	b.WriteByte(')')
	return b.String()
}

func (s *Store) inconsistent(what string, rec arrow.RecordBatch, i int) error {
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "state inconsistency: %s: %s (row %d of the chunk; no change applied)", what, s.rowString(rec, i), i)
}

// lookupSlot finds the row whose key equals key. A NULL in key matches
// nothing (SQL equality), although the store may hold a NULL-keyed row.
func (s *Store) lookupSlot(key []types.Datum) (uint32, bool) {
	if s.bad != nil || s.appendOnly || len(key) != len(s.key) {
		return 0, false
	}
	for _, d := range key {
		if d.Null {
			return 0, false
		}
	}
	if s.intKey {
		d, ok := keyDatum(key[0], s.schema[s.key[0]].Type)
		if !ok {
			return 0, false
		}
		return s.iidx.find(d.I)
	}
	var arr [64]byte
	buf := arr[:0]
	for k, col := range s.key {
		t := s.schema[col].Type
		d, ok := keyDatum(key[k], t)
		if !ok {
			return 0, false
		}
		buf = AppendDatum(buf, d, t)
	}
	slot, ok := s.idx[string(buf)]
	return slot, ok
}

// Lookup returns the row with the given key (one value per key column,
// each of that column's type), restricted to cols, appended to dst. A NULL
// key value matches no row. Lookup on an unkeyed store matches whole rows;
// on an append-only store (no index) it finds nothing.
func (s *Store) Lookup(key []types.Datum, cols []int, dst []types.Datum) ([]types.Datum, bool) {
	slot, ok := s.lookupSlot(key)
	if !ok {
		return dst, false
	}
	for _, c := range cols {
		if c < 0 || c >= len(s.cols) {
			return dst, false
		}
		dst = append(dst, s.cols[c].datum(int(slot)))
	}
	return dst, true
}

// Row returns every column of the row at key.
func (s *Store) Row(key []types.Datum) ([]types.Datum, bool) {
	slot, ok := s.lookupSlot(key)
	if !ok {
		return nil, false
	}
	row := make([]types.Datum, len(s.cols))
	for c := range s.cols {
		row[c] = s.cols[c].datum(int(slot))
	}
	return row, true
}

// DefaultBatchSize is the Scan batch size used when a caller passes 0.
const DefaultBatchSize = 1024

// Scan emits the store's rows, projected to cols, as Arrow record batches
// of up to batchSize rows (DefaultBatchSize if batchSize <= 0). Multiset
// rows appear once per copy. The record passed to fn is released after fn
// returns; fn must Retain it to keep it.
func (s *Store) Scan(mem memory.Allocator, cols []int, batchSize int, fn func(arrow.RecordBatch) error) error {
	if s.bad != nil {
		return s.bad
	}
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		if c < 0 || c >= len(s.schema) {
			return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "store: scan of column %d out of range (%d columns)", c, len(s.schema))
		}
		fields[i] = arrow.Field{Name: s.schema[c].Name, Type: s.schema[c].Type.Arrow(), Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	slots := make([]uint32, 0, min(batchSize, max(int(s.rows), 1)))
	flush := func() error {
		if len(slots) == 0 {
			return nil
		}
		var rec arrow.RecordBatch
		if len(cols) == 0 {
			rec = array.NewRecordBatch(schema, nil, int64(len(slots)))
		} else {
			for i, c := range cols {
				if err := s.cols[c].appendSlots(b.Field(i), slots); err != nil {
					return fmt.Errorf("store: scan: %w", err)
				}
			}
			rec = b.NewRecordBatch()
		}
		defer rec.Release()
		slots = slots[:0]
		return fn(rec)
	}
	if s.appendOnly {
		for slot := range uint32(s.rows) {
			slots = append(slots, slot)
			if len(slots) >= batchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	}
	for slot, cnt := range s.count {
		for ; cnt > 0; cnt-- {
			slots = append(slots, uint32(slot))
			if len(slots) >= batchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// Rows calls fn with every row (all columns) as Datums; multiset rows once
// per copy. The slice is reused between calls. It is for DML paths over
// keyed tables, not hot loops.
func (s *Store) Rows(fn func(row []types.Datum) error) error {
	row := make([]types.Datum, len(s.schema))
	if s.appendOnly {
		for slot := range int(s.rows) {
			for c := range s.cols {
				row[c] = s.cols[c].datum(slot)
			}
			if err := fn(row); err != nil {
				return err
			}
		}
		return nil
	}
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

// keyDatum converts a non-NULL lookup value to the column type t when a
// value of t can equal it: integer-like kinds interchange, integers widen
// to DOUBLE and DECIMAL, and decimals are rescaled to t's scale. ok is
// false when no value of t equals d.
func keyDatum(d types.Datum, t types.T) (types.Datum, bool) {
	intLike := func(k types.Kind) bool {
		return k == types.Int || k == types.BigInt || k == types.Timestamp || k == types.Date
	}
	switch t.Kind {
	case types.Int, types.BigInt, types.Timestamp, types.Date:
		if !intLike(d.Kind) {
			return d, false
		}
		if t.Kind == types.Int || t.Kind == types.Date {
			return d, d.I >= math.MinInt32 && d.I <= math.MaxInt32
		}
		return d, true
	case types.Double:
		switch {
		case d.Kind == types.Double:
			return d, true
		case intLike(d.Kind):
			return types.NewDouble(float64(d.I)), true
		}
	case types.Decimal:
		switch d.Kind {
		case types.Decimal:
			if d.Scale == t.Scale {
				return d, true
			}
			if d.Scale < 0 || d.Scale > types.MaxDecimalPrecision || t.Scale < 0 || t.Scale > types.MaxDecimalPrecision {
				return d, false
			}
			// Rescale fails when the value is not exact at t's scale.
			n, err := d.Dec.Rescale(d.Scale, t.Scale)
			return types.NewDecimal(n, t.Scale), err == nil
		case types.Int, types.BigInt:
			if t.Scale < 0 || t.Scale > types.MaxDecimalPrecision {
				return d, false
			}
			n, err := decimal128.FromI64(d.I).Rescale(0, t.Scale)
			return types.NewDecimal(n, t.Scale), err == nil
		}
	case types.Varchar, types.Boolean, types.Interval:
		return d, d.Kind == t.Kind
	}
	return d, false
}
