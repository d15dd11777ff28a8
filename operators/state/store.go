package state

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
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
// each slot counts its copies. A keyed store's slot holds 0 or 1 rows, so
// it keeps no counts: a bit set of live slots says which slots hold one.
//
// A single INT, BIGINT, DATE or TIMESTAMP key is indexed by a compact
// open-addressing table that reads keys from the key column (intIndex);
// other keys by one that hashes the key columns' values and compares the
// stored key columns to the probe (keyIndex). Neither stores keys, so the
// index costs 4 to 11 bytes a row.
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
	live   []uint64 // bit set of the slots holding a row (nil when appendOnly)
	count  []uint32 // copies per slot of a multiset, 0 when free (nil when keyed or appendOnly)
	slots  int      // slots allocated, live and free (0 when appendOnly)
	free   []uint32
	rows   int64 // live rows, counting multiset copies
	bad    error // the schema or key cannot be stored

	// id names the store in a chunk's SlotHint; gen counts the times
	// slots were freed or moved (see SlotStamp).
	id, gen uint64
	// hintable says a SlotHint's update pairs may write their rows in
	// place without a look at the key: the key columns hold integers,
	// booleans or text, whose equal values are the same values.
	hintable bool

	// appendOnly stores take inserts only and keep no index, no live
	// bits and no counts: slots 0..rows-1 each hold one row (see
	// NewAppendStore).
	appendOnly bool

	// Exactly one index is used: iidx (with nullSlot) for a single
	// integer-like key, else kidx.
	intKey   bool
	iidx     intIndex
	nullSlot int64 // slot of the NULL key, or -1
	kidx     keyIndex

	// Scratch for Apply.
	rd        []reader
	hs        []uint64 // hash of each row's key (kidx), set for the rows a SlotHint does not place
	hs2       []uint64 // those hashes, in the order of unh
	unh       []int32  // the rows a SlotHint does not place
	tkeys     []int64  // touchInt: the keys of the rows touched
	vcols     []int    // the non-key columns, once valueCols made it
	undo      []undoEntry
	pending   []uint32 // slots freed by the Apply in progress
	saved     []column // rows overwritten by the Apply in progress (undoSet)
	nsaved    int
	sink      uint64 // keeps the loads of keyIndex.touch
	slotBytes int    // about the bytes of a slot: its values, count (multisets) and index entry
}

// touchBytes is the size past which a store is taken to be out of the
// caches, so that Apply first touches the memory its rows' probes will
// read (keyIndex.touch). Below it the extra pass costs more than it saves
// (BenchmarkStoreApplyLarge: about 10% slower at 8 MB, 10-40% faster at
// 32 MB). A variable so that tests can run the touching path on small
// stores.
var touchBytes = 16 << 20

type undoKind uint8

const (
	undoNew    undoKind = iota // slot was allocated
	undoInc                    // a multiset copy was added
	undoDec                    // a copy was removed (the slot freed if it held no more)
	undoSet                    // an update pair overwrote slot; its old row is saved[old]
	undoSetRow                 // a hinted update pair overwrote slot's values; the old ones are row old of the chunk
)

type undoEntry struct {
	slot uint32
	old  uint32 // undoSet: the row of saved holding the slot's old values; undoSetRow: the chunk's row
	kind undoKind
}

// NewStore makes an empty store. With keyed=false, key is ignored and
// rows form a multiset. A schema with a type that cannot be stored
// (INTERVAL) or a key column out of range makes every later Apply and
// Scan fail with an error saying so.
func NewStore(schema types.Schema, key []int, keyed bool) *Store {
	s := &Store{schema: schema, keyed: keyed, key: key, nullSlot: -1, id: storeIDs.Add(1)}
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
		s.slotBytes += storageBytes(col.st)
	}
	s.slotBytes += 8 // index entry at about half load
	if !keyed {
		s.slotBytes += 4 // count
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
	s.hintable = s.bad == nil && keyed
	for _, k := range s.key {
		if st := s.cols[k].st; s.hintable && st != stI64 && st != stI32 && st != stBool && st != stStr {
			s.hintable = false
		}
	}
	if s.intKey {
		s.iidx.col = &s.cols[s.key[0]]
	} else {
		s.kidx = keyIndex{cols: s.cols, key: s.key}
	}
	s.rd = make([]reader, len(schema))
	return s
}

// storeIDs numbers stores for SlotHint.
var storeIDs atomic.Uint64

// SlotStamp returns the store's ID and slot generation, as a chunk's
// operators.SlotHint names them: the slots Find returns stay where they
// are while the generation is unchanged (Apply frees a slot only for a
// row deleted; Restore moves them all).
func (s *Store) SlotStamp() (id, gen uint64) { return s.id, s.gen }

// NewAppendStore makes an empty append-only store: a multiset that only
// ever receives inserts, as for an APPEND ONLY table. It keeps no index,
// so Apply appends each chunk's columns to the slots in bulk; a retraction
// is an error (and no change is applied), and Lookup and Row find
// nothing. Scan, Rows, Len and Snapshot/Restore work as for NewStore.
func NewAppendStore(schema types.Schema) *Store {
	s := NewStore(schema, nil, false)
	s.appendOnly = true
	s.kidx = keyIndex{}
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
	hint := c.Slots
	if hint != nil && (!s.hintable || hint.Store != s.id || hint.Gen != s.gen || len(hint.Slots) != n) {
		hint = nil
	}
	big := s.slots*s.slotBytes >= touchBytes
	// The unhinted rows (s.unh) are read by the preload of a large int
	// index and by the hashing of a composite key only.
	if hint != nil && (big || !s.intKey) {
		s.sink += s.scanHint(c, hint, big)
	}
	if s.intKey && big {
		if hint != nil {
			s.sink += s.touchIntRows(s.unh)
		} else {
			s.sink += s.touchInt(n)
		}
	}
	if !s.intKey {
		if cap(s.hs) < n {
			s.hs = make([]uint64, n)
		}
		s.hs = s.hs[:n]
		hs := s.hs
		if hint != nil && len(s.unh) < n {
			// Only the rows hint does not place are probed.
			hs = s.hs2
			if cap(hs) < len(s.unh) {
				hs = make([]uint64, len(s.unh))
			}
			hs = hs[:len(s.unh)]
			s.kidx.hashRowsAt(s.rd, s.unh, hs)
			for j, i := range s.unh {
				s.hs[i] = hs[j]
			}
			s.hs2 = hs
		} else {
			s.kidx.hashRows(s.rd, hs)
		}
		if big {
			s.sink += s.kidx.touch(hs, s.live)
		}
		// This Apply allocates slots below s.slots+n.
		s.kidx.reserve(s.slots + n)
	}
	s.undo = s.undo[:0]
	s.pending = s.pending[:0]
	spotChecked := false // the first hinted pair's key was compared
	for i := 0; i < n; i++ {
		var err error
		op := c.Op(i)
		switch {
		case hint != nil && hintedPair(c, hint, i):
			err = s.updateAt(rec, hint.Slots[i], i, !spotChecked)
			spotChecked = true
			i++
		case op == operators.UpdateBefore && s.keyed && i+1 < n && c.Op(i+1) == operators.UpdateAfter:
			var done bool
			if done, err = s.updatePair(rec, i); done {
				i++
			} else if err == nil {
				err = s.retractRow(rec, i)
			}
		case op.IsRetract():
			err = s.retractRow(rec, i)
		default:
			err = s.insertRow(rec, i)
		}
		if err != nil {
			s.rollback()
			return err
		}
	}
	if len(s.pending) > 0 {
		s.gen++
	}
	for _, slot := range s.pending {
		for c := range s.cols {
			s.cols[c].clear(int(slot))
		}
		s.free = append(s.free, slot)
	}
	s.pending = s.pending[:0]
	s.dropSaved()
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

// findRow returns the slot holding row i's key and the position of its
// index entry (-1 for the int index's NULL key). When the key is absent
// and the store uses kidx, pos is where insertAt puts it.
func (s *Store) findRow(i int) (pos int, slot uint32, ok bool) {
	if !s.intKey {
		return s.kidx.findRow(s.hs[i], s.rd, i)
	}
	r := &s.rd[s.key[0]]
	if r.nulls && r.arr.IsNull(i) {
		return -1, uint32(s.nullSlot), s.nullSlot >= 0
	}
	var k int64
	if r.i64 != nil {
		k = r.i64[i]
	} else {
		k = int64(r.i32[i])
	}
	return s.iidx.findPos(k)
}

// touchInt is keyIndex.touch for the int index, over the keys of the
// first n rows.
func (s *Store) touchInt(n int) uint64 {
	r := &s.rd[s.key[0]]
	if r.i64 != nil {
		return s.touchIntKeys(r.i64[:min(n, len(r.i64))])
	}
	keys := s.tkeys[:0]
	for _, k := range r.i32[:min(n, len(r.i32))] {
		keys = append(keys, int64(k))
	}
	s.tkeys = keys
	return s.touchIntKeys(keys)
}

// touchIntRows is touchInt for the rows of rows alone (those a SlotHint
// does not place).
func (s *Store) touchIntRows(rows []int32) uint64 {
	r := &s.rd[s.key[0]]
	keys := s.tkeys[:0]
	for _, i := range rows {
		switch {
		case int(i) < len(r.i64):
			keys = append(keys, r.i64[i])
		case int(i) < len(r.i32):
			keys = append(keys, int64(r.i32[i]))
		} // else NULL, in an all-NULL array without values
	}
	s.tkeys = keys
	return s.touchIntKeys(keys)
}

// touchIntKeys reads the int index's entries at the homes of keys, then
// the live bits and columns of the slots they name: independent loads
// whose cache misses overlap, ahead of the lookups.
func (s *Store) touchIntKeys(keys []int64) uint64 {
	x := &s.iidx
	if x.n == 0 {
		return 0
	}
	var acc uint64
	for _, k := range keys {
		acc += uint64(x.tab[x.home(k)])
	}
	for _, k := range keys {
		if e := x.tab[x.home(k)]; e != 0 {
			acc += s.live[(e-1)>>6]
			for c := range s.cols {
				acc += touchSlot(&s.cols[c], int(e-1))
			}
		}
	}
	return acc
}

// sameKey reports whether slot holds the key of row i.
func (s *Store) sameKey(slot uint32, i int) bool {
	if !s.intKey {
		return s.kidx.equalRow(slot, s.rd, i)
	}
	col := s.key[0]
	return s.cols[col].equalReader(int(slot), &s.rd[col], i)
}

func (s *Store) insertRow(rec arrow.RecordBatch, i int) error {
	pos, slot, ok := s.findRow(i)
	if ok {
		if s.keyed {
			return s.inconsistent("insert of a key that is present", rec, i)
		}
		if s.count[slot] == math.MaxUint32 {
			return sqlerr.New(sqlerr.Resource, sqlerr.ProgramLimitExceeded, "store: more than %d copies of row %s", uint32(math.MaxUint32), s.rowString(rec, i))
		}
		s.count[slot]++
		s.rows++
		s.undo = append(s.undo, undoEntry{slot: slot, kind: undoInc})
		return nil
	}
	slot = s.alloc(i)
	if s.intKey {
		s.indexInt(slot)
	} else {
		s.kidx.insertAt(pos, s.hs[i], slot, s.live)
	}
	s.undo = append(s.undo, undoEntry{slot: slot, kind: undoNew})
	return nil
}

func (s *Store) retractRow(rec arrow.RecordBatch, i int) error {
	pos, slot, ok := s.findRow(i)
	if !ok {
		return s.inconsistent("delete of a row that is not present", rec, i)
	}
	s.rows--
	s.undo = append(s.undo, undoEntry{slot: slot, kind: undoDec})
	if !s.keyed {
		if s.count[slot]--; s.count[slot] > 0 {
			return nil
		}
	}
	clearBit(s.live, slot)
	switch {
	case !s.intKey:
		s.kidx.removeAt(pos)
	case pos < 0:
		s.nullSlot = -1
	default:
		s.iidx.removeAt(pos)
	}
	// The slot's values stay until Apply succeeds, for rollback.
	s.pending = append(s.pending, slot)
	return nil
}

// updatePair applies the update pair at rows i (UpdateBefore) and i+1
// (UpdateAfter) of a keyed store with one probe, overwriting the row in
// its slot (the old values are saved for rollback). done is false (and
// err nil) when the two rows' keys differ, for the caller to apply them
// one by one.
func (s *Store) updatePair(rec arrow.RecordBatch, i int) (done bool, err error) {
	if !s.intKey && s.hs[i] != s.hs[i+1] {
		return false, nil
	}
	_, slot, ok := s.findRow(i)
	if !ok {
		return false, s.inconsistent("delete of a row that is not present", rec, i)
	}
	if !s.sameKey(slot, i+1) {
		return false, nil
	}
	s.undo = append(s.undo, undoEntry{slot: slot, old: s.save(slot), kind: undoSet})
	// Key columns too: a key equal under key identity may be held
	// differently (-0 for 0), and the new row's value is the one kept.
	for c := range s.cols {
		s.cols[c].set(int(slot), &s.rd[c], i+1)
	}
	return true, nil
}

// updateAt applies the update pair at rows i and i+1 to slot, which a
// valid SlotHint says holds their key: it writes the new row's non-key
// values (the key's are equal, and hintable keys are held one way only)
// without reading the slot's key, unless check (a slot that holds no row,
// or, checked, another key, is an error); rollback restores row i's.
// Apply checks the first hinted pair of each chunk: comparing every key
// would cost the cache misses hints save (~5% of the co-occurrence
// benchmark), and a hint gone wrong (a mapping or a stamp broken by a
// change elsewhere) is wrong from the first row.
func (s *Store) updateAt(rec arrow.RecordBatch, slot uint32, i int, check bool) error {
	if int(slot) >= s.slots || !hasBit(s.live, slot) {
		return s.inconsistent(fmt.Sprintf("update hinted to slot %d, which holds no row,", slot), rec, i)
	}
	if check && !s.sameKey(slot, i+1) {
		return s.inconsistent(fmt.Sprintf("update hinted to slot %d, which holds another key,", slot), rec, i)
	}
	s.undo = append(s.undo, undoEntry{slot: slot, old: uint32(i), kind: undoSetRow})
	for _, c := range s.valueCols() {
		s.cols[c].set(int(slot), &s.rd[c], i+1)
	}
	return nil
}

// valueCols lists the columns that are not key columns.
func (s *Store) valueCols() []int {
	if s.vcols == nil {
		isKey := make([]bool, len(s.cols))
		for _, k := range s.key {
			isKey[k] = true
		}
		s.vcols = []int{}
		for c := range s.cols {
			if !isKey[c] {
				s.vcols = append(s.vcols, c)
			}
		}
	}
	return s.vcols
}

// hintedPair reports whether rows i and i+1 of c are an update pair that
// hint places (Apply writes it with updateAt, without a probe).
func hintedPair(c *operators.Chunk, hint *operators.SlotHint, i int) bool {
	return c.Op(i) == operators.UpdateBefore && hint.Slots[i] != NoSlot && i+1 < len(hint.Slots) &&
		c.Op(i+1) == operators.UpdateAfter && hint.Slots[i+1] == hint.Slots[i]
}

// scanHint walks c's rows as Apply will, setting s.unh to the rows that
// hint does not place (those Apply probes, and so hashes). With touch, it
// also reads the live bits and value columns at the slot of each pair
// hint places, which updateAt will read and write: the loads do not
// depend on one another, so their misses overlap, where updateAt's
// scattered stores would each wait for its line. The result only keeps
// the loads from being removed.
func (s *Store) scanHint(c *operators.Chunk, hint *operators.SlotHint, touch bool) uint64 {
	var acc uint64
	vcols := s.valueCols()
	unh := s.unh[:0]
	n := c.Len()
	for i := 0; i < n; i++ {
		if !hintedPair(c, hint, i) {
			unh = append(unh, int32(i))
			continue
		}
		slot := hint.Slots[i]
		i++
		if !touch || int(slot) >= s.slots { // updateAt reports a slot out of range
			continue
		}
		acc += s.live[slot>>6]
		for _, col := range vcols {
			acc += touchSlot(&s.cols[col], int(slot))
		}
	}
	s.unh = unh
	return acc
}

// save copies slot's values to a new row of s.saved and returns its number.
func (s *Store) save(slot uint32) uint32 {
	if s.saved == nil {
		s.saved = make([]column, len(s.cols))
		for c := range s.cols {
			s.saved[c] = column{st: s.cols[c].st, t: s.cols[c].t}
		}
	}
	row := s.nsaved
	s.nsaved++
	for c := range s.cols {
		copySlot(&s.saved[c], s.saved[c].grow(), &s.cols[c], int(slot))
	}
	return uint32(row)
}

// dropSaved forgets the saved rows, keeping the buffers unless they grew
// large.
func (s *Store) dropSaved() {
	n := s.nsaved
	if n == 0 {
		return
	}
	s.nsaved = 0
	for c := range s.saved {
		if n > savedKeep {
			s.saved[c] = column{st: s.saved[c].st, t: s.saved[c].t}
			continue
		}
		truncateColumn(&s.saved[c])
	}
}

// savedKeep is the number of saved rows past which their buffers are
// dropped after an Apply rather than kept for the next.
const savedKeep = 1 << 16

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

// unindex removes slot's key from the index (for rollback).
func (s *Store) unindex(slot uint32) {
	if s.intKey {
		s.unindexInt(slot)
		return
	}
	s.kidx.removeAt(s.kidx.posOf(slot))
}

// index adds slot's key, whose live bit is set, to the index (for
// rollback).
func (s *Store) index(slot uint32) {
	if s.intKey {
		s.indexInt(slot)
		return
	}
	s.kidx.insert(slot, s.live)
}

// rollback undoes the rows applied so far by the current Apply.
func (s *Store) rollback() {
	for u := len(s.undo) - 1; u >= 0; u-- {
		e := s.undo[u]
		switch e.kind {
		case undoNew:
			s.unindex(e.slot)
			s.release(e.slot)
		case undoInc:
			s.count[e.slot]--
			s.rows--
		case undoDec:
			s.rows++
			if !s.keyed {
				if s.count[e.slot]++; s.count[e.slot] > 1 {
					continue
				}
			}
			setBit(s.live, e.slot)
			s.index(e.slot)
		case undoSet:
			for c := range s.cols {
				copySlot(&s.cols[c], int(e.slot), &s.saved[c], int(e.old))
			}
		case undoSetRow:
			for _, c := range s.valueCols() {
				s.cols[c].set(int(e.slot), &s.rd[c], int(e.old))
			}
		}
	}
	s.undo = s.undo[:0]
	s.pending = s.pending[:0]
	s.dropSaved()
	s.gen++ // slots allocated by the failed Apply were freed
}

// release frees slot, which holds one row and is not indexed (for
// rollback).
func (s *Store) release(slot uint32) {
	clearBit(s.live, slot)
	if !s.keyed {
		s.count[slot] = 0
	}
	s.rows--
	for c := range s.cols {
		s.cols[c].clear(int(slot))
	}
	s.free = append(s.free, slot)
}

func (s *Store) alloc(i int) uint32 {
	var slot uint32
	if n := len(s.free); n > 0 {
		slot = s.free[n-1]
		s.free = s.free[:n-1]
		if !s.keyed {
			s.count[slot] = 1
		}
	} else {
		slot = uint32(s.slots)
		s.slots++
		for c := range s.cols {
			s.cols[c].grow()
		}
		if int(slot>>6) == len(s.live) {
			s.live = append(s.live, 0)
		}
		if !s.keyed {
			s.count = append(s.count, 1)
		}
	}
	setBit(s.live, slot)
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
	var arr [8]types.Datum
	conv := arr[:0]
	for k, col := range s.key {
		d, ok := keyDatum(key[k], s.schema[col].Type)
		if !ok {
			return 0, false
		}
		conv = append(conv, d)
	}
	return s.kidx.findDatums(s.kidx.hashDatums(conv), conv)
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
	slots := make([]uint32, 0, min(batchSize, max(int(s.rows), 1)))
	arrs := make([]arrow.Array, 0, len(cols))
	flush := func() error {
		if len(slots) == 0 {
			return nil
		}
		arrs = arrs[:0]
		for i, c := range cols {
			a, err := s.cols[c].gatherSlots(mem, fields[i].Type, slots)
			if err != nil {
				ReleaseAll(arrs)
				return fmt.Errorf("store: scan: %w", err)
			}
			arrs = append(arrs, a)
		}
		rec := NewRecord(schema, arrs, len(slots))
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
	for w, word := range s.live {
		for ; word != 0; word &= word - 1 {
			slot := uint32(w<<6 + bits.TrailingZeros64(word))
			cnt := uint32(1)
			if !s.keyed {
				cnt = s.count[slot]
			}
			for ; cnt > 0; cnt-- {
				slots = append(slots, slot)
				if len(slots) >= batchSize {
					if err := flush(); err != nil {
						return err
					}
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
	for w, word := range s.live {
		for ; word != 0; word &= word - 1 {
			slot := w<<6 + bits.TrailingZeros64(word)
			cnt := uint32(1)
			if !s.keyed {
				cnt = s.count[slot]
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

// buildIndex indexes every live slot, in a table sized
// once for live keys, as Restore needs. Two slots with the same key are
// an ErrCorrupt error.
func (s *Store) buildIndex(live int) error {
	size := max(16, 1<<log2(live*4/3+1))
	if !s.intKey {
		s.kidx.reserve(s.slots)
		return s.kidx.rebuild(size, s.live, true)
	}
	if live > 0 {
		s.iidx.rehash(size)
	}
	for w, word := range s.live {
		for ; word != 0; word &= word - 1 {
			if err := s.indexRestored(uint32(w<<6 + bits.TrailingZeros64(word))); err != nil {
				return err
			}
		}
	}
	return nil
}

// indexRestored adds live slot to the int index for buildIndex.
func (s *Store) indexRestored(slot uint32) error {
	if s.iidx.col.isNull(int(slot)) {
		if s.nullSlot >= 0 {
			return fmt.Errorf("two rows with a NULL key: %w", ErrCorrupt)
		}
		s.nullSlot = int64(slot)
		return nil
	}
	if _, dup := s.iidx.find(s.iidx.keyAt(slot)); dup {
		return fmt.Errorf("key of slot %d repeated: %w", slot, ErrCorrupt)
	}
	s.iidx.insert(slot)
	return nil
}

// setBit sets bit i of b.
func setBit(b []uint64, i uint32) { b[i>>6] |= 1 << (i & 63) }

// clearBit clears bit i of b.
func clearBit(b []uint64, i uint32) { b[i>>6] &^= 1 << (i & 63) }

// hasBit reports whether bit i of b is set.
func hasBit(b []uint64, i uint32) bool { return b[i>>6]&(1<<(i&63)) != 0 }
