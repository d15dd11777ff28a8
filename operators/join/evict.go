package join

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// TimeBound says a right row can match a left row only when
// right[RightCol] is within [left[LeftCol] + Lo, left[LeftCol] + Hi]
// (microseconds; both columns TIMESTAMP or BIGINT): an interval join, or
// a window join (Lo = Hi = 0 on window_start).
//
// The join treats the bound as part of its condition: a pair outside it
// is never emitted, and a row whose time is NULL matches nothing (a left
// row of a left outer join is emitted padded). Both columns carry
// watermarks (a Watermark on a port whose Column is that input's time
// column): with wmL and wmR the latest ones, future right rows have times
// at or above wmR, so a left row l is freed once l.ts + Hi < wmR, and a
// right row r once r.ts - Lo < wmL. Freeing emits nothing; a row arriving
// already below its side's horizon is matched but not stored.
//
// Freeing is exact only for append-only inputs: a retraction of a row
// that was freed (its time below the horizon) is ignored, so the pairs
// (or the padded row) it produced are not retracted. Pass a TimeBound
// only when both inputs are append-only.
type TimeBound struct {
	LeftCol, RightCol int
	Lo, Hi            int64
}

// tsEntry is a stored row in a side's time-ordered heap; gen tells a
// live entry from one whose slot was removed (and maybe reused) since.
// An append-only side keeps a tsBuckets queue instead.
type tsEntry struct {
	ts   int64
	slot uint32
	gen  uint32
}

// push adds e to s's min-heap on ts. Rows mostly arrive in time order,
// so the sift up usually stops at once.
func (s *side) push(e tsEntry) {
	h := append(s.heap, e)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].ts <= e.ts {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
	s.heap = h
}

// pop removes the heap's smallest entry.
func (s *side) pop() {
	h := s.heap
	n := len(h) - 1
	e := h[n]
	h = h[:n]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].ts < h[c].ts {
			c++
		}
		if e.ts <= h[c].ts {
			break
		}
		h[i] = h[c]
		i = c
	}
	if n > 0 {
		h[i] = e
	}
	s.heap = h
}

// checkTimeCol reports whether col is a usable time column of s.
func (j *HashJoin) checkTimeCol(s *side, col int) bool {
	if col < 0 || col >= len(s.types) {
		j.fail("join: %s time column %d out of range", s.name, col)
		return false
	}
	if k := s.types[col].Kind; k != types.Timestamp && k != types.BigInt {
		j.fail("join: %s time column %d is %s, want TIMESTAMP or BIGINT", s.name, col, s.types[col])
		return false
	}
	return true
}

// computeTimes fills s.rowTs from the time column of rec; a NULL time
// makes the row invalid (it matches nothing).
func (j *HashJoin) computeTimes(s *side, rec arrow.RecordBatch, n int) {
	s.rowTs = s.rowTs[:0]
	a := rec.Column(s.tcol)
	switch x := a.(type) {
	case *array.Timestamp:
		for _, v := range x.TimestampValues() {
			s.rowTs = append(s.rowTs, int64(v))
		}
	case *array.Int64:
		s.rowTs = append(s.rowTs, x.Int64Values()...)
	}
	if a.NullN() > 0 {
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				s.valid[i] = false
			}
		}
	}
}

// pairInBound reports whether a row of input in with time own and a
// stored row of the other input with time other satisfy the bound.
func (j *HashJoin) pairInBound(in int, own, other int64) bool {
	l, r := own, other
	if in == 1 {
		l, r = other, own
	}
	return r >= satAdd(l, j.time.Lo) && r <= satAdd(l, j.time.Hi)
}

// evictedRow reports whether row i of s's bound record has a time below
// the side's horizon: it is not stored (freed, or never kept).
func (j *HashJoin) evictedRow(s *side, i int) bool {
	return s.evicted && s.rowTs[i] < s.horizon
}

// watermark records a watermark on input in and frees the other side's
// rows that can no longer match a future row of in.
func (j *HashJoin) watermark(in int, w operators.Watermark) {
	s := j.sides[in]
	if j.time == nil || j.kind == LeftOuter || w.Column != s.tcol || (s.hasWM && w.Time <= s.wm) {
		// The bounded LeftOuter emits only at the barrier, so it keeps
		// every row until then.
		return
	}
	s.wm, s.hasWM = w.Time, true
	if in == 0 {
		// A right row r can match a future left row only if r.ts >= wmL + Lo.
		j.evict(j.sides[1], satAdd(w.Time, j.time.Lo))
	} else {
		// A left row l can match a future right row only if l.ts + Hi >= wmR.
		j.evict(j.sides[0], satAdd(w.Time, negSat(j.time.Hi)))
	}
}

// evict frees every row of s whose time is below h.
func (j *HashJoin) evict(s *side, h int64) {
	if s.evicted && h <= s.horizon {
		return
	}
	s.horizon, s.evicted = h, true
	if s.appendOnly {
		j.evictBuckets(s, h)
		return
	}
	for len(s.heap) > 0 && s.heap[0].ts < h {
		e := s.heap[0]
		s.pop()
		if s.gen[e.slot] == e.gen {
			j.drop(s, e.slot)
		}
	}
}

// satAdd is a + b, saturated to the int64 range.
func satAdd(a, b int64) int64 {
	c := a + b
	if (c > a) != (b > 0) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return c
}

func negSat(v int64) int64 {
	if v == math.MinInt64 {
		return math.MaxInt64
	}
	return -v
}
