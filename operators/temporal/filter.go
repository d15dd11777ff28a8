// Package temporal holds the temporal filter: `WHERE ts > NOW() - INTERVAL
// d` (or >=) over a changelog, a sliding window whose rows are retracted
// downstream, and their state freed, as NOW() passes them.
//
// NOW() is the Now of the latest Barrier (operators.Barrier.Now, µs),
// taken as non-decreasing: a barrier with an earlier Now leaves it where
// it was, so rows once expired never come back.
package temporal

import (
	"fmt"
	"hash/maphash"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// MaxChunkRows bounds the rows of a Chunk the filter builds.
const MaxChunkRows = 4096

const (
	noSlot = math.MaxUint32
	inHeap = math.MinInt32 // loc offset for heap positions (see Filter.loc)
)

// Filter is the temporal filter operator. It implements
// operators.Operator; see NewFilter.
//
// Semantics: a row is in the output while ts > now - window (≥ with
// inclusive), where now is the latest barrier's Now. During an epoch an
// Insert is forwarded at once if it is in the window as of the last
// barrier's Now, and dropped otherwise; before the first barrier rows are
// held, and the first barrier decides them. At each barrier the filter
// emits a Delete for every held row the new Now has passed, frees it, and
// forwards the barrier. A Delete or UpdateBefore of a row the filter holds
// is forwarded (and the row removed); of a row it dropped or expired, it is
// dropped. An update pair whose two sides are both forwarded stays a pair;
// a pair with one side forwarded becomes a Delete or an Insert. A NULL ts
// is never in the window.
//
// State: the held rows in columnar slots (state.Columns), and their order
// by ts: a ring of slots appended in ts order (rows arrive mostly in ts
// order, so expiry pops its head) plus a min-heap for the rows that arrive
// out of order. The index that finds a retracted row (full-row hash to
// slots) is built on the first retraction, so an append-only input
// never pays for it.
//
// Checkpoints: Filter implements operators.Checkpointer; the format is in
// checkpoint.go.
type Filter struct {
	mem       memory.Allocator
	in        *arrow.Schema
	inTypes   []types.T
	tsCol     int
	date      bool // ts is a DATE (days)
	window    int64
	inclusive bool
	out       operators.Output

	started bool  // a barrier has passed
	now     int64 // the latest barrier's Now

	rows *state.Columns
	ts   []int64 // by slot
	// loc is each slot's place in the order: ≥ 0 its index in ring,
	// else inHeap + its index in heap.
	loc     []int32
	ring    []uint32 // slots in non-decreasing ts, from head; noSlot = retracted
	head    int
	tombs   int   // retracted entries in ring[head:]
	ringMax int64 // ts of the ring's last entry
	heap    []uint32

	indexed bool
	seed    maphash.Seed
	tags    []uint32 // by slot: the upper half of the row's hash
	index   rowIndex
	enc     []state.KeyEncoder
	kbuf    []byte

	tsBuf  []int64
	tsNull []bool
	sel    []int32
	selOps []operators.Op
	slots  []uint32
	arrs   []arrow.Array // gathered output columns, between gather and record
	closed bool
}

func internalf(format string, args ...any) error {
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "temporal filter: "+format, args...)
}

// NewFilter returns a temporal filter keeping rows of schema in (SQL types
// inTypes) while column tsCol (TIMESTAMP, or DATE) is > now - window (≥
// with inclusive); window is in microseconds.
func NewFilter(mem memory.Allocator, in *arrow.Schema, inTypes []types.T, tsCol int, window int64, inclusive bool, out operators.Output) (*Filter, error) {
	if in.NumFields() != len(inTypes) {
		return nil, internalf("schema has %d columns but %d types", in.NumFields(), len(inTypes))
	}
	if tsCol < 0 || tsCol >= len(inTypes) {
		return nil, internalf("ts column %d out of range", tsCol)
	}
	f := &Filter{mem: mem, in: in, inTypes: inTypes, tsCol: tsCol, window: window, inclusive: inclusive, out: out, ringMax: math.MinInt64}
	switch inTypes[tsCol].Kind {
	case types.Timestamp:
	case types.Date:
		f.date = true
	default:
		return nil, internalf("ts column %d is %s, want TIMESTAMP or DATE", tsCol, inTypes[tsCol])
	}
	for i, t := range inTypes {
		if got, want := in.Field(i).Type.ID(), t.Arrow().ID(); got != want {
			return nil, internalf("column %d is %s in the schema, want %s", i, in.Field(i).Type, t)
		}
	}
	rows, err := state.NewColumns(inTypes)
	if err != nil {
		return nil, internalf("%v", err)
	}
	f.rows = rows
	f.seed = maphash.MakeSeed()
	f.enc = make([]state.KeyEncoder, len(inTypes))
	return f, nil
}

// Schema implements operators.Operator: the input's.
func (f *Filter) Schema() *arrow.Schema { return f.in }

// StateRows is the number of rows held.
func (f *Filter) StateRows() int { return f.rows.Len() }

// StateBytes estimates the bytes of state held beyond the row values
// (which grow with StateRows): the order structures and the index.
func (f *Filter) StateBytes() int64 {
	n := 8*cap(f.ts) + 4*cap(f.loc) + 4*cap(f.ring) + 4*cap(f.heap) + 4*cap(f.tags) + f.index.bytes()
	return int64(n)
}

// cut is the largest ts outside the window at now.
func (f *Filter) cut() int64 {
	c := f.now - f.window
	if f.inclusive {
		c--
	}
	return c
}

// Push implements operators.Operator.
func (f *Filter) Push(msg operators.Message) error {
	if f.closed {
		return internalf("push after close")
	}
	switch m := msg.(type) {
	case *operators.Chunk:
		return f.chunk(m)
	case operators.Barrier:
		if err := f.barrier(m.Now); err != nil {
			return err
		}
	}
	return f.out.Push(msg)
}

// readTS fills f.tsBuf and f.tsNull from the ts column.
func (f *Filter) readTS(a arrow.Array) {
	n := a.Len()
	f.tsBuf = f.tsBuf[:0]
	f.tsNull = f.tsNull[:0]
	nulls := a.NullN() > 0
	if f.date {
		v := a.(*array.Date32).Date32Values()
		for i := 0; i < n; i++ {
			f.tsBuf = append(f.tsBuf, int64(v[i])*86_400_000_000)
		}
	} else {
		v := a.(*array.Timestamp).TimestampValues()
		for i := 0; i < n; i++ {
			f.tsBuf = append(f.tsBuf, int64(v[i]))
		}
	}
	for i := 0; i < n; i++ {
		f.tsNull = append(f.tsNull, nulls && a.IsNull(i))
	}
}

func (f *Filter) chunk(c *operators.Chunk) error {
	rec := c.Rec
	n := c.Len()
	if int(rec.NumCols()) != len(f.inTypes) {
		return internalf("chunk has %d columns, want %d", rec.NumCols(), len(f.inTypes))
	}
	if c.Ops != nil && len(c.Ops) != n {
		return internalf("chunk has %d rows but %d ops", n, len(c.Ops))
	}
	if err := f.rows.Bind(rec); err != nil {
		return internalf("%v", err)
	}
	defer f.rows.Unbind()
	f.readTS(rec.Column(f.tsCol))
	cut := f.cut()
	f.sel, f.selOps = f.sel[:0], f.selOps[:0]
	hasRetract := false
	if c.Ops != nil {
		for _, op := range c.Ops {
			if op.IsRetract() {
				hasRetract = true
				break
			}
		}
	}
	if hasRetract && !f.indexed {
		f.buildIndex()
	}
	if f.indexed {
		for k := range f.enc {
			f.enc[k].Reset(rec.Column(k))
		}
	}
	for i := 0; i < n; i++ {
		op := c.Op(i)
		var keep bool
		if op.IsRetract() {
			// Before the first barrier a retraction cancels a held row.
			keep = f.retract(i) && f.started
		} else if !f.tsNull[i] && (!f.started || f.tsBuf[i] > cut) {
			f.add(i)
			keep = f.started
		}
		if keep {
			f.sel = append(f.sel, int32(i))
			f.selOps = append(f.selOps, op)
		}
	}
	if len(f.sel) == 0 {
		return nil
	}
	if len(f.sel) == n && (c.Ops == nil || c.Ops[0] != operators.UpdateAfter && c.Ops[n-1] != operators.UpdateBefore) {
		return f.out.Push(c) // everything passes, pairs intact
	}
	// Pairs with one side dropped, or split across chunks, become a
	// Delete or an Insert.
	for k, op := range f.selOps {
		switch op {
		case operators.UpdateBefore:
			if k+1 >= len(f.selOps) || f.selOps[k+1] != operators.UpdateAfter || f.sel[k+1] != f.sel[k]+1 {
				f.selOps[k] = operators.Delete
			}
		case operators.UpdateAfter:
			if k == 0 || f.selOps[k-1] != operators.UpdateBefore || f.sel[k-1] != f.sel[k]-1 {
				f.selOps[k] = operators.Insert
			}
		}
	}
	var ops []operators.Op
	if c.Ops != nil {
		ops = f.selOps
	}
	return f.emitRows(f.sel, ops)
}

// emitRows sends rows of the bound record as one chunk (sel is at most a
// chunk's length, so it fits).
func (f *Filter) emitRows(sel []int32, ops []operators.Op) error {
	arrs, err := f.rows.GatherRows(f.mem, f.in, 0, sel, f.arrs[:0])
	if err != nil {
		return internalf("%v", err)
	}
	rec := f.record(arrs, len(sel))
	defer rec.Release()
	return f.out.Push(&operators.Chunk{Rec: rec, Ops: ops})
}

// record makes a record of n rows of the gathered arrs, whose references
// pass to it, keeping arrs's backing array for the next gather.
func (f *Filter) record(arrs []arrow.Array, n int) arrow.RecordBatch {
	rec := state.NewRecord(f.in, arrs, n)
	f.arrs = arrs[:0]
	return rec
}

// add stores row i of the bound record.
func (f *Filter) add(i int) {
	slot := f.rows.Add(i)
	for int(slot) >= len(f.ts) {
		f.ts = append(f.ts, 0)
		f.loc = append(f.loc, 0)
		if f.indexed {
			f.tags = append(f.tags, 0)
		}
	}
	ts := f.tsBuf[i]
	f.ts[slot] = ts
	if ts >= f.ringMax || len(f.ring) == f.head {
		f.loc[slot] = int32(len(f.ring))
		f.ring = append(f.ring, slot)
		f.ringMax = ts
	} else {
		f.heapPush(slot)
	}
	if f.indexed {
		f.link(slot, f.hashRow(i))
	}
}

// retract removes one held copy of row i of the bound record and reports
// whether there was one.
func (f *Filter) retract(i int) bool {
	h := f.hashRow(i)
	s, ok := f.index.find(h, func(s uint32) bool { return f.rows.Equal(s, i) })
	if ok {
		f.remove(s)
	}
	return ok
}

// remove frees slot: out of the order, the index and the store.
func (f *Filter) remove(s uint32) {
	if l := f.loc[s]; l >= 0 {
		f.ring[l] = noSlot
		f.tombs++
		f.maybeCompact()
	} else {
		f.heapRemove(int(l - inHeap))
	}
	if f.indexed {
		f.unlink(s)
	}
	f.rows.Remove(s)
}

// maybeCompact drops retracted entries and the popped head from the ring
// once they are the larger part of it.
func (f *Filter) maybeCompact() {
	live := len(f.ring) - f.head - f.tombs
	if f.head+f.tombs < 1024 || f.head+f.tombs < live {
		return
	}
	j := 0
	for _, s := range f.ring[f.head:] {
		if s == noSlot {
			continue
		}
		f.ring[j] = s
		f.loc[s] = int32(j)
		j++
	}
	f.ring = f.ring[:j]
	f.head, f.tombs = 0, 0
	if cap(f.ring) > 4*j+1024 {
		f.ring = append(make([]uint32, 0, 2*j+1024), f.ring...)
	}
}

// barrier expires rows at the barrier's Now: silently before the first
// barrier (those rows were never forwarded), then it forwards the rest.
func (f *Filter) barrier(now int64) error {
	if !f.started || now > f.now {
		f.now = now
	}
	cut := f.cut()
	f.slots = f.slots[:0]
	for f.head < len(f.ring) {
		s := f.ring[f.head]
		if s == noSlot {
			f.head++
			f.tombs--
			continue
		}
		if f.ts[s] > cut {
			break
		}
		f.slots = append(f.slots, s)
		f.head++
	}
	for len(f.heap) > 0 && f.ts[f.heap[0]] <= cut {
		s := f.heap[0]
		f.heapRemove(0)
		f.slots = append(f.slots, s)
	}
	if f.head == len(f.ring) {
		f.ring, f.head, f.tombs, f.ringMax = f.ring[:0], 0, 0, math.MinInt64
	}
	if f.started {
		if err := f.emitSlots(f.slots, operators.Delete); err != nil {
			return err
		}
	}
	for _, s := range f.slots {
		if f.indexed {
			f.unlink(s)
		}
		f.rows.Remove(s)
	}
	f.maybeCompact()
	if !f.started {
		f.started = true
		// The rows held before the first barrier that are in its window.
		f.slots = f.slots[:0]
		for _, s := range f.ring[f.head:] {
			if s != noSlot {
				f.slots = append(f.slots, s)
			}
		}
		f.slots = append(f.slots, f.heap...)
		if err := f.emitSlots(f.slots, operators.Insert); err != nil {
			return err
		}
	}
	return nil
}

// emitSlots sends the rows at slots with one op, in chunks.
func (f *Filter) emitSlots(slots []uint32, op operators.Op) error {
	for start := 0; start < len(slots); start += MaxChunkRows {
		part := slots[start:min(start+MaxChunkRows, len(slots))]
		arrs, err := f.rows.GatherSlots(f.mem, f.in, 0, part, f.arrs[:0])
		if err != nil {
			return internalf("%v", err)
		}
		rec := f.record(arrs, len(part))
		var ops []operators.Op
		if op != operators.Insert {
			ops = f.selOps[:0]
			for range part {
				ops = append(ops, op)
			}
			f.selOps = ops
		}
		err = f.out.Push(&operators.Chunk{Rec: rec, Ops: ops})
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// The min-heap of out-of-order slots by ts; loc holds inHeap+index.

func (f *Filter) heapSet(i int, s uint32) {
	f.heap[i] = s
	f.loc[s] = inHeap + int32(i)
}

func (f *Filter) heapPush(s uint32) {
	f.heap = append(f.heap, s)
	f.heapUp(len(f.heap)-1, s)
}

func (f *Filter) heapUp(i int, s uint32) {
	t := f.ts[s]
	for i > 0 {
		p := (i - 1) / 2
		if f.ts[f.heap[p]] <= t {
			break
		}
		f.heapSet(i, f.heap[p])
		i = p
	}
	f.heapSet(i, s)
}

func (f *Filter) heapDown(i int, s uint32) {
	t := f.ts[s]
	n := len(f.heap)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && f.ts[f.heap[c+1]] < f.ts[f.heap[c]] {
			c++
		}
		if f.ts[f.heap[c]] >= t {
			break
		}
		f.heapSet(i, f.heap[c])
		i = c
	}
	f.heapSet(i, s)
}

func (f *Filter) heapRemove(i int) {
	last := len(f.heap) - 1
	s := f.heap[last]
	f.heap = f.heap[:last]
	if i == last {
		return
	}
	if i > 0 && f.ts[s] < f.ts[f.heap[(i-1)/2]] {
		f.heapUp(i, s)
	} else {
		f.heapDown(i, s)
	}
}

// The retraction index: full-row hash → slots (see rowIndex).

// hashRow returns the tag (upper hash half) of row i of the bound record
// (the encoders reset to it).
func (f *Filter) hashRow(i int) uint32 {
	b := f.kbuf[:0]
	for k := range f.enc {
		b = f.enc[k].Append(b, i)
	}
	f.kbuf = b
	return uint32(maphash.Bytes(f.seed, b) >> 32)
}

// hashSlot returns the tag of the row held at slot, equal to hashRow's
// for the same row.
func (f *Filter) hashSlot(s uint32) uint32 {
	b := f.kbuf[:0]
	for k, t := range f.inTypes {
		b = state.AppendDatum(b, f.rows.Datum(s, k), t)
	}
	f.kbuf = b
	return uint32(maphash.Bytes(f.seed, b) >> 32)
}

func (f *Filter) link(s, tag uint32) {
	f.tags[s] = tag
	f.index.insert(s, tag)
}

func (f *Filter) unlink(s uint32) { f.index.remove(s, f.tags[s]) }

// buildIndex indexes every held row (on the first retraction).
func (f *Filter) buildIndex() {
	f.indexed = true
	f.index.init(f.rows.Len() * 2)
	f.tags = make([]uint32, len(f.ts))
	each := func(s uint32) { f.link(s, f.hashSlot(s)) }
	for _, s := range f.ring[f.head:] {
		if s != noSlot {
			each(s)
		}
	}
	for _, s := range f.heap {
		each(s)
	}
}

// Close implements operators.Operator: it drops all state.
func (f *Filter) Close() error {
	f.rows.Reset()
	f.ts, f.loc, f.ring, f.heap, f.tags, f.index = nil, nil, nil, nil, nil, rowIndex{}
	f.head, f.tombs = 0, 0
	f.closed = true
	return nil
}

// String describes the operator for plans and errors.
func (f *Filter) String() string {
	op := ">"
	if f.inclusive {
		op = ">="
	}
	return fmt.Sprintf("TemporalFilter(col %d %s NOW() - %dµs)", f.tsCol, op, f.window)
}
