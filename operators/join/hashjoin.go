// Package join holds the join operators.
package join

import (
	"fmt"
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
	Inner Kind = iota + 1
	LeftOuter
)

// maxOut is the most rows one output chunk carries; a chunk whose rows
// find more matches is emitted in several.
const maxOut = 4096

// end terminates a key chain.
const end = state.NoSlot

// side is one input's state: its rows in columnar slots (one slot per
// copy, so duplicates are separate slots), chained by join key.
type side struct {
	name  string
	types []types.T
	keys  []int
	rows  *state.Columns
	next  []uint32 // by slot: the next slot with the same key, or end
	ihead map[int64]uint32
	shead map[string]uint32
	// nullKeyed holds the left rows of a LeftOuter join whose key has a
	// NULL: they match nothing but are emitted padded.
	nullKeyed []uint32

	// Per-chunk keys of the bound record, computed a column at a time.
	enc   []state.KeyEncoder
	valid []bool  // row's key has no NULL
	ikeys []int64 // single integer-like key
	kbuf  []byte  // encoded keys, row i at kbuf[koff[i]:koff[i+1]]
	koff  []int32
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
// Each side keeps its rows columnar (state.Columns) with a hash index on
// the key (a map from a single integer-like key, or from the encoded key
// bytes, to a chain of slots); output columns are built with typed
// gathers from the input record and the stored slots.
type HashJoin struct {
	mem      memory.Allocator
	kind     Kind
	schema   *arrow.Schema
	sides    [2]*side
	intKey   bool
	residual *eval.Evaluator
	out      operators.Output
	seen     [2]bool
	bad      error // a construction error, returned by every push
	b        *array.RecordBuilder

	// Pending output pairs of the chunk being processed.
	pin   []int32
	pslot []uint32
	pops  []operators.Op
}

// New returns a HashJoin. leftKeys and rightKeys are the equi-join
// columns of each input; residual (over the concatenated row, may be nil)
// is evaluated only by LeftOuter — for Inner, put a Filter after the join.
// outSchema is the left columns followed by the right ones. Invalid
// arguments (mismatched key types, an uncompilable residual) are reported
// by the first Push.
func New(mem memory.Allocator, kind Kind, leftTypes, rightTypes []types.T, leftKeys, rightKeys []int, residual expr.Expr, outSchema *arrow.Schema, out operators.Output) *HashJoin {
	j := &HashJoin{mem: mem, kind: kind, schema: outSchema, out: out}
	j.sides[0] = newSide("left", leftTypes, leftKeys, &j.bad)
	j.sides[1] = newSide("right", rightTypes, rightKeys, &j.bad)
	j.intKey = len(leftKeys) == 1
	if len(leftKeys) != len(rightKeys) {
		j.fail("join: %d left keys but %d right keys", len(leftKeys), len(rightKeys))
	}
	for k := range leftKeys {
		if k >= len(rightKeys) || leftKeys[k] < 0 || leftKeys[k] >= len(leftTypes) || rightKeys[k] < 0 || rightKeys[k] >= len(rightTypes) {
			j.fail("join: key %d out of range", k)
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
	if outSchema.NumFields() != len(leftTypes)+len(rightTypes) {
		j.fail("join: output schema has %d fields, want %d", outSchema.NumFields(), len(leftTypes)+len(rightTypes))
	}
	if residual != nil && kind == LeftOuter {
		ev, err := eval.Compile(residual)
		if err != nil {
			j.fail("join: residual %s: %v", residual, err)
		}
		j.residual = ev
	}
	return j
}

func (j *HashJoin) fail(format string, args ...any) {
	if j.bad == nil {
		j.bad = sqlerr.New(sqlerr.Internal, sqlerr.InternalError, format, args...)
	}
}

func newSide(name string, ts []types.T, keys []int, bad *error) *side {
	s := &side{name: name, types: ts, keys: keys, enc: make([]state.KeyEncoder, len(keys)),
		ihead: map[int64]uint32{}, shead: map[string]uint32{}}
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

// Close implements operators.Operator: it drops both sides' state. It is
// idempotent.
func (j *HashJoin) Close() error {
	for _, s := range j.sides {
		s.reset()
	}
	if j.b != nil {
		j.b.Release()
		j.b = nil
	}
	return nil
}

func (s *side) reset() {
	s.rows.Reset()
	s.next = nil
	s.ihead = map[int64]uint32{}
	s.shead = map[string]uint32{}
	s.nullKeyed = nil
}

func (j *HashJoin) push(in int, m operators.Message) error {
	switch x := m.(type) {
	case *operators.Chunk:
		if j.bad != nil {
			return j.bad
		}
		return j.chunk(in, x)
	case operators.Barrier:
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
		// Watermarks are handled by the windowed joins; the regular join
		// does not forward them (its output has no event-time guarantee).
		return nil
	}
	return j.out.Push(m)
}

func (j *HashJoin) builder() *array.RecordBuilder {
	if j.b == nil {
		j.b = array.NewRecordBuilder(j.mem, j.schema)
	}
	return j.b
}

// computeKeys fills s's per-row keys for rec, a column at a time.
func (j *HashJoin) computeKeys(s *side, rec arrow.RecordBatch, n int) {
	s.valid = slices.Grow(s.valid[:0], n)[:n]
	for i := range s.valid {
		s.valid[i] = true
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
				s.valid[i] = a.IsValid(i)
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
	var h uint32
	var ok bool
	if j.intKey {
		h, ok = t.ihead[s.ikeys[i]]
	} else {
		h, ok = t.shead[string(s.key(i))]
	}
	if !ok {
		return end
	}
	return h
}

// insert stores row i of s's bound record, whose key has no NULL.
func (j *HashJoin) insert(s *side, i int) {
	slot := s.rows.Add(i)
	for int(slot) >= len(s.next) {
		s.next = append(s.next, end)
	}
	h := j.chain(s, s, i)
	s.next[slot] = h
	if j.intKey {
		s.ihead[s.ikeys[i]] = slot
	} else {
		s.shead[string(s.key(i))] = slot
	}
}

// remove deletes one stored copy of row i of s's bound record.
func (j *HashJoin) remove(s *side, i int) bool {
	prev := end
	for x := j.chain(s, s, i); x != end; prev, x = x, s.next[x] {
		if !s.rows.Equal(x, i) {
			continue
		}
		nx := s.next[x]
		switch {
		case prev != end:
			s.next[prev] = nx
		case nx != end && j.intKey:
			s.ihead[s.ikeys[i]] = nx
		case nx != end:
			s.shead[string(s.key(i))] = nx
		case j.intKey:
			delete(s.ihead, s.ikeys[i])
		default:
			delete(s.shead, string(s.key(i)))
		}
		s.next[x] = end
		s.rows.Remove(x)
		return true
	}
	return false
}

func (j *HashJoin) missing(s *side, rec arrow.RecordBatch, i int) error {
	parts := make([]byte, 0, 64)
	parts = append(parts, '(')
	for c, t := range s.types {
		if c > 0 {
			parts = append(parts, ", "...)
		}
		parts = append(parts, types.DatumAt(rec.Column(c), i, t).String()...)
	}
	parts = append(parts, ')')
	return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: %s input: delete of a row that is not present: %s", s.name, parts)
}

func (j *HashJoin) chunk(in int, c *operators.Chunk) error {
	s, other := j.sides[in], j.sides[1-in]
	rec := c.Rec
	if err := s.rows.Bind(rec); err != nil {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: %s input: %v", s.name, err)
	}
	defer s.rows.Unbind()
	n := c.Len()
	if c.Ops != nil && len(c.Ops) != n {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: %s input: %d rows but %d ops", s.name, n, len(c.Ops))
	}
	j.computeKeys(s, rec, n)
	if j.kind == LeftOuter {
		return j.bufferOuter(in, c)
	}
	for i := 0; i < n; i++ {
		if !s.valid[i] {
			continue // a NULL key matches nothing
		}
		op := operators.Insert
		if c.Op(i).IsRetract() {
			if !j.remove(s, i) {
				return j.missing(s, rec, i)
			}
			op = operators.Delete
		} else {
			j.insert(s, i)
		}
		for x := j.chain(other, s, i); x != end; x = other.next[x] {
			j.pin = append(j.pin, int32(i))
			j.pslot = append(j.pslot, x)
			j.pops = append(j.pops, op)
			if len(j.pin) >= maxOut {
				if err := j.flush(in); err != nil {
					return err
				}
			}
		}
	}
	return j.flush(in)
}

// flush emits the pending pairs of input rows (of side in) and stored
// rows of the other side.
func (j *HashJoin) flush(in int) error {
	if len(j.pin) == 0 {
		return nil
	}
	defer func() {
		j.pin, j.pslot, j.pops = j.pin[:0], j.pslot[:0], j.pops[:0]
	}()
	b := j.builder()
	nl := len(j.sides[0].types)
	own, other := j.sides[in].rows, j.sides[1-in].rows
	var err error
	if in == 0 {
		err = own.AppendRows(b, 0, j.pin)
		if err == nil {
			err = other.AppendSlots(b, nl, j.pslot)
		}
	} else {
		err = other.AppendSlots(b, 0, j.pslot)
		if err == nil {
			err = own.AppendRows(b, nl, j.pin)
		}
	}
	rec := b.NewRecordBatch() // also resets the builder after an error
	defer rec.Release()
	if err != nil {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: output: %v", err)
	}
	var ops []operators.Op
	if slices.Contains(j.pops, operators.Delete) {
		ops = slices.Clone(j.pops) // the receiver may keep it
	}
	return j.out.Push(&operators.Chunk{Rec: rec, Ops: ops})
}

// bufferOuter stores a chunk of a LeftOuter join's input until the barrier.
func (j *HashJoin) bufferOuter(in int, c *operators.Chunk) error {
	s := j.sides[in]
	for i := 0; i < c.Len(); i++ {
		retract := c.Op(i).IsRetract()
		switch {
		case s.valid[i] && retract:
			if !j.remove(s, i) {
				return j.missing(s, c.Rec, i)
			}
		case s.valid[i]:
			j.insert(s, i)
		case in == 1:
			// A right row with a NULL key never matches.
		case retract:
			k := slices.IndexFunc(s.nullKeyed, func(x uint32) bool { return s.rows.Equal(x, i) })
			if k < 0 {
				return j.missing(s, c.Rec, i)
			}
			s.rows.Remove(s.nullKeyed[k])
			s.nullKeyed = slices.Delete(s.nullKeyed, k, k+1)
		default:
			s.nullKeyed = append(s.nullKeyed, s.rows.Add(i))
		}
	}
	return nil
}

// finishLeftOuter emits the buffered left rows joined with the right
// state, then drops the left rows.
func (j *HashJoin) finishLeftOuter() error {
	l, r := j.sides[0], j.sides[1]
	defer l.reset()
	matched := make([]bool, len(l.next))
	var lc, rc []uint32
	process := func() error {
		if len(lc) == 0 {
			return nil
		}
		defer func() { lc, rc = lc[:0], rc[:0] }()
		if j.residual == nil {
			for _, x := range lc {
				matched[x] = true
			}
			return j.emitSlots(lc, rc)
		}
		keep, err := j.evalResidual(lc, rc)
		if err != nil {
			return err
		}
		var kl, kr []uint32
		for i, k := range keep {
			if k {
				matched[lc[i]] = true
				kl = append(kl, lc[i])
				kr = append(kr, rc[i])
			}
		}
		return j.emitSlots(kl, kr)
	}
	pairs := func(lh, rh uint32) error {
		for x := lh; x != end; x = l.next[x] {
			for y := rh; y != end; y = r.next[y] {
				lc = append(lc, x)
				rc = append(rc, y)
				if len(lc) >= maxOut {
					if err := process(); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if j.intKey {
		for k, lh := range l.ihead {
			if rh, ok := r.ihead[k]; ok {
				if err := pairs(lh, rh); err != nil {
					return err
				}
			}
		}
	} else {
		for k, lh := range l.shead {
			if rh, ok := r.shead[k]; ok {
				if err := pairs(lh, rh); err != nil {
					return err
				}
			}
		}
	}
	if err := process(); err != nil {
		return err
	}
	// Unmatched left rows, padded with NULLs.
	var un []uint32
	addUnmatched := func(x uint32) error {
		if matched[x] {
			return nil
		}
		un = append(un, x)
		if len(un) >= maxOut {
			err := j.emitPadded(un)
			un = un[:0]
			return err
		}
		return nil
	}
	for _, h := range l.ihead {
		for x := h; x != end; x = l.next[x] {
			if err := addUnmatched(x); err != nil {
				return err
			}
		}
	}
	for _, h := range l.shead {
		for x := h; x != end; x = l.next[x] {
			if err := addUnmatched(x); err != nil {
				return err
			}
		}
	}
	for _, x := range l.nullKeyed {
		un = append(un, x)
		if len(un) >= maxOut {
			if err := j.emitPadded(un); err != nil {
				return err
			}
			un = un[:0]
		}
	}
	return j.emitPadded(un)
}

// buildSlots builds a record of left slots ls beside right slots rs.
func (j *HashJoin) buildSlots(ls, rs []uint32) (arrow.RecordBatch, error) {
	b := j.builder()
	err := j.sides[0].rows.AppendSlots(b, 0, ls)
	if err == nil {
		err = j.sides[1].rows.AppendSlots(b, len(j.sides[0].types), rs)
	}
	rec := b.NewRecordBatch()
	if err != nil {
		rec.Release()
		return nil, sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: output: %v", err)
	}
	return rec, nil
}

func (j *HashJoin) emitSlots(ls, rs []uint32) error {
	if len(ls) == 0 {
		return nil
	}
	rec, err := j.buildSlots(ls, rs)
	if err != nil {
		return err
	}
	defer rec.Release()
	return j.out.Push(&operators.Chunk{Rec: rec})
}

func (j *HashJoin) emitPadded(ls []uint32) error {
	if len(ls) == 0 {
		return nil
	}
	rs := make([]uint32, len(ls))
	for i := range rs {
		rs[i] = end
	}
	return j.emitSlots(ls, rs)
}

// evalResidual evaluates the residual over candidate pairs, vectorized;
// keep[i] is true when it is TRUE for pair i.
func (j *HashJoin) evalResidual(ls, rs []uint32) ([]bool, error) {
	rec, err := j.buildSlots(ls, rs)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	mask, err := j.residual.Eval(j.mem, rec)
	if err != nil {
		return nil, fmt.Errorf("join residual %s: %w", j.residual.Expr(), err)
	}
	defer mask.Release()
	keep := make([]bool, len(ls))
	if b, ok := mask.(*array.Boolean); ok {
		for i := range keep {
			keep[i] = b.IsValid(i) && b.Value(i)
		}
	}
	return keep, nil
}
