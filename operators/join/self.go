package join

import (
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// A self-join (Options.Self) joins a stream S with itself: both inputs
// would carry the same rows, so it keeps each row once, in one side
// shared by the left and the right role, and walks each key chain once
// for both. It emits the same pairs as the two-sided join fed every chunk
// on the left port and then on the right, and every watermark on both:
//
//   - for a row c of a chunk, (c, s) for each stored row s that would be
//     in the right state before the chunk, and (s, c) for each s in the
//     left state after it (which holds the chunk's own rows, and c itself:
//     the pair (c, c));
//   - with a TimeBound, the roles have their own horizons: a watermark w
//     frees left rows below hL = w - Hi and right rows below hR = w + Lo.
//     The shared side holds the rows at or above min(hL, hR); a walk
//     checks the role's horizon beside the bound, so a stored row past
//     one role's horizon matches only in the other role, as in the
//     two-sided join.
//
// An append-only stream takes one walk per row: the chunk's rows are
// stored first (each at the head of its key chain), then each row walks
// from its own slot, meeting the chunk's earlier rows of its key (marked
// fresh) and then the rows stored before the chunk. Against a row stored
// before, both orientations are checked; against an earlier row c' of
// the chunk, (c', r) and (r, c') are those the right pass of the
// two-sided join finds (each needs its left row stored in the left role),
// so each unordered pair of the chunk is emitted once in each orientation
// and each row once with itself. A row below the horizons, not stored,
// walks from the head of its chain and meets every stored row of the
// chunk with its key.
//
// A stream that may retract takes the two-sided join's two passes: the
// (row, stored) pairs against the state before the chunk, the chunk
// applied, then the (stored, row) pairs against the state after it; each
// pass is flushed whole, so no pending pair names a slot the chunk frees.

// roleNone is a role horizon before any watermark: no row is below it.
const roleNone = math.MinInt64

// setSelf makes j a self-join: its right side is its left side.
func (j *HashJoin) setSelf(lt, rt []types.T, lk, rk []int, opts Options) {
	switch {
	case j.kind != Inner:
		j.fail("join: a self-join must be an inner join")
	case !slices.Equal(lt, rt):
		j.fail("join: a self-join's inputs have different types")
	case !slices.Equal(lk, rk):
		j.fail("join: a self-join's inputs have different keys")
	case opts.AppendOnly[0] != opts.AppendOnly[1]:
		j.fail("join: a self-join's inputs differ in AppendOnly")
	case opts.Time != nil && opts.Time.LeftCol != opts.Time.RightCol:
		j.fail("join: a self-join's inputs have different time columns")
	}
	j.self = true
	j.skipSelfPairs = opts.SkipSelfPairs
	if opts.Unordered {
		if !UnorderedOutput(lt, opts.Output) {
			j.fail("join: Unordered needs an output of one BIGINT or TIMESTAMP column of both roles")
		}
		if t := opts.Time; t != nil && t.Lo != -t.Hi {
			j.fail("join: Unordered needs a symmetric time bound, not %d..%d", t.Lo, t.Hi)
		}
		j.unordered, j.unordLeft = true, 0
		if len(j.outCols) > 0 && j.outCols[0].side == 1 {
			j.unordLeft = 1
		}
	}
	j.sides[0].name = "input"
	j.sides[1] = j.sides[0]
	j.hL, j.hR = roleNone, roleNone
}

// UnorderedOutput reports whether output (Options.Output of a self-join
// whose input has types in) is one BIGINT or TIMESTAMP column of both
// roles, [c, c+len(in)] or the reverse, as Options.Unordered needs.
func UnorderedOutput(in []types.T, output []int) bool {
	if len(output) != 2 {
		return false
	}
	c := min(output[0], output[1])
	if c < 0 || c >= len(in) || max(output[0], output[1]) != c+len(in) {
		return false
	}
	k := in[c].Kind
	return k == types.BigInt || k == types.Timestamp
}

// Unordered reports whether the join is a self-join that emits each
// unordered pair once where it can (Options.Unordered).
func (j *HashJoin) Unordered() bool { return j.self && j.unordered }

// SkipsSelfPairs reports whether the join is a self-join that leaves out
// pairs of a row with itself (Options.SkipSelfPairs).
func (j *HashJoin) SkipsSelfPairs() bool { return j.self && j.skipSelfPairs }

// Self is the port of a self-join's one input (see Options.Self).
func (j *HashJoin) Self() operators.Output { return port{j, 0} }

// selfWatermark records a watermark on a self-join's input and frees the
// rows that can match no future row in either role.
func (j *HashJoin) selfWatermark(w operators.Watermark) {
	s := j.sides[0]
	if j.time == nil || w.Column != s.tcol || (s.hasWM && w.Time <= s.wm) {
		return
	}
	s.wm, s.hasWM = w.Time, true
	j.setRoleHorizons()
	j.evict(s, min(j.hL, j.hR))
}

// setRoleHorizons sets the role horizons from the input's watermark.
func (j *HashJoin) setRoleHorizons() {
	s := j.sides[0]
	if j.time == nil || !s.hasWM {
		j.hL, j.hR = roleNone, roleNone
		return
	}
	// A right row r can match a future left row only if r.ts >= wm + Lo;
	// a left row l a future right row only if l.ts + Hi >= wm.
	j.hR = satAdd(s.wm, j.time.Lo)
	j.hL = satAdd(s.wm, negSat(j.time.Hi))
}

// selfChunk processes a chunk of a self-join's input.
func (j *HashJoin) selfChunk(c *operators.Chunk) error {
	s := j.sides[0]
	rec := c.Rec
	if err := s.rows.Bind(rec); err != nil {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: %s: %v", s.name, err)
	}
	defer s.rows.Unbind()
	n := c.Len()
	if c.Ops != nil && len(c.Ops) != n {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "join: %s: %d rows but %d ops", s.name, n, len(c.Ops))
	}
	if s.appendOnly && c.Ops != nil {
		for i, op := range c.Ops {
			if op.IsRetract() {
				return j.retractAppendOnly(s, rec, i)
			}
		}
	}
	j.computeKeys(s, rec, n)
	j.rowOps = slices.Grow(j.rowOps[:0], n)[:n]
	j.rowSlot = slices.Grow(j.rowSlot[:0], n)[:n]
	if s.appendOnly {
		return j.selfAppend(n)
	}
	return j.selfRetracting(c, n)
}

// selfAppend stores a chunk of an append-only self-join, then walks each
// row's chain once for both orientations.
func (j *HashJoin) selfAppend(n int) error {
	s := j.sides[0]
	if j.intKey {
		// The rows' chain heads, loaded ahead so that their cache misses
		// overlap instead of stalling each insert in turn.
		j.walkSink += s.ihead.touch(s.ikeys[:n])
	}
	for i := 0; i < n; i++ {
		j.rowOps[i], j.rowSlot[i] = noWalk, end
		if !s.valid[i] {
			continue // a NULL key (or time) matches nothing
		}
		j.rowOps[i] = operators.Insert
		if slot, ok := j.insert(s, i); ok {
			j.rowSlot[i] = slot
			j.setFresh(slot)
		}
	}
	// Options.Unordered: each unordered pair once, in pend[0] (see orient),
	// unless a row is below the left role's horizon: it pairs in one
	// orientation only, (stored, row), which orienting could turn round.
	j.canon = j.unordered && !j.belowLeftHorizon(n)
	defer func() { j.canon = false }()
	err := j.walk(0, walkBoth)
	for i, x := range j.rowSlot[:n] {
		if x != end {
			j.clearFresh(x)
		}
		j.rowSlot[i] = end
	}
	if err != nil {
		return err
	}
	if err := j.flush(0); err != nil {
		return err
	}
	return j.flush(1)
}

// selfRetracting processes a chunk of a self-join whose input may
// retract, in the two-sided join's two passes.
func (j *HashJoin) selfRetracting(c *operators.Chunk, n int) error {
	s := j.sides[0]
	timed := j.time != nil
	// The left pass: each row against the right role before the chunk. A
	// retraction of a row below the left horizon is ignored by that role.
	for i := 0; i < n; i++ {
		j.rowOps[i], j.rowSlot[i] = noWalk, end
		if !s.valid[i] {
			continue
		}
		op := operators.Insert
		if c.Op(i).IsRetract() {
			if timed && s.rowTs[i] < j.hL {
				continue
			}
			op = operators.Delete
		}
		j.rowOps[i] = op
	}
	if err := j.walk(0, walkLeft); err != nil {
		return err
	}
	if err := j.flush(0); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		switch {
		case !s.valid[i]:
		case c.Op(i).IsRetract():
			if j.evictedRow(s, i) {
				continue // freed (or never kept): no role holds it
			}
			if !j.remove(s, i) {
				return j.missing(s, c.Rec, i)
			}
		default:
			j.insert(s, i)
		}
	}
	// The right pass: each row against the left role after the chunk.
	for i := 0; i < n; i++ {
		j.rowOps[i] = noWalk
		if !s.valid[i] {
			continue
		}
		op := operators.Insert
		if c.Op(i).IsRetract() {
			if timed && s.rowTs[i] < j.hR {
				continue
			}
			op = operators.Delete
		}
		j.rowOps[i] = op
	}
	if err := j.walk(0, walkRight); err != nil {
		return err
	}
	return j.flush(1)
}

// setFresh marks slot x as stored by the chunk being processed.
func (j *HashJoin) setFresh(x uint32) {
	w := int(x >> 6)
	if w >= len(j.fresh) {
		j.fresh = append(j.fresh, make([]uint64, w+1-len(j.fresh))...)
	}
	j.fresh[w] |= 1 << (x & 63)
}

func (j *HashJoin) clearFresh(x uint32) { j.fresh[x>>6] &^= 1 << (x & 63) }

func (j *HashJoin) isFresh(x uint32) bool {
	w := int(x >> 6)
	return w < len(j.fresh) && j.fresh[w]&(1<<(x&63)) != 0
}

// startSelf sets up walk k for row i of the bound record: its bounds and
// its first slot, which it returns (end: nothing to walk). A stored row
// of walkBoth stages its pair with itself here.
func (j *HashJoin) startSelf(w *walkers, k, i int, mode walkMode, timed bool) uint32 {
	s := j.sides[0]
	loA, hiA := int64(math.MinInt64), int64(math.MaxInt64)
	loB, hiB := loA, hiA
	inL := true // the row is stored in the left role
	if timed {
		t := s.rowTs[i]
		loA, hiA = satAdd(t, j.time.Lo), satAdd(t, j.time.Hi)
		// t within [ts + Lo, ts + Hi] of a left row at ts.
		loB, hiB = satAdd(t, negSat(j.time.Hi)), satAdd(t, negSat(j.time.Lo))
		inL = t >= j.hL
		if inL && loA <= t && t <= hiA {
			// The row pairs with itself (Lo <= 0 <= Hi).
			if mode == walkBoth && j.rowSlot[i] != end && !j.skipSelfPairs {
				w.stageA[k] = append(w.stageA[k], j.rowSlot[i])
			}
		}
	} else if mode == walkBoth && j.rowSlot[i] != end && !j.skipSelfPairs {
		w.stageA[k] = append(w.stageA[k], j.rowSlot[i])
	}
	laterLoA := max(loA, j.hR)
	loB = max(loB, j.hL)
	w.fresh[k] = false
	switch mode {
	case walkLeft:
		loA = laterLoA
	case walkRight:
		// Stage A takes the (stored, row) pairs (see walk).
		loA, hiA = loB, hiB
	default:
		w.fresh[k] = true
		w.laterLoA[k], w.laterHiA[k] = laterLoA, hiA
		if !inL {
			loA, hiA = math.MaxInt64, math.MinInt64
		}
	}
	w.loA[k], w.hiA[k], w.loB[k], w.hiB[k] = loA, hiA, loB, hiB
	if x := j.rowSlot[i]; mode == walkBoth && x != end {
		return s.link[x].next
	}
	return j.chain(s, s, i)
}

// belowLeftHorizon reports whether one of the first n rows of the bound
// chunk has a time below the left role's horizon (see setRoleHorizons).
func (j *HashJoin) belowLeftHorizon(n int) bool {
	if j.time == nil || j.hL == roleNone {
		return false
	}
	s := j.sides[0]
	for i, t := range s.rowTs[:n] {
		if t < j.hL && s.valid[i] {
			return true
		}
	}
	return false
}

// orient turns rec, pairs of the append-only walk of an Unordered join
// (the value of one column in each role, each unordered pair once in
// either orientation), into the pairs whose left value is below the
// right one: it swaps the values where the left one is above and leaves
// out the pairs with equal or NULL values. It releases rec.
func (j *HashJoin) orient(rec arrow.RecordBatch) arrow.RecordBatch {
	defer rec.Release()
	la, ra := rec.Column(j.unordLeft), rec.Column(1-j.unordLeft)
	lv, rv := int64Values(la), int64Values(ra)
	n := len(lv)
	rv = rv[:n]
	j.unordLo = slices.Grow(j.unordLo[:0], n)[:n]
	j.unordHi = slices.Grow(j.unordHi[:0], n)[:n]
	lo, hi := j.unordLo, j.unordHi
	k := 0
	if la.NullN() == 0 && ra.NullN() == 0 {
		for i, a := range lv {
			b := rv[i]
			lo[k], hi[k] = min(a, b), max(a, b)
			if a != b {
				k++
			}
		}
	} else {
		for i, a := range lv {
			b := rv[i]
			if a != b && la.IsValid(i) && ra.IsValid(i) {
				lo[k], hi[k] = min(a, b), max(a, b)
				k++
			}
		}
	}
	arrs := append(j.arrs[:0], nil, nil)
	arrs[j.unordLeft] = state.Int64Array(j.mem, la.DataType(), lo[:k])
	arrs[1-j.unordLeft] = state.Int64Array(j.mem, ra.DataType(), hi[:k])
	return j.record(arrs, k)
}

// int64Values are the values of a BIGINT or TIMESTAMP array.
func int64Values(a arrow.Array) []int64 {
	d := a.Data()
	return arrow.Int64Traits.CastFromBytes(d.Buffers()[1].Bytes())[d.Offset() : d.Offset()+d.Len()]
}
