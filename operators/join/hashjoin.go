// Package join holds the join operators.
package join

import (
	"fmt"
	"hash/maphash"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/eval"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// Kind is the join kind.
type Kind uint8

// The join kinds.
const (
	// Inner is the symmetric incremental inner join.
	Inner Kind = iota + 1
	// LeftOuter is the bounded left outer join of queries: both inputs
	// are buffered until the barrier.
	LeftOuter
	// StreamingLeftOuter is the incremental left outer join of
	// continuous views, correct under retractions on both sides.
	StreamingLeftOuter
)

// maxOut is the most rows one output chunk (or one batch of candidate
// pairs for the residual) carries; a chunk whose rows find more matches
// is emitted in several.
const maxOut = 4096

// end terminates a key chain.
const end = state.NoSlot

// side is one input's state: its rows in columnar slots (one slot per
// copy, so duplicates are separate slots), chained by join key in a
// doubly linked list per key.
type side struct {
	name  string
	types []types.T
	keys  []int
	rows  *state.Columns
	link  []link // by slot: its key chain neighbours (and time)
	ihead heads  // chain heads by a single integer-like key
	shead map[string]uint32
	// nullKeyed holds the left rows of a bounded LeftOuter join whose key
	// has a NULL: they match nothing but are emitted padded.
	nullKeyed []uint32
	// cnt is, by slot of the left side of a StreamingLeftOuter join, the
	// number of right rows the row matches (residual included).
	cnt []int32

	// appendOnly says the input never retracts (Options.AppendOnly): the
	// side keeps no row index, and a stored row leaves only when evicted.
	appendOnly bool

	// Event time, when the join has a TimeBound (see evict.go).
	tcol    int       // the time column, or -1
	gen     []uint32  // by slot: bumped on every add and remove (not kept when appendOnly)
	heap    []tsEntry // stored rows by time (not kept when appendOnly)
	tsq     tsBuckets // stored rows by time, when appendOnly
	wm      int64     // the latest watermark on tcol
	hasWM   bool
	horizon int64 // no stored row has a time below it
	evicted bool  // horizon is set

	// Per-chunk keys of the bound record, computed a column at a time.
	enc   []state.KeyEncoder
	valid []bool  // row's key (and time) has no NULL
	ikeys []int64 // single integer-like key
	kbuf  []byte  // encoded keys, row i at kbuf[koff[i]:koff[i+1]]
	koff  []int32
	rowTs []int64 // the rows' times
	// scratch for a stored slot's encoded key
	sbuf []byte

	// The row index (see rowindex.go), not kept when appendOnly: by
	// slot, the row's hash and whether the next slot of its key chain
	// holds the same row; the table of representative slots; the bound
	// record's row hashes.
	rhash []uint32
	same  []uint64
	tab   []uint32
	tabN  int
	seed  maphash.Seed
	rowH  []uint64
}

// link is a slot's place in its key chain, with the row's event time
// (when the join has a TimeBound) beside it, so a chain walk that checks
// the time bound touches one cache line per row. On an append-only side
// the link is the only copy of the time (see omitTime).
type link struct {
	next, prev uint32 // the next/previous slot with the same key, or end
	ts         int64
}

// Options are the optional settings of a HashJoin.
type Options struct {
	// Time, when set, bounds the two sides' event times against each
	// other (see TimeBound): pairs outside the bound are never emitted,
	// and rows that can no longer match are freed as watermarks advance.
	Time *TimeBound
	// AppendOnly says, by input (left, right), that the input only ever
	// inserts rows. Such a side keeps no row index (the hash of every
	// stored row and a table to find a row's copies, which only a
	// retraction needs), and a retraction arriving on it is an internal
	// error.
	AppendOnly [2]bool
	// Output, when not nil, lists the columns the join emits, as indices
	// into its inputs' columns (the left ones, then the right ones; an
	// index may repeat); the output schema has one field per entry. Only
	// an Inner join narrows its output: an outer join's residual reads
	// the whole pair.
	Output []int
	// Self says the two inputs are one stream: the same rows with the
	// same ops, in the same order (one plan read once). The join then
	// keeps each row once, in a state shared by both roles, takes the
	// stream from one port (Self) and emits exactly the pairs a join of
	// the stream with itself would (see self.go). It needs an Inner join
	// whose inputs have equal types, keys, time columns and AppendOnly.
	Self bool
	// SkipSelfPairs lets a self-join leave out pairs of a row with itself
	// where it can do so cheaply (the append-only walk): the caller filters
	// them out anyway (a residual such as a.x <> b.x). An optimization
	// only: some such pairs may still be emitted.
	SkipSelfPairs bool
	// Unordered lets a self-join whose output is one BIGINT or TIMESTAMP
	// column c of both roles (Output [c, c+nl] or [c+nl, c]) emit, where
	// it can do so cheaply (the append-only walk), each unordered pair of
	// rows once, as the pair whose left value of c is below the right
	// one, and leave out the pairs whose values are equal or NULL: what a
	// residual left.c < right.c keeps of a join whose condition is
	// otherwise the same for (l, r) as for (r, l), as the caller promises
	// (planner.Join.Unordered). An optimization only: the caller still
	// filters; elsewhere the join emits both orientations.
	Unordered bool
}

// HashJoin is an equi-join of two inputs, exposed as two ports (Left and
// Right). The inner join is symmetric and incremental: a row arriving on
// either side is added to (or, for a retraction, removed from) its side's
// state and matched against the other side's, so it is correct under
// inserts and deletes in any order. Update pairs come out as a Delete
// and an Insert. A NULL key matches nothing.
//
// LeftOuter is bounded only (for queries): both inputs are buffered until
// the barrier, then every left row is emitted with its matches that pass
// the residual, or once padded with NULLs when there are none.
//
// StreamingLeftOuter is incremental: it keeps per left row the number of
// right rows it matches (key equal and residual TRUE). A left row with no
// match is emitted padded with NULLs; when its first match arrives the
// padded row is retracted, and when its last match leaves it is emitted
// again. Output rows are Inserts and Deletes. A left row whose key has a
// NULL is emitted padded and not stored (its retraction retracts the
// padded row).
//
// Each side keeps its rows columnar (state.Columns) with a hash index on
// the key (a map from a single integer-like key, or from the encoded key
// bytes, to a chain of slots); output columns are built with typed
// gathers from the input record and the stored slots. With a TimeBound
// the join also frees rows as the watermarks pass them (see TimeBound).
//
// A self-join (Options.Self) takes one stream on one port (Self) and
// keeps each row once for both roles (see self.go). Options.Output
// narrows an inner join's output to the columns its consumers read.
//
// Watermarks are consumed, not forwarded: the join's output carries no
// event-time guarantee downstream operators rely on.
type HashJoin struct {
	mem      memory.Allocator
	kind     Kind
	schema   *arrow.Schema
	sides    [2]*side
	intKey   bool
	residual *eval.Evaluator
	time     *TimeBound
	out      operators.Output
	seen     [2]bool
	bad      error // a construction error, returned by every push

	// Pending output pairs of the chunk being processed, by input in: a
	// row of the bound record of input in beside a slot of the other
	// side (pend[in].rows[k] is that input's column values of pair k). A
	// self-join fills both: pend[0] holds (row, stored) pairs, pend[1]
	// (stored, row) pairs.
	pend [2]pending
	// pendTimes: the pending pairs record their stored rows' times, which
	// the output reads (a time column of the output; see buildPairs).
	pendTimes bool

	// outCols is, by output column, the side and column it shows.
	outCols []outCol

	// keyFrom is, by side and column, the column of the other side's
	// input whose value every pair shares with it (a key column of the
	// same type, compared exactly), or -1.
	keyFrom [2][]int

	// StreamingLeftOuter: candidate pairs awaiting the residual (same
	// layout as the pending pairs), padded rows awaiting output (rows of
	// the bound left record, or left slots), and per-row match counts of
	// a left chunk.
	cin      []int32
	cslot    []uint32
	cops     []operators.Op
	padRows  []int32
	padSlots []uint32
	padOps   []operators.Op
	passCnt  []int32
	keep     []bool
	nulls    []uint32
	arrs     []arrow.Array // output columns being gathered

	// Inner join chunks: each row's op (noWalk: the row matches
	// nothing), and the interleaved walks' state (walk.go).
	rowOps []operators.Op
	walks  walkers

	// A self-join (self.go): its sides are one; the role horizons (rows
	// below hL no longer match as left rows, below hR as right rows);
	// each row's slot in the chunk being processed (or end); the slots
	// stored by that chunk.
	self bool
	// skipSelfPairs: the append-only walk leaves out each row's pair with
	// itself (Options.SkipSelfPairs).
	skipSelfPairs bool
	// unordered is Options.Unordered, with unordLeft the output column
	// of the left role's value; canon is set while the append-only walk
	// emits each unordered pair once (see orient).
	unordered, canon bool
	unordLeft        int
	unordLo, unordHi []int64 // orient's scratch
	// walkSink keeps the walk's look-ahead loads from being optimized
	// away.
	walkSink int64
	hL, hR   int64
	rowSlot  []uint32
	fresh    []uint64
}

// New returns a HashJoin without options; see NewWithOptions.
func New(mem memory.Allocator, kind Kind, leftTypes, rightTypes []types.T, leftKeys, rightKeys []int, residual expr.Expr, outSchema *arrow.Schema, out operators.Output) *HashJoin {
	return NewWithOptions(mem, kind, leftTypes, rightTypes, leftKeys, rightKeys, residual, outSchema, Options{}, out)
}

// NewWithOptions returns a HashJoin. leftKeys and rightKeys are the
// equi-join columns of each input; residual (over the concatenated row,
// may be nil) is evaluated only by the left outer joins — for Inner, put
// a Filter after the join. outSchema is the left columns followed by the
// right ones (or those of Options.Output). Invalid arguments (mismatched key types, an uncompilable
// residual, a time column that is not TIMESTAMP or BIGINT) are reported
// by the first Push.
func NewWithOptions(mem memory.Allocator, kind Kind, leftTypes, rightTypes []types.T, leftKeys, rightKeys []int, residual expr.Expr, outSchema *arrow.Schema, opts Options, out operators.Output) *HashJoin {
	j := &HashJoin{mem: mem, kind: kind, schema: outSchema, out: out}
	j.sides[0] = newSide("left", leftTypes, leftKeys, &j.bad)
	j.sides[1] = newSide("right", rightTypes, rightKeys, &j.bad)
	j.sides[0].appendOnly, j.sides[1].appendOnly = opts.AppendOnly[0], opts.AppendOnly[1]
	for _, s := range j.sides {
		if s.appendOnly {
			// A row goes beside the newest of its key (see insert).
			if err := s.rows.Paginate(chainPage); err != nil {
				j.fail("join: %s input: %v", s.name, err)
			}
		}
	}
	j.intKey = len(leftKeys) == 1
	if kind != Inner && kind != LeftOuter && kind != StreamingLeftOuter {
		j.fail("join: unknown kind %d", kind)
	}
	if len(leftKeys) != len(rightKeys) {
		j.fail("join: %d left keys but %d right keys", len(leftKeys), len(rightKeys))
	}
	for k := range leftKeys {
		if k >= len(rightKeys) || leftKeys[k] < 0 || leftKeys[k] >= len(leftTypes) || rightKeys[k] < 0 || rightKeys[k] >= len(rightTypes) {
			j.fail("join: key %d out of range", k)
			j.intKey = false
			break
		}
		lt, rt := leftTypes[leftKeys[k]], rightTypes[rightKeys[k]]
		if !intLike(lt.Kind) || !intLike(rt.Kind) {
			j.intKey = false
		}
		if lt.Kind != rt.Kind || (lt.Kind == types.Decimal && lt.Scale != rt.Scale) {
			if !(len(leftKeys) == 1 && intLike(lt.Kind) && intLike(rt.Kind)) {
				j.fail("join: key %d: cannot match %s with %s", k, lt, rt)
			}
		}
	}
	j.keyFrom = [2][]int{noKeyFrom(len(leftTypes)), noKeyFrom(len(rightTypes))}
	if j.bad == nil {
		for k := range leftKeys {
			lc, rc := leftKeys[k], rightKeys[k]
			if exactKey(leftTypes[lc], rightTypes[rc]) {
				j.keyFrom[0][lc], j.keyFrom[1][rc] = rc, lc
			}
		}
	}
	j.setOutput(opts.Output, len(leftTypes), len(rightTypes))
	if outSchema.NumFields() != len(j.outCols) {
		j.fail("join: output schema has %d fields, want %d", outSchema.NumFields(), len(j.outCols))
	}
	if residual != nil && kind != Inner {
		ev, err := eval.Compile(residual)
		if err != nil {
			j.fail("join: residual %s: %v", residual, err)
		}
		j.residual = ev
	}
	if t := opts.Time; t != nil {
		if j.checkTimeCol(j.sides[0], t.LeftCol) && j.checkTimeCol(j.sides[1], t.RightCol) {
			tb := *t
			j.time = &tb
			j.sides[0].tcol, j.sides[1].tcol = t.LeftCol, t.RightCol
			j.sides[0].tsq.shift = bucketShift(t.Lo, t.Hi)
			j.sides[1].tsq.shift = j.sides[0].tsq.shift
		}
	}
	if opts.Self {
		j.setSelf(leftTypes, rightTypes, leftKeys, rightKeys, opts)
	}
	if j.bad == nil {
		for _, s := range j.stateSides() {
			j.omitTime(s)
		}
	}
	j.pendTimes = j.time != nil && slices.ContainsFunc(j.outCols, func(oc outCol) bool {
		return oc.col == j.sides[oc.side].tcol
	})
	return j
}

// chainPage is the slots of an append-only side's page (see
// state.Columns.Paginate): four 16-byte links fill a cache line.
const chainPage = 4

// omitTime makes the rows of s keep no copy of the time column when its
// links hold every stored row's time: an append-only side of a
// time-bounded inner join (whose rows all have a time: a row with a NULL
// time is not stored). The time is then read from the links: by a chain
// walk as before, by the output (the pending pairs' times, or the input
// row's key when the time is a key column), by drop (see datum) and by
// Snapshot.
func (j *HashJoin) omitTime(s *side) {
	if j.kind != Inner || !s.appendOnly || s.tcol < 0 {
		return
	}
	if err := s.rows.Omit(s.tcol); err != nil {
		j.fail("join: %s input: %v", s.name, err)
	}
}

// outCol is an output column: column col of input side's rows.
type outCol struct{ side, col int }

// setOutput sets the output columns: out (indices into the nl left and
// nr right columns), or every column when out is nil.
func (j *HashJoin) setOutput(out []int, nl, nr int) {
	j.outCols = j.outCols[:0]
	if out == nil {
		for c := 0; c < nl+nr; c++ {
			out = append(out, c)
		}
	} else if j.kind != Inner {
		j.fail("join: only an inner join narrows its output")
	}
	for _, c := range out {
		switch {
		case c < 0 || c >= nl+nr:
			j.fail("join: output column %d out of range", c)
			return
		case c < nl:
			j.outCols = append(j.outCols, outCol{0, c})
		default:
			j.outCols = append(j.outCols, outCol{1, c - nl})
		}
	}
}

func (j *HashJoin) fail(format string, args ...any) {
	if j.bad == nil {
		j.bad = sqlerr.New(sqlerr.Internal, sqlerr.InternalError, format, args...)
	}
}

func newSide(name string, ts []types.T, keys []int, bad *error) *side {
	s := &side{name: name, types: ts, keys: keys, enc: make([]state.KeyEncoder, len(keys)),
		shead: map[string]uint32{}, tcol: -1, seed: maphash.MakeSeed()}
	rows, err := state.NewColumns(ts)
	if err != nil && *bad == nil {
		*bad = sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: %s input: %v", name, err)
	}
	if rows == nil {
		rows, _ = state.NewColumns(nil)
	}
	s.rows = rows
	return s
}

func noKeyFrom(n int) []int {
	k := make([]int, n)
	for i := range k {
		k[i] = -1
	}
	return k
}

// exactKey reports whether key columns of types l and r are equal as keys
// only when their values are identical (not so for doubles: -0 and 0,
// or for integers of different widths).
func exactKey(l, r types.T) bool {
	if l.Kind != r.Kind || l.Scale != r.Scale || !arrow.TypeEqual(l.Arrow(), r.Arrow()) {
		return false
	}
	switch l.Kind {
	case types.BigInt, types.Int, types.Date, types.Timestamp, types.Varchar, types.Decimal, types.Boolean:
		return true
	}
	return false
}

func intLike(k types.Kind) bool {
	return k == types.Int || k == types.BigInt || k == types.Date || k == types.Timestamp
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

// Push implements operators.Operator; it is the left port.
func (j *HashJoin) Push(m operators.Message) error { return j.push(0, m) }

// StateRows is the number of rows the join holds, both sides together.
func (j *HashJoin) StateRows() int {
	if j.self {
		return j.sides[0].rows.Len()
	}
	return j.sides[0].rows.Len() + j.sides[1].rows.Len()
}

// Close implements operators.Operator: it drops both sides' state. It is
// idempotent.
func (j *HashJoin) Close() error {
	for _, s := range j.sides {
		s.reset()
	}
	return nil
}

func (s *side) reset() {
	s.rows.Reset()
	s.link, s.cnt = nil, nil
	s.ihead = heads{}
	s.shead = map[string]uint32{}
	s.nullKeyed = nil
	s.gen, s.heap = nil, nil
	s.tsq = tsBuckets{shift: s.tsq.shift}
	s.rhash, s.same, s.tab, s.tabN = nil, nil, nil, 0
}

func (j *HashJoin) push(in int, m operators.Message) error {
	switch x := m.(type) {
	case *operators.Chunk:
		if j.bad != nil {
			return j.bad
		}
		if j.self {
			if in != 0 {
				return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: a self-join has one input, not a right port")
			}
			return j.selfChunk(x)
		}
		return j.chunk(in, x)
	case operators.Barrier:
		if j.self {
			return j.out.Push(x)
		}
		j.seen[in] = true
		if !j.seen[0] || !j.seen[1] {
			return nil
		}
		j.seen = [2]bool{}
		if j.kind == LeftOuter && j.bad == nil {
			if err := j.finishLeftOuter(); err != nil {
				return err
			}
		}
		return j.out.Push(x)
	case operators.Watermark:
		switch {
		case j.bad != nil:
		case j.self:
			j.selfWatermark(x)
		default:
			j.watermark(in, x)
		}
		return nil
	}
	return j.out.Push(m)
}

// computeKeys fills s's per-row keys (and times) for rec, a column at a
// time.
func (j *HashJoin) computeKeys(s *side, rec arrow.RecordBatch, n int) {
	if !s.appendOnly {
		s.computeRowHashes(rec, n)
	}
	s.valid = slices.Grow(s.valid[:0], n)[:n]
	for i := range s.valid {
		s.valid[i] = true
	}
	if s.tcol >= 0 {
		j.computeTimes(s, rec, n)
	}
	if j.intKey {
		a := rec.Column(s.keys[0])
		s.ikeys = slices.Grow(s.ikeys[:0], n)[:n]
		switch x := a.(type) {
		case *array.Int64:
			copy(s.ikeys, x.Int64Values())
		case *array.Timestamp:
			for i, v := range x.TimestampValues() {
				s.ikeys[i] = int64(v)
			}
		case *array.Int32:
			for i, v := range x.Int32Values() {
				s.ikeys[i] = int64(v)
			}
		case *array.Date32:
			for i, v := range x.Date32Values() {
				s.ikeys[i] = int64(v)
			}
		}
		if a.NullN() > 0 {
			for i := range s.valid {
				s.valid[i] = s.valid[i] && a.IsValid(i)
			}
		}
		return
	}
	for k, col := range s.keys {
		s.enc[k].Reset(rec.Column(col))
	}
	s.kbuf = s.kbuf[:0]
	s.koff = append(s.koff[:0], 0)
	for i := 0; i < n; i++ {
		for k := range s.enc {
			if s.enc[k].IsNull(i) {
				s.valid[i] = false
			}
			s.kbuf = s.enc[k].Append(s.kbuf, i)
		}
		s.koff = append(s.koff, int32(len(s.kbuf)))
	}
}

// key returns the encoded key of row i of s's bound record.
func (s *side) key(i int) []byte { return s.kbuf[s.koff[i]:s.koff[i+1]] }

// chain returns the first slot of t whose key equals row i of s's bound
// record, or end.
func (j *HashJoin) chain(t, s *side, i int) uint32 {
	if j.intKey {
		return t.ihead.get(s.ikeys[i])
	}
	h, ok := t.shead[string(s.key(i))]
	if !ok {
		return end
	}
	return h
}

// insert stores row i of s's bound record, whose key has no NULL, and
// returns its slot. A row whose time is below the side's eviction
// horizon is not stored (it can match no future row): ok is false.
func (j *HashJoin) insert(s *side, i int) (slot uint32, ok bool) {
	if s.evicted && s.rowTs[i] < s.horizon {
		return end, false
	}
	var head uint32
	var entry *headEntry
	if s.appendOnly {
		// The new row heads its key's chain: storing it on the page of
		// the old head puts the newest rows of a key, walked one after
		// another, in one or two cache lines instead of one apiece.
		head, entry = j.chainHead(s, i)
		slot = s.rows.AddAfter(i, head)
	} else {
		slot = s.rows.Add(i)
	}
	if int(slot) >= len(s.link) {
		n := int(slot) + 1
		s.link = append(s.link, make([]link, n-len(s.link))...)
		if !s.appendOnly {
			s.rhash = append(s.rhash, make([]uint32, n-len(s.rhash))...)
		}
		if j.kind == StreamingLeftOuter && s == j.sides[0] {
			s.cnt = append(s.cnt, make([]int32, n-len(s.cnt))...)
		}
		if s.tcol >= 0 && !s.appendOnly {
			s.gen = append(s.gen, make([]uint32, n-len(s.gen))...)
		}
	}
	if s.appendOnly {
		s.setHead(entry, i, slot)
		s.linkBefore(slot, head)
	} else {
		j.insertIndexed(s, slot, i)
	}
	if s.tcol >= 0 {
		s.link[slot].ts = s.rowTs[i]
		if s.appendOnly {
			s.tsq.push(slot, s.rowTs[i])
		} else {
			s.gen[slot]++
			s.push(tsEntry{ts: s.rowTs[i], slot: slot, gen: s.gen[slot]})
		}
	}
	return slot, true
}

// datum returns column c of the row at slot x, from its link when the
// rows omit the column (the time, see omitTime).
func (s *side) datum(x uint32, c int) types.Datum {
	if c == s.tcol && s.rows.Omitted(c) {
		return types.Datum{Kind: s.types[c].Kind, I: s.link[x].ts}
	}
	return s.rows.Datum(x, c)
}

// linkHead puts slot, holding row i of s's bound record, at the head of
// its key chain.
func (j *HashJoin) linkHead(s *side, slot uint32, i int) {
	h, entry := j.chainHead(s, i)
	s.setHead(entry, i, slot)
	s.linkBefore(slot, h)
}

// chainHead returns the head of the key chain of row i of s's bound
// record (end: none yet) and, for an integer key, its heads entry, so
// that setHead needs no second lookup.
func (j *HashJoin) chainHead(s *side, i int) (uint32, *headEntry) {
	if j.intKey {
		e := s.ihead.upsert(s.ikeys[i])
		return e.head, e
	}
	return j.chain(s, s, i), nil
}

// setHead makes slot the head of the key chain of row i of s's bound
// record; entry is chainHead's.
func (s *side) setHead(entry *headEntry, i int, slot uint32) {
	if entry != nil {
		entry.head = slot
	} else {
		s.shead[string(s.key(i))] = slot
	}
}

// linkBefore links slot into a key chain right before h (end: as its
// only row), as the chain's head.
func (s *side) linkBefore(slot, h uint32) {
	s.link[slot].next = h
	s.link[slot].prev = end
	if h != end {
		s.link[h].prev = slot
	}
}

// insertIndexed enters slot, holding row i of s's bound record, in the
// row index and its key chain: right after a stored copy of the row, or
// at the head of the chain.
func (j *HashJoin) insertIndexed(s *side, slot uint32, i int) {
	rh := s.rowHash(i)
	s.rhash[slot] = rh
	s.growTab()
	if pos, r := s.lookupRow(rh, i); r != end {
		// A copy of the row is stored: link the slot right after it, so
		// identical copies stay adjacent in the key chain.
		nx := s.link[r].next
		s.link[slot].next, s.link[slot].prev = nx, r
		s.link[r].next = slot
		if nx != end {
			s.link[nx].prev = slot
		}
		s.setSame(slot, s.isSame(r))
		s.setSame(r, true)
	} else {
		s.tab[pos] = slot
		s.tabN++
		s.setSame(slot, false)
		j.linkHead(s, slot, i)
	}
}

// remove deletes one stored copy of row i of s's bound record, found
// through the row index.
func (j *HashJoin) remove(s *side, i int) bool {
	_, r := s.lookupRow(s.rowHash(i), i)
	if r == end {
		return false
	}
	if s.isSame(r) {
		r = s.link[r].next // a copy that is not in the table
	}
	j.drop(s, r)
	return true
}

// drop unlinks slot x from its key chain and frees it.
func (j *HashJoin) drop(s *side, x uint32) {
	if !s.appendOnly {
		s.unindex(x)
	}
	p, nx := s.link[x].prev, s.link[x].next
	if nx != end {
		s.link[nx].prev = p
	}
	if p != end {
		s.link[p].next = nx
	} else if j.intKey {
		k := s.datum(x, s.keys[0]).I
		if nx != end {
			s.ihead.swap(k, nx)
		} else {
			s.ihead.del(k)
		}
	} else {
		s.sbuf = s.sbuf[:0]
		for _, c := range s.keys {
			s.sbuf = state.AppendDatum(s.sbuf, s.datum(x, c), s.types[c])
		}
		if nx != end {
			s.shead[string(s.sbuf)] = nx
		} else {
			delete(s.shead, string(s.sbuf))
		}
	}
	s.link[x].next, s.link[x].prev = end, end
	if s.tcol >= 0 && !s.appendOnly {
		s.gen[x]++ // the heap entry of x is stale now
	}
	s.rows.Remove(x)
}

func (j *HashJoin) missing(s *side, rec arrow.RecordBatch, i int) error {
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: %s input: delete of a row that is not present: %s", s.name, rowString(s, rec, i))
}

// retractAppendOnly is the error for a retraction, row i of rec, arriving
// on append-only side s.
func (j *HashJoin) retractAppendOnly(s *side, rec arrow.RecordBatch, i int) error {
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: %s input is append-only but retracts a row: %s", s.name, rowString(s, rec, i))
}

// rowString formats row i of rec, a record of s's input.
func rowString(s *side, rec arrow.RecordBatch, i int) []byte {
	parts := make([]byte, 0, 64)
	parts = append(parts, '(')
	for c, t := range s.types {
		if c > 0 {
			parts = append(parts, ", "...)
		}
		parts = append(parts, types.DatumAt(rec.Column(c), i, t).String()...)
	}
	return append(parts, ')')
}

func (j *HashJoin) chunk(in int, c *operators.Chunk) error {
	s := j.sides[in]
	rec := c.Rec
	if err := s.rows.Bind(rec); err != nil {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: %s input: %v", s.name, err)
	}
	defer s.rows.Unbind()
	n := c.Len()
	if c.Ops != nil && len(c.Ops) != n {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: %s input: %d rows but %d ops", s.name, n, len(c.Ops))
	}
	if s.appendOnly && c.Ops != nil {
		for i, op := range c.Ops {
			if op.IsRetract() {
				return j.retractAppendOnly(s, rec, i)
			}
		}
	}
	j.computeKeys(s, rec, n)
	switch j.kind {
	case LeftOuter:
		return j.bufferOuter(in, c)
	case StreamingLeftOuter:
		if in == 0 {
			return j.outerLeftChunk(c)
		}
		return j.outerRightChunk(c)
	}
	// Apply the chunk to s first, then match it against the other side:
	// the chunk changes only s, so every row sees the same other side
	// either way, and the walks can then run side by side (walk.go).
	j.rowOps = slices.Grow(j.rowOps[:0], n)[:n]
	for i := 0; i < n; i++ {
		j.rowOps[i] = noWalk
		if !s.valid[i] {
			continue // a NULL key (or time) matches nothing
		}
		op := operators.Insert
		if c.Op(i).IsRetract() {
			if j.evictedRow(s, i) {
				continue
			}
			if !j.remove(s, i) {
				return j.missing(s, rec, i)
			}
			op = operators.Delete
		} else {
			j.insert(s, i)
		}
		j.rowOps[i] = op
	}
	if err := j.walk(in, walkPair); err != nil {
		return err
	}
	return j.flush(in)
}

// buildPairs builds a record of rows of the bound record of input in
// beside slots of the other input, left columns first, gathering each
// output column in bulk. otherTs, when not nil, is the other side's time
// at each slot (from its links), which saves gathering its time column;
// a key column of the other side whose values equal the input row's key
// (see keyFrom) is gathered from the input record instead of the stored
// slots, which reads it in order rather than at random.
func (j *HashJoin) buildPairs(in int, rows []int32, slots []uint32, otherTs []int64) (arrow.RecordBatch, error) {
	arrs := j.arrs[:0]
	for o, oc := range j.outCols {
		sd, c := j.sides[oc.side], oc.col
		dt := j.schema.Field(o).Type
		var a arrow.Array
		var err error
		switch {
		case oc.side == in:
			a, err = sd.rows.GatherRowsColumn(j.mem, dt, c, rows)
		case c == sd.tcol && otherTs != nil:
			// Also the only source of an omitted time column (see
			// omitTime): the pending pairs record the times whenever an
			// output column shows one (pendTimes).
			a = state.Int64Array(j.mem, dt, otherTs)
		case j.keyFrom[oc.side][c] >= 0:
			a, err = j.sides[in].rows.GatherRowsColumn(j.mem, dt, j.keyFrom[oc.side][c], rows)
		default:
			a, err = sd.rows.GatherSlotsColumn(j.mem, dt, c, slots)
		}
		if err != nil {
			state.ReleaseAll(arrs)
			return nil, sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: output: %s input: %v", sd.name, err)
		}
		arrs = append(arrs, a)
	}
	return j.record(arrs, len(rows)), nil
}

// record makes a record of the output schema from arrs (n rows each),
// releasing them, and keeps arrs' backing array for the next gather.
func (j *HashJoin) record(arrs []arrow.Array, n int) arrow.RecordBatch {
	rec := state.NewRecord(j.schema, arrs, n)
	j.arrs = arrs[:0]
	return rec
}

// flush emits the pending pairs of input rows (of side in) and stored
// rows of the other side.
func (j *HashJoin) flush(in int) error {
	p := &j.pend[in]
	if len(p.rows) == 0 {
		return nil
	}
	defer p.reset()
	var ts []int64
	if j.pendTimes {
		ts = p.ts
	}
	rec, err := j.buildPairs(in, p.rows, p.slots, ts)
	if err != nil {
		return err
	}
	if j.canon && in == 0 && len(p.ops) == 0 {
		if rec = j.orient(rec); rec.NumRows() == 0 {
			rec.Release()
			return nil
		}
	}
	defer rec.Release()
	return j.out.Push(&operators.Chunk{Rec: rec, Ops: p.chunkOps()})
}

// pending is a batch of output pairs awaiting flush: row rows[k] of the
// bound record beside stored slot slots[k] (whose time, with pendTimes,
// is ts[k]), with op ops[k]. While every op is an Insert (an append-only
// input) ops stays empty: the output chunk has no ops.
type pending struct {
	rows  []int32
	slots []uint32
	ops   []operators.Op
	ts    []int64
}

// add appends a pair and reports whether the batch is full (maxOut).
func (p *pending) add(row int32, slot uint32, op operators.Op, ts int64, withTime bool) bool {
	p.rows = append(p.rows, row)
	p.slots = append(p.slots, slot)
	if len(p.ops) > 0 {
		p.ops = append(p.ops, op)
	} else if op != operators.Insert {
		for range len(p.rows) - 1 {
			p.ops = append(p.ops, operators.Insert)
		}
		p.ops = append(p.ops, op)
	}
	if withTime {
		p.ts = append(p.ts, ts)
	}
	return len(p.rows) >= maxOut
}

// chunkOps is the ops of the output chunk of the pending pairs: nil when
// all are Inserts, else a copy the receiver may keep.
func (p *pending) chunkOps() []operators.Op {
	if len(p.ops) == 0 {
		return nil
	}
	return slices.Clone(p.ops)
}

func (p *pending) reset() {
	p.rows, p.slots, p.ops, p.ts = p.rows[:0], p.slots[:0], p.ops[:0], p.ts[:0]
}

// opsOf returns nil for all-Insert ops (an append-only chunk), else a copy
// of ops the receiver may keep.
func opsOf(ops []operators.Op) []operators.Op {
	for _, o := range ops {
		if o != operators.Insert {
			return slices.Clone(ops)
		}
	}
	return nil
}

// evalMask evaluates the residual over rec, vectorized; the returned
// slice (reused by the next call) is true where it is TRUE.
func (j *HashJoin) evalMask(rec arrow.RecordBatch) ([]bool, error) {
	mask, err := j.residual.Eval(j.mem, rec)
	if err != nil {
		return nil, fmt.Errorf("join residual %s: %w", j.residual.Expr(), err)
	}
	defer mask.Release()
	n := int(rec.NumRows())
	j.keep = slices.Grow(j.keep[:0], n)[:n]
	b, ok := mask.(*array.Boolean)
	if !ok {
		return nil, sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join residual %s: result is %s, not BOOLEAN", j.residual.Expr(), mask.DataType())
	}
	for i := range j.keep {
		j.keep[i] = b.IsValid(i) && b.Value(i)
	}
	return j.keep, nil
}
