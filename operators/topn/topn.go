// Package topn is the streaming Top-N operator: the rows ranked within the
// first N of their partition (ROW_NUMBER or RANK over PARTITION BY ...
// ORDER BY ..., or ORDER BY ... LIMIT N as one global partition), kept
// correct over a changelog input and emitted as the net change per touched
// partition at each barrier.
//
// State: per partition, every input row (a multiset) as an encoded row
// key (see codec.go). The key is the only copy of a row: the ORDER BY
// fields, then the columns that are neither partition nor order columns
// (ascending, NULLs first) as the deterministic tie-break, and it decodes
// back into the row; the partition columns are kept once per partition.
// The best rows of a partition, a little more than Offset+N, are its
// sorted head (sorted blocks, blocks.go); the others are its rest, an
// unsorted hash set of compressed keys (rest.go) ordered after every key
// of the head. A change to a row below the head, the common case when
// partitions are much larger than N, is a hash insert or delete. The head
// grows as better rows arrive and gives its worst rows back to the rest
// past a limit; when it shrinks so that the top cannot be decided, it is
// refilled at the barrier with the best rows of the rest (one partial
// selection over the rest brings it back to its full size, so that a run
// of retractions from the top does not rescan the rest each time). Per
// partition the operator also keeps what it last emitted (the top's keys
// and ranks), and diffs the new top against it at the barrier.
//
// With Spec.Monotone (the input's rows only move up: counts over inserts
// only, say) a partition keeps just its head: a row that falls behind it
// is dropped for good, since it can only come back as a new insertion, and
// a change behind the head costs one key comparison: when every sort key
// is a BIGINT, of the row's values with the head's last key, without
// encoding the row. An update (an UpdateBefore and its UpdateAfter next to
// it) within a head of one block moves its key there in one shift (with
// BIGINT sort keys, the old row is found and the new one written from
// their values, without encoding either).
//
// Checkpoints: TopN implements operators.Checkpointer; the format is in
// checkpoint.go.
//
// Errors: a retraction of a row that is not held returns an internal
// *sqlerr.Error; after any error from Push the state is undefined and the
// pipeline must stop.
package topn

import (
	"bytes"
	"fmt"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// RankKind is the ranking function the Top-N filters on.
type RankKind uint8

// The ranking functions.
const (
	// RowNumber numbers rows 1, 2, 3, ... in order; rows equal on the
	// ORDER BY are ordered by their remaining columns, so the result is a
	// function of the input multiset. Exactly min(N, rows) rows per
	// partition are in the top.
	RowNumber RankKind = iota
	// Rank is 1 + the number of rows strictly before the row; ties share
	// a rank, so more than N rows may have rank ≤ N.
	Rank
)

// String returns the SQL name of k.
func (k RankKind) String() string {
	if k == Rank {
		return "RANK"
	}
	return "ROW_NUMBER"
}

// OrderKey is one ORDER BY term: input column Col, descending when Desc,
// NULLs before values when NullsFirst.
type OrderKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// Spec is what the Top-N computes: rows whose rank r (by Kind over Order
// within PartitionCols) satisfies Offset < r ≤ Offset+N. With EmitRank a
// BIGINT column named RankName ("rank" when empty) holding r is appended.
type Spec struct {
	PartitionCols []int
	Order         []OrderKey
	N             int64
	Offset        int64
	Kind          RankKind
	EmitRank      bool
	RankName      string
	// Monotone is the input's promise that rows only ever improve: no
	// row is deleted for good; a retraction is of a row being updated,
	// and its replacement, in the same partition and ordered no later, is
	// inserted after it within the same epoch (an input of inserts only
	// keeps the promise). A row ordered after the first Offset+N of its
	// partition can then never return to the top unless it is inserted
	// again, so it is dropped: the Top-N keeps only each partition's head
	// and its state is bounded by partitions × (Offset+N), not by the
	// input. Only with RowNumber. A broken promise is caught where it
	// shows — a retraction of a row never held while nothing was dropped,
	// or a top found short after rows were dropped, is an internal error —
	// but not everywhere: a retraction from a partition that dropped rows
	// may be of a dropped row, and is taken as one.
	Monotone bool
}

// MaxChunkRows bounds the rows of a Chunk the Top-N emits.
const MaxChunkRows = 4096

// maxIntFields bounds the sort fields of keys compared as BIGINT values
// (TopN.intSort): as many as fit a partition's lastBuf.
const maxIntFields = len(partition{}.lastBuf) / 9

// maxHead bounds Offset+N for which partitions split into a sorted head
// and a rest; past it every row stays in the sorted part.
const maxHead = 1 << 24

// partition is one partition's rows and what was last emitted for it.
// Every key of rest is ordered after every key of rows. The fields every
// row of a chunk reads (the flags, the copy of the head's last key, the
// head) come first, so that they share the partition's first cache lines.
type partition struct {
	touched bool
	// dropped says rows were dropped from the head (Spec.Monotone).
	dropped bool
	// While rest is not nil and lastOK, the head's greatest key is
	// lastBuf[:lastN]: a copy next to the partition, so that telling the
	// head from the rest costs no walk to the head's last block.
	lastOK  bool
	lastN   uint8
	keep    int32 // keys rows keeps when it gives rows back to rest
	lastBuf [32]byte
	rows    tree     // the sorted head: the best rows
	rest    *restSet // the other rows; nil when there are none
	id      int32
	// inInt says the partition is in TopN.intParts under ival.
	inInt bool
	ival  int64
	key   string // encoded partition values
	snap  snapshot
}

// syncLast refreshes the copy of the head's greatest key.
func (p *partition) syncLast() {
	p.lastOK = false
	if p.rows.ent == 0 {
		return
	}
	if l := p.rows.last(); len(l) <= len(p.lastBuf) {
		p.lastN = uint8(copy(p.lastBuf[:], l))
		p.lastOK = true
	}
}

// count is the number of rows held (with multiplicity).
func (p *partition) count() int64 {
	if p.rest != nil {
		return p.rows.rows + p.rest.rows
	}
	return p.rows.rows
}

// inRest reports whether key k is, or would be, in p's rest: it orders
// after every key of the head (all of which then order before the rest's).
func (p *partition) inRest(k []byte) bool {
	if p.rest == nil {
		return false
	}
	return p.rows.ent == 0 || p.afterLast(k)
}

// afterLast reports whether key k orders after the last key of p's head,
// which must not be empty.
func (p *partition) afterLast(k []byte) bool {
	if p.lastOK {
		return compareKeys(k, p.lastBuf[:p.lastN]) > 0
	}
	return compareKeys(k, p.rows.last()) > 0
}

// snapshot is a partition's emitted top: entries sorted by (key, rank).
// Without EmitRank each key appears once with its multiplicity and rank is
// nil; with it each (key, rank) appears once. bound is the key that
// decides whether a change can affect the top (see touches).
type snapshot struct {
	full  bool
	data  []byte
	ends  []uint32
	mult  []uint32
	rank  []int64
	bound []byte
}

func (s *snapshot) len() int { return len(s.ends) }

func (s *snapshot) key(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.data[start:s.ends[i]]
}

func (s *snapshot) reset() {
	s.data, s.ends, s.mult, s.rank, s.bound = s.data[:0], s.ends[:0], s.mult[:0], s.rank[:0], s.bound[:0]
	s.full = false
}

func (s *snapshot) push(k []byte, mult uint32, rank int64, withRank bool) {
	s.data = append(s.data, k...)
	s.ends = append(s.ends, uint32(len(s.data)))
	s.mult = append(s.mult, mult)
	if withRank {
		s.rank = append(s.rank, rank)
	}
}

// copyFrom makes s an exact-size copy of o.
func (s *snapshot) copyFrom(o *snapshot) {
	s.data = append(s.data[:0], o.data...)
	s.ends = append(s.ends[:0], o.ends...)
	s.mult = append(s.mult[:0], o.mult...)
	s.rank = append(s.rank[:0], o.rank...)
	s.bound = append(s.bound[:0], o.bound...)
	s.full = o.full
}

func (s *snapshot) bytes() int {
	return cap(s.data) + 4*cap(s.ends) + 4*cap(s.mult) + 8*cap(s.rank) + cap(s.bound) + 104
}

// change is one output row of a barrier's diff.
type change struct {
	key  []byte
	rank int64
	op   operators.Op
}

// pendingChange is a change of partition part kept for emission, its key
// at pendData[start:end].
type pendingChange struct {
	part       int32
	start, end uint32
	rank       int64
	op         operators.Op
}

// TopN is the streaming Top-N operator. It implements operators.Operator;
// see New.
type TopN struct {
	mem     memory.Allocator
	in      *arrow.Schema
	inTypes []types.T
	spec    Spec
	out     operators.Output
	schema  *arrow.Schema

	partFields []field
	sortFields []field
	nPrefix    int // ORDER BY fields at the head of sortFields
	keyWidth   int // the fixed width of row keys, 0 if they vary
	restWidth  int // the key width the rest sets compress, 0: none
	usedCols   []int
	rd         []reader // by input column

	// The sorted head of a partition keeps headKeep keys (more when ties
	// under RANK need them) and gives the worst back to the rest once it
	// holds headSlack more; a refill brings it to headKeep rows.
	headKeep  int
	headSlack int

	parts []*partition
	index map[string]int32
	// When the only partition column is a BIGINT or TIMESTAMP (intPart,
	// else -1), intParts and dense cache index for its values: a lookup
	// without encoding the key. A value v in [0, len(dense)) is in dense
	// (dense[v] is the partition's id + 1, 0 if none), any other in
	// intParts.
	intPart  int
	intParts map[int64]int32
	dense    []int32
	// When every sort field is a BIGINT or TIMESTAMP and keys fit a
	// partition's lastBuf (intSort), ixor[k] maps sort field k's value to
	// its encoded bytes as a big-endian word (v ^ ixor[k]); for a chunk
	// whose sort columns hold no NULLs, isort[k] is field k's column, so
	// that a row is compared with a head's last key without encoding it.
	intSort bool
	ixor    []uint64
	isort   [][]int64
	freeIDs []int32
	touched []int32
	kbuf    []byte
	kbuf2   []byte // a second key being read
	pbuf    []byte
	lastPB  []byte // the key of the partition of the chunk's last row
	scratch []byte
	ebuf    []byte   // a key expanded from a rest set
	heap    []int32  // rest slots being selected or sorted
	heapX   []uint64 // their keys, when packed
	mvData  []byte   // keys moving from a rest set to a head
	mvEnds  []uint32 // their ends in mvData
	mvCnt   []uint32 // their counts

	evictions, refills int64 // moves between heads and rests, for tests
	moves, intCmps     int64 // moveRow's moves, behindTopRow's compares of values, for tests
	newSnap            snapshot
	changes            []change
	pend               []pendingChange
	pendData           []byte
	rb                 *array.RecordBuilder
	sinks              []sink // by output column
	partSink           []*sink
	sortSink           []*sink
	ops                []operators.Op
	closed             bool
}

// unsafeBytes views s as bytes, read only.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func internalf(format string, args ...any) error {
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "topn: "+format, args...)
}

// New returns a Top-N over input rows of schema in (SQL types inTypes)
// computing spec, emitting to out. The output schema is the input's, plus
// the rank column with spec.EmitRank.
func New(mem memory.Allocator, in *arrow.Schema, inTypes []types.T, spec Spec, out operators.Output) (*TopN, error) {
	if in.NumFields() != len(inTypes) {
		return nil, internalf("schema has %d columns but %d types", in.NumFields(), len(inTypes))
	}
	if spec.N < 0 || spec.Offset < 0 {
		return nil, internalf("negative limit %d or offset %d", spec.N, spec.Offset)
	}
	if spec.Kind != RowNumber && spec.Kind != Rank {
		return nil, internalf("unknown rank kind %d", spec.Kind)
	}
	if spec.Monotone && spec.Kind != RowNumber {
		return nil, internalf("a monotone Top-N ranks by ROW_NUMBER, not %s", spec.Kind)
	}
	t := &TopN{mem: mem, in: in, inTypes: inTypes, spec: spec, out: out, index: map[string]int32{}}
	t.rd = make([]reader, len(inTypes))
	inPart := make([]bool, len(inTypes))
	inOrder := make([]bool, len(inTypes))
	used := make([]bool, len(inTypes))
	mk := func(col int, desc, nullsFirst bool) (field, error) {
		if col < 0 || col >= len(inTypes) {
			return field{}, internalf("column %d out of range", col)
		}
		k, err := kindOf(inTypes[col])
		if err != nil {
			return field{}, internalf("column %d: %v", col, err)
		}
		if got, want := in.Field(col).Type.ID(), inTypes[col].Arrow().ID(); got != want {
			return field{}, internalf("column %d is %s in the schema, want %s", col, in.Field(col).Type, inTypes[col])
		}
		used[col] = true
		return field{col: col, kind: k, desc: desc, nullsFirst: nullsFirst}, nil
	}
	for _, c := range spec.PartitionCols {
		f, err := mk(c, false, true)
		if err != nil {
			return nil, err
		}
		if inPart[c] {
			continue
		}
		inPart[c] = true
		t.partFields = append(t.partFields, f)
	}
	for _, o := range spec.Order {
		f, err := mk(o.Col, o.Desc, o.NullsFirst)
		if err != nil {
			return nil, err
		}
		inOrder[o.Col] = true
		t.sortFields = append(t.sortFields, f)
	}
	t.nPrefix = len(t.sortFields)
	t.intPart = -1
	if len(t.partFields) == 1 && t.partFields[0].kind == kI64 {
		t.intPart, t.intParts = t.partFields[0].col, map[int64]int32{}
	}
	for c := range inTypes {
		if inPart[c] || inOrder[c] {
			continue
		}
		f, err := mk(c, false, true)
		if err != nil {
			return nil, err
		}
		t.sortFields = append(t.sortFields, f)
	}
	for _, f := range t.sortFields {
		if f.kind.width() < 0 {
			t.keyWidth = 0
			break
		}
		t.keyWidth += 1 + f.kind.width()
	}
	t.intSort = len(t.sortFields) > 0 && len(t.sortFields) <= maxIntFields && t.keyWidth <= len(partition{}.lastBuf)
	for _, f := range t.sortFields {
		x := uint64(1 << 63)
		if f.desc {
			x = ^x
		}
		t.ixor = append(t.ixor, x)
		t.intSort = t.intSort && f.kind == kI64
	}
	for c, u := range used {
		if u {
			t.usedCols = append(t.usedCols, c)
		}
	}
	if t.keyWidth <= math.MaxUint16 {
		t.restWidth = t.keyWidth
	}
	t.headKeep, t.headSlack = math.MaxInt32, 16
	if hi := spec.N; spec.Offset <= maxHead-hi {
		hi += spec.Offset
		t.headSlack = max(16, int(hi/4))
		t.headKeep = int(hi) + t.headSlack
		if spec.Monotone {
			// A monotone head is never refilled: it keeps the top
			// exactly, and its last key is the top's last, so that every
			// change behind the top is dropped at once.
			t.headKeep, t.headSlack = int(hi), 0
		}
	}
	fields := append([]arrow.Field(nil), in.Fields()...)
	if spec.EmitRank {
		name := spec.RankName
		if name == "" {
			name = "rank"
		}
		fields = append(fields, arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	}
	md := in.Metadata()
	t.schema = arrow.NewSchema(fields, &md)
	return t, nil
}

// Schema implements operators.Operator.
func (t *TopN) Schema() *arrow.Schema { return t.schema }

// Partitions is the number of partitions holding rows.
func (t *TopN) Partitions() int { return len(t.index) }

// StateBytes estimates the bytes of state held (row keys, blocks,
// partition keys and emitted tops).
func (t *TopN) StateBytes() int64 {
	n := int64(8*cap(t.parts)+4*cap(t.dense)) + int64(len(t.index))*40
	for _, p := range t.parts {
		if p == nil {
			continue
		}
		n += int64(p.rows.bytes()+p.snap.bytes()+len(p.key)) + 72
		if p.rest != nil {
			n += int64(p.rest.bytes())
		}
	}
	return n
}

// Push implements operators.Operator.
func (t *TopN) Push(msg operators.Message) error {
	if t.closed {
		return internalf("push after close")
	}
	switch m := msg.(type) {
	case *operators.Chunk:
		return t.chunk(m)
	case operators.Barrier:
		if err := t.flush(); err != nil {
			return err
		}
	}
	return t.out.Push(msg)
}

func (t *TopN) chunk(c *operators.Chunk) error {
	rec := c.Rec
	n := c.Len()
	if int(rec.NumCols()) != len(t.inTypes) {
		return internalf("chunk has %d columns, want %d", rec.NumCols(), len(t.inTypes))
	}
	if c.Ops != nil && len(c.Ops) != n {
		return internalf("chunk has %d rows but %d ops", n, len(c.Ops))
	}
	if err := t.readChunk(rec); err != nil {
		return err
	}
	defer t.endChunk()
	var last *partition
	mono := t.spec.Monotone
	for i := 0; i < n; i++ {
		retract := c.Ops != nil && c.Ops[i].IsRetract()
		if mono && retract && c.Ops[i] == operators.UpdateBefore && i+1 < n && c.Ops[i+1] == operators.UpdateAfter {
			// An update whose new row is behind a full head: its old
			// row, ordered no earlier, is behind it too, dropped before.
			last = t.partitionOf(i+1, last)
			if last.dropped && t.behindTopRow(last, i+1) {
				i++
				continue
			}
			// One within the head: a move there.
			if p := t.partitionOf(i, last); p == last {
				moved, err := t.moveRow(p, i)
				if err != nil {
					return err
				}
				if moved {
					i++
					continue
				}
			}
		}
		p := t.partitionOf(i, last)
		last = p
		if mono && (p.touched || p.snap.full) && t.behindTopRow(p, i) {
			// A new row behind a full head is dropped; an old one there
			// was dropped before (if it was held at all). Neither can
			// touch the top: the partition is touched already, or its
			// head's last key is at or after the emitted top's bound.
			if retract && !p.dropped {
				return internalf("retraction of a row that is not held (row %d of the chunk)", i)
			}
			p.dropped = true
			continue
		}
		kb := t.rowKey(i)
		if retract {
			if !t.removeRow(p, kb) {
				return internalf("retraction of a row that is not held (row %d of the chunk)", i)
			}
		} else if err := t.addRow(p, kb); err != nil {
			return err
		}
		if !p.touched {
			touch, err := t.touches(p, kb)
			if err != nil {
				return err
			}
			if touch {
				p.touched = true
				t.touched = append(t.touched, p.id)
			}
		}
	}
	return nil
}

// readChunk sets up the readers of rec's columns (and t.isort) for a
// chunk's rows; endChunk drops them.
func (t *TopN) readChunk(rec arrow.RecordBatch) error {
	for _, col := range t.usedCols {
		a := rec.Column(col)
		if got, want := a.DataType().ID(), t.inTypes[col].Arrow().ID(); got != want {
			return internalf("column %d is %s in the chunk, want %s", col, a.DataType(), t.inTypes[col])
		}
		t.rd[col].reset(a)
	}
	t.isort = t.isort[:0]
	if t.intSort && t.spec.Monotone {
		for k := range t.sortFields {
			r := &t.rd[t.sortFields[k].col]
			if r.nulls || r.i64 == nil {
				t.isort = t.isort[:0]
				break
			}
			t.isort = append(t.isort, r.i64)
		}
	}
	return nil
}

// endChunk drops what readChunk set up.
func (t *TopN) endChunk() {
	for _, col := range t.usedCols {
		t.rd[col] = reader{}
	}
	clear(t.isort)
	t.isort = t.isort[:0]
}

// partitionOf returns the partition of row i of the chunk being read,
// creating it if need be; last is the previous row's, or nil.
func (t *TopN) partitionOf(i int, last *partition) *partition {
	if t.intPart >= 0 {
		if r := &t.rd[t.intPart]; r.i64 != nil && !(r.nulls && r.arr.IsNull(i)) {
			v := r.i64[i]
			if last != nil && last.inInt && last.ival == v {
				return last
			}
			t.lastPB = t.lastPB[:0] // last is no longer the encoded key's
			if id, ok := t.intLookup(v); ok {
				return t.parts[id]
			}
			p := t.partitionByKey(i, nil)
			p.inInt, p.ival = true, v
			t.intStore(v, p.id)
			return p
		}
	}
	return t.partitionByKey(i, last)
}

// intLookup returns the id of the partition of BIGINT partition value v
// (see intStore).
func (t *TopN) intLookup(v int64) (int32, bool) {
	if uint64(v) < uint64(len(t.dense)) {
		d := t.dense[v]
		return d - 1, d != 0
	}
	id, ok := t.intParts[v]
	return id, ok
}

// intStore records partition id under BIGINT partition value v: in dense
// when v is small enough for it (growing it, up to 1024 + 8 slots per
// partition, and moving the values of intParts it then covers), else in
// intParts.
func (t *TopN) intStore(v int64, id int32) {
	if v >= int64(len(t.dense)) && v < 1024+8*int64(len(t.index)) {
		n := max(2*len(t.dense), int(v)+1, 1024)
		d := make([]int32, n)
		copy(d, t.dense)
		t.dense = d
		for x, xid := range t.intParts {
			if uint64(x) < uint64(n) {
				d[x] = xid + 1
				delete(t.intParts, x)
			}
		}
	}
	if uint64(v) < uint64(len(t.dense)) {
		t.dense[v] = id + 1
		return
	}
	t.intParts[v] = id
}

// intDelete forgets BIGINT partition value v (see intStore).
func (t *TopN) intDelete(v int64) {
	if uint64(v) < uint64(len(t.dense)) {
		t.dense[v] = 0
		return
	}
	delete(t.intParts, v)
}

// partitionByKey is partitionOf by the encoded partition key.
func (t *TopN) partitionByKey(i int, last *partition) *partition {
	pb := t.pbuf[:0]
	for k := range t.partFields {
		f := &t.partFields[k]
		pb = appendField(pb, f, &t.rd[f.col], i)
	}
	t.pbuf = pb
	// last's key is compared as copied to lastPB, next to the operator,
	// not as p.key, on the heap with the partition.
	if last != nil && bytes.Equal(t.lastPB, pb) {
		return last
	}
	id, ok := t.index[string(pb)]
	if !ok {
		id = t.newPartition(string(pb))
	}
	t.lastPB = append(t.lastPB[:0], pb...)
	return t.parts[id]
}

// rowKey encodes row i of the chunk being read as a row key, in t.kbuf.
func (t *TopN) rowKey(i int) []byte {
	t.kbuf = t.appendRowKey(t.kbuf[:0], i)
	return t.kbuf
}

// appendRowKey appends the row key of row i of the chunk being read to kb.
func (t *TopN) appendRowKey(kb []byte, i int) []byte {
	for k := range t.sortFields {
		f := &t.sortFields[k]
		kb = appendField(kb, f, &t.rd[f.col], i)
	}
	return kb
}

// moveRow applies, under Spec.Monotone, the update of rows i (old) and
// i+1 (new) of the chunk being read, both of partition p, as one move
// within p's head when it can (see tree.move); it reports false, having
// changed nothing, when it cannot.
func (t *TopN) moveRow(p *partition, i int) (bool, error) {
	if len(p.rows.blocks) != 1 || p.rows.w == 0 || t.behindTopRow(p, i) {
		return false, nil
	}
	var ko, kn []byte
	if len(t.isort) > 0 {
		// Keys of BIGINT values: compared and written as their words.
		var owa, nwa [maxIntFields]uint64
		ow, nw := t.rowWords(&owa, i), t.rowWords(&nwa, i+1)
		if !p.rows.moveWords(ow, nw) {
			return false, nil
		}
		if !p.touched {
			t.kbuf2 = appendWords(t.kbuf2[:0], ow)
			t.kbuf = appendWords(t.kbuf[:0], nw)
			ko, kn = t.kbuf2, t.kbuf
		}
	} else {
		t.kbuf2 = t.appendRowKey(t.kbuf2[:0], i)
		ko, kn = t.kbuf2, t.rowKey(i+1)
		if !p.rows.move(ko, kn) {
			return false, nil
		}
	}
	t.moves++
	p.syncLast()
	if !p.touched {
		for _, k := range [2][]byte{ko, kn} {
			touch, err := t.touches(p, k)
			if err != nil {
				return false, err
			}
			if touch {
				p.touched = true
				t.touched = append(t.touched, p.id)
				break
			}
		}
	}
	return true, nil
}

// behindTop reports whether, under Spec.Monotone, key k orders after a
// head that holds the whole top (at least Offset+N rows): a row there is
// dropped, and cannot be held.
func (t *TopN) behindTop(p *partition, k []byte) bool {
	return p.rows.rows >= t.spec.Offset+t.spec.N && p.rows.ent > 0 && p.afterLast(k)
}

// behindTopRow is behindTop for the key of row i of the chunk being
// read; with t.isort it compares the row's values with p.lastBuf without
// encoding the key.
func (t *TopN) behindTopRow(p *partition, i int) bool {
	if p.rows.rows < t.spec.Offset+t.spec.N || p.rows.ent == 0 {
		return false
	}
	if len(t.isort) == 0 || !p.lastOK {
		return p.afterLast(t.rowKey(i))
	}
	t.intCmps++
	var ws [maxIntFields]uint64
	return cmpWords(p.lastBuf[:p.lastN], t.rowWords(&ws, i)) < 0
}

// rowWords fills ws with the key words of row i of the chunk being read
// (with t.isort: each BIGINT sort value, ordered as unsigned) and returns
// them.
func (t *TopN) rowWords(ws *[maxIntFields]uint64, i int) []uint64 {
	for k, col := range t.isort {
		ws[k] = uint64(col[i]) ^ t.ixor[k]
	}
	return ws[:len(t.isort)]
}

func (t *TopN) newPartition(key string) int32 {
	var id int32
	if n := len(t.freeIDs); n > 0 {
		id = t.freeIDs[n-1]
		t.freeIDs = t.freeIDs[:n-1]
	} else {
		id = int32(len(t.parts))
		t.parts = append(t.parts, nil)
	}
	t.parts[id] = &partition{key: key, id: id, keep: int32(t.headKeep), rows: tree{w: t.keyWidth}}
	t.index[key] = id
	return id
}

// errLimit is the error of a row held too many times over.
func errLimit() error {
	return sqlerr.New(sqlerr.Resource, sqlerr.ProgramLimitExceeded, "topn: more than %d copies of one row (or 4 GB of keys in one partition)", uint32(math.MaxUint32))
}

// addRow adds one copy of key k to p.
func (t *TopN) addRow(p *partition, k []byte) error {
	if t.spec.Monotone {
		return t.addMonotone(p, k)
	}
	if p.inRest(k) {
		if !p.rest.add(k, 1) {
			return errLimit()
		}
		return nil
	}
	if !p.rows.add(k) {
		return errLimit()
	}
	if p.rows.ent > int(p.keep)+t.headSlack {
		return t.evict(p)
	}
	// The head's last key stays: with a rest, a key goes to the head only
	// when the head is not empty and the key orders no later than its last.
	return nil
}

// addMonotone adds one copy of key k to p under Spec.Monotone: a key
// ordered after a head of at least Offset+N rows is dropped at once (those
// rows will all still be there, or improved, at the barrier), and the head
// drops its worst keys past its limit.
func (t *TopN) addMonotone(p *partition, k []byte) error {
	if t.behindTop(p, k) {
		p.dropped = true
		return nil
	}
	if !p.rows.add(k) {
		return errLimit()
	}
	if p.rows.ent > int(p.keep)+t.headSlack {
		t.evictions++
		p.rows.truncate(int(p.keep), func([]byte, uint32) bool { return true })
		p.dropped = true
	}
	p.syncLast()
	return nil
}

// removeRow deletes one copy of key k from p; it reports false when k is
// not held. Under Spec.Monotone a key not held may have been dropped.
func (t *TopN) removeRow(p *partition, k []byte) bool {
	if t.spec.Monotone {
		if p.rows.ent > 0 && p.afterLast(k) {
			return p.dropped // after the head: dropped, if anything
		}
		if !p.rows.remove(k) {
			return p.dropped
		}
		p.syncLast()
		return true
	}
	if p.inRest(k) {
		if p.rest.remove(k, false) == 0 {
			return false
		}
		if p.rest.n == 0 {
			p.rest = nil
		}
		return true
	}
	if !p.rows.remove(k) {
		return false
	}
	if p.rest != nil {
		p.syncLast()
	}
	return true
}

// evict moves the head's keys after its first p.keep to the rest.
func (t *TopN) evict(p *partition) error {
	if p.rest == nil {
		p.rest = newRestSet(t.restWidth)
	}
	r := p.rest
	t.evictions++
	ok := p.rows.truncate(int(p.keep), func(k []byte, c uint32) bool { return r.add(k, c) })
	p.syncLast()
	if !ok {
		return errLimit()
	}
	return nil
}

// refill moves the m best keys of p's rest (all if fewer) to the end of
// its head.
func (t *TopN) refill(p *partition, m int) error {
	r := p.rest
	t.refills++
	t.heap = r.smallest(m, t.heap, &t.heapX)
	t.mvData, t.mvEnds, t.mvCnt = t.mvData[:0], t.mvEnds[:0], t.mvCnt[:0]
	for _, i := range t.heap {
		t.mvData = r.expand(t.mvData, int(i))
		t.mvEnds = append(t.mvEnds, uint32(len(t.mvData)))
		t.mvCnt = append(t.mvCnt, r.count(int(i)))
	}
	start := uint32(0)
	for j, end := range t.mvEnds {
		k, c := t.mvData[start:end], t.mvCnt[j]
		start = end
		if r.remove(k, true) != c {
			return internalf("refill: a key of the rest is missing")
		}
		if err := p.rows.appendSorted(k, c); err != nil {
			return internalf("refill: %v", err)
		}
	}
	if r.n == 0 {
		p.rest = nil
	}
	p.syncLast()
	return nil
}

// prefixLen is the byte length of the ORDER BY fields at the head of key.
func (t *TopN) prefixLen(key []byte) (int, error) {
	pos := 0
	for k := 0; k < t.nPrefix; k++ {
		var err error
		if pos, err = skipField(key, pos, &t.sortFields[k]); err != nil {
			return 0, internalf("%v", err)
		}
	}
	return pos, nil
}

// touches reports whether adding or removing key can change partition p's
// top as last emitted. When the emitted top was full (the partition had
// rows past it), a key ordered after its boundary cannot: for ROW_NUMBER
// the boundary is the last key at position ≤ Offset+N, for RANK the
// ORDER BY prefix of the last row with rank ≤ Offset+N.
func (t *TopN) touches(p *partition, key []byte) (bool, error) {
	if t.spec.N == 0 {
		// The top is always empty; touch only to drop an empty partition.
		return p.count() == 0, nil
	}
	if !p.snap.full {
		return true, nil
	}
	if t.spec.Kind == Rank {
		n, err := t.prefixLen(key)
		if err != nil {
			return false, err
		}
		key = key[:n]
	}
	return bytes.Compare(key, p.snap.bound) <= 0, nil
}

// computeTop fills t.newSnap with p's current top, refilling p's head
// from its rest as long as the head cannot decide the top.
func (t *TopN) computeTop(p *partition) error {
	m := 0
	for {
		more, used, err := t.walkTop(p)
		if err != nil {
			return err
		}
		if !more {
			if p.keep != math.MaxInt32 {
				p.keep = int32(min(max(t.headKeep, used+t.headSlack), math.MaxInt32))
			}
			return nil
		}
		// Refill to headKeep rows, and by twice as many keys each
		// time ties under RANK need more.
		if m == 0 {
			m = max(t.headKeep-int(min(p.rows.rows, math.MaxInt32)), t.headSlack)
		} else {
			m = min(2*m, math.MaxInt32)
		}
		if err := t.refill(p, m); err != nil {
			return err
		}
	}
}

// walkTop fills t.newSnap with the top of p's head. It reports more when
// the head cannot decide it (it ends before the top does, and p has a
// rest), and the number of head keys it read.
func (t *TopN) walkTop(p *partition) (more bool, used int, err error) {
	s := &t.newSnap
	s.reset()
	lo, hi := t.spec.Offset, t.spec.Offset+t.spec.N // ranks in (lo, hi]
	withRank := t.spec.EmitRank
	var pos int64 // rows before the current entry
	if t.spec.Kind == RowNumber {
		for _, b := range p.rows.blocks {
			for i := 0; i < b.len(); i++ {
				if pos >= hi {
					return false, used, nil
				}
				used++
				k := b.key(i)
				c := int64(b.cnt[i])
				first, last := max(pos+1, lo+1), min(pos+c, hi) // positions in the top
				if first <= last {
					if withRank {
						for r := first; r <= last; r++ {
							s.push(k, 1, r, true)
						}
					} else {
						s.push(k, uint32(last-first+1), 0, false)
					}
				}
				pos += c
				if pos >= hi {
					s.bound = append(s.bound[:0], k...)
					s.full = true
				}
			}
		}
		if t.spec.Monotone && p.dropped && pos < hi {
			return false, used, internalf("the monotone input retracted rows without replacing them: a partition's top has %d rows after rows were dropped", pos)
		}
		return p.rest != nil && pos < hi, used, nil
	}
	var rank, included int64
	var prev []byte
	for _, b := range p.rows.blocks {
		for i := 0; i < b.len(); i++ {
			used++
			k := b.key(i)
			n, err := t.prefixLen(k)
			if err != nil {
				return false, used, err
			}
			if prev == nil || !bytes.Equal(prev, k[:n]) {
				rank = pos + 1
				prev = k[:n]
			}
			if rank > hi {
				s.full = true
				return false, used, nil
			}
			c := int64(b.cnt[i])
			if rank > lo {
				s.push(k, uint32(c), rank, withRank)
			}
			included += c
			pos += c
			s.bound = append(s.bound[:0], prev...)
			if included >= hi {
				s.full = true
			}
		}
	}
	if p.rest != nil {
		// The next key, in the rest, may tie with the last.
		return true, used, nil
	}
	if !s.full {
		s.bound = s.bound[:0]
	}
	return false, used, nil
}

// diff appends to t.changes the changes that turn old into cur.
func (t *TopN) diff(old, cur *snapshot) {
	if !t.spec.EmitRank {
		t.diffKeys(old, cur)
		return
	}
	i, j := 0, 0
	for i < old.len() || j < cur.len() {
		var c int
		switch {
		case i == old.len():
			c = 1
		case j == cur.len():
			c = -1
		default:
			c = bytes.Compare(old.key(i), cur.key(j))
		}
		if c < 0 {
			k := old.key(i)
			i2 := i
			for i2 < old.len() && bytes.Equal(old.key(i2), k) {
				i2++
			}
			t.diffKey(k, old, i, i2, cur, j, j)
			i = i2
			continue
		}
		k := cur.key(j)
		j2 := j
		for j2 < cur.len() && bytes.Equal(cur.key(j2), k) {
			j2++
		}
		i2 := i
		if c == 0 {
			for i2 < old.len() && bytes.Equal(old.key(i2), k) {
				i2++
			}
		}
		t.diffKey(k, old, i, i2, cur, j, j2)
		i, j = i2, j2
	}
}

// diffKeys is diff for snapshots without ranks, which hold each key once:
// a merge of the two key lists.
func (t *TopN) diffKeys(old, cur *snapshot) {
	i, j := 0, 0
	for i < old.len() && j < cur.len() {
		ko, kc := old.key(i), cur.key(j)
		switch c := compareKeys(ko, kc); {
		case c < 0:
			t.diffKey(ko, old, i, i+1, cur, j, j)
			i++
		case c > 0:
			t.diffKey(kc, old, i, i, cur, j, j+1)
			j++
		default:
			if old.mult[i] != cur.mult[j] {
				t.diffKey(ko, old, i, i+1, cur, j, j+1)
			}
			i, j = i+1, j+1
		}
	}
	for ; i < old.len(); i++ {
		t.diffKey(old.key(i), old, i, i+1, cur, j, j)
	}
	for ; j < cur.len(); j++ {
		t.diffKey(cur.key(j), old, i, i, cur, j, j+1)
	}
}

// diffKey diffs the entries of one key: old[i0:i1] and cur[j0:j1].
func (t *TopN) diffKey(k []byte, old *snapshot, i0, i1 int, cur *snapshot, j0, j1 int) {
	if !t.spec.EmitRank {
		var a, b int64
		if i1 > i0 {
			a = int64(old.mult[i0])
		}
		if j1 > j0 {
			b = int64(cur.mult[j0])
		}
		for ; a < b; a++ {
			t.changes = append(t.changes, change{key: k, op: operators.Insert})
		}
		for ; b < a; b++ {
			t.changes = append(t.changes, change{key: k, op: operators.Delete})
		}
		return
	}
	// Cancel equal ranks (both runs are sorted by rank), then pair the
	// leftovers as rank moves; the rest left or entered.
	var gone, came []int64 // one rank per copy
	i, j := i0, j0
	var ri, rj int64 // copies of the current entries already consumed
	for i < i1 || j < j1 {
		switch {
		case j == j1 || (i < i1 && old.rank[i] < cur.rank[j]):
			for ; ri < int64(old.mult[i]); ri++ {
				gone = append(gone, old.rank[i])
			}
			i, ri = i+1, 0
		case i == i1 || cur.rank[j] < old.rank[i]:
			for ; rj < int64(cur.mult[j]); rj++ {
				came = append(came, cur.rank[j])
			}
			j, rj = j+1, 0
		default: // equal ranks
			a, b := int64(old.mult[i]), int64(cur.mult[j])
			for ; a > b; a-- {
				gone = append(gone, old.rank[i])
			}
			for ; b > a; b-- {
				came = append(came, cur.rank[j])
			}
			i, j = i+1, j+1
		}
	}
	m := min(len(gone), len(came))
	for x := 0; x < m; x++ {
		t.changes = append(t.changes,
			change{key: k, rank: gone[x], op: operators.UpdateBefore},
			change{key: k, rank: came[x], op: operators.UpdateAfter})
	}
	for _, r := range gone[m:] {
		t.changes = append(t.changes, change{key: k, rank: r, op: operators.Delete})
	}
	for _, r := range came[m:] {
		t.changes = append(t.changes, change{key: k, rank: r, op: operators.Insert})
	}
}

// flush emits the net change of every touched partition: retractions of
// every partition first, then rank moves, then arrivals, so that a row
// that moves to another partition is deleted before it is inserted again
// and a consumer keyed by the row (or by rank) never sees one key twice.
// Each partition's top is diffed once: its retractions are emitted at
// once, its other changes kept (keys copied, as the emitted top is
// replaced) for the later passes.
func (t *TopN) flush() error {
	defer func() {
		t.touched, t.pend, t.pendData = t.touched[:0], t.pend[:0], t.pendData[:0]
		if cap(t.pend) > 1<<16 || cap(t.pendData) > 1<<20 {
			t.pend, t.pendData = nil, nil // a large epoch's: not kept
		}
	}()
	for _, id := range t.touched {
		p := t.parts[id]
		if err := t.computeTop(p); err != nil {
			return err
		}
		t.changes = t.changes[:0]
		t.diff(&p.snap, &t.newSnap)
		for _, ch := range t.changes {
			if ch.op == operators.Delete {
				if err := t.ensureRoom(1); err != nil {
					return err
				}
				if err := t.appendRow(p.key, ch.key, ch.rank, ch.op); err != nil {
					return err
				}
				continue
			}
			start := len(t.pendData)
			t.pendData = append(t.pendData, ch.key...)
			t.pend = append(t.pend, pendingChange{part: id, start: uint32(start), end: uint32(len(t.pendData)), rank: ch.rank, op: ch.op})
		}
		p.touched = false
		if p.count() > 0 {
			p.snap.copyFrom(&t.newSnap)
		}
	}
	for _, pass := range [2]operators.Op{operators.UpdateBefore, operators.Insert} {
		for x := 0; x < len(t.pend); x++ {
			if t.pend[x].op != pass {
				continue
			}
			rows := 1
			if pass == operators.UpdateBefore {
				rows = 2 // the UpdateAfter follows
			}
			if err := t.ensureRoom(rows); err != nil {
				return err
			}
			for r := 0; r < rows; r++ {
				ch := &t.pend[x+r]
				if err := t.appendRow(t.parts[ch.part].key, t.pendData[ch.start:ch.end], ch.rank, ch.op); err != nil {
					return err
				}
			}
		}
	}
	for _, id := range t.touched {
		if p := t.parts[id]; p.count() == 0 && !p.dropped {
			delete(t.index, p.key)
			if p.inInt {
				t.intDelete(p.ival)
			}
			t.parts[id] = nil
			t.freeIDs = append(t.freeIDs, id)
		}
	}
	return t.emit()
}

// ensureRoom emits the pending chunk if rows more would not fit.
func (t *TopN) ensureRoom(rows int) error {
	if t.rb != nil && len(t.ops)+rows > MaxChunkRows {
		return t.emit()
	}
	return nil
}

// appendRow appends one output row: partition values, the decoded key and
// the rank.
func (t *TopN) appendRow(pkey string, key []byte, rank int64, op operators.Op) error {
	if t.rb == nil {
		t.rb = array.NewRecordBuilder(t.mem, t.schema)
		t.sinks = make([]sink, t.schema.NumFields())
		for c := range t.sinks {
			t.sinks[c] = newSink(t.rb.Field(c))
		}
		set := make([]bool, len(t.inTypes))
		t.partSink = make([]*sink, len(t.partFields))
		for k, f := range t.partFields {
			if !set[f.col] {
				t.partSink[k] = &t.sinks[f.col]
				set[f.col] = true
			}
		}
		t.sortSink = make([]*sink, len(t.sortFields))
		for k, f := range t.sortFields {
			if !set[f.col] {
				t.sortSink[k] = &t.sinks[f.col]
				set[f.col] = true
			}
		}
	}
	pk := unsafeBytes(pkey)
	pos := 0
	var err error
	for k := range t.partFields {
		if pos, err = decodeField(pk, pos, &t.partFields[k], t.partSink[k], &t.scratch); err != nil {
			return internalf("partition key: %v", err)
		}
	}
	pos = 0
	for k := range t.sortFields {
		if pos, err = decodeField(key, pos, &t.sortFields[k], t.sortSink[k], &t.scratch); err != nil {
			return internalf("row key: %v", err)
		}
	}
	if t.spec.EmitRank {
		t.sinks[len(t.sinks)-1].i64.Append(rank)
	}
	t.ops = append(t.ops, op)
	return nil
}

// emit sends the pending output rows as one chunk.
func (t *TopN) emit() error {
	if len(t.ops) == 0 {
		return nil
	}
	rec := t.rb.NewRecordBatch()
	defer rec.Release()
	ops := t.ops
	t.ops = t.ops[:0]
	return t.out.Push(&operators.Chunk{Rec: rec, Ops: ops})
}

// Close implements operators.Operator: it drops all state.
func (t *TopN) Close() error {
	if t.rb != nil {
		t.rb.Release()
		t.rb = nil
	}
	t.parts, t.index, t.touched, t.freeIDs = nil, map[string]int32{}, nil, nil
	if t.intParts != nil {
		t.intParts = map[int64]int32{}
	}
	t.dense = nil
	t.closed = true
	return nil
}

// String describes the operator for plans and errors.
func (t *TopN) String() string {
	return fmt.Sprintf("TopN(%s, partition %v, order %v, n %d, offset %d)", t.spec.Kind, t.spec.PartitionCols, t.spec.Order, t.spec.N, t.spec.Offset)
}
