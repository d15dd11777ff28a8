package join

import (
	"math"

	"github.com/sluicedb/sluice/operators"
)

// A key chain is a linked list through the link array, which is indexed
// by slot: walking it is a run of dependent loads, each usually a cache
// miss once the state outgrows the cache. walk walks the chains of
// several input rows side by side, one link of each per round, so the
// loads of different chains are independent and the CPU overlaps their
// misses. Each row's matches are staged and appended to the pending pairs
// in row order afterwards, so the output is exactly that of walking the
// rows one after another.
//
// The same loop serves the two-sided join and the self-join (self.go):
// what differs between them is set up once per walk, when it starts (its
// first slot, and the time bounds a stored row must meet to pair with the
// walk's row), and once per call, as a loop-invariant flag (whether there
// is a second orientation to stage), so a link costs the bound checks
// and a few predictable branches.

// nWalkers is how many chains are walked side by side.
const nWalkers = 8

// noWalk marks a row of a chunk that matches nothing (a NULL key or time,
// or the retraction of a freed row).
const noWalk operators.Op = 0xff

// walkMode says which pairs a walk looks for.
type walkMode uint8

const (
	// walkPair (two-sided join): the rows of one input against the
	// other side's state.
	walkPair walkMode = iota
	// walkBoth (append-only self-join): both orientations, each row
	// walking from its own slot (or, not stored, from its chain's head)
	// after the chunk was stored.
	walkBoth
	// walkLeft (self-join): (row, stored) pairs against the right role.
	walkLeft
	// walkRight (self-join): (stored, row) pairs against the left role.
	walkRight
)

// walkers is the state of one group of interleaved walks. A stored row
// at time ts is staged in A when loA <= ts <= hiA, and (walkBoth only)
// in B when loB <= ts <= hiB; an empty range, lo > hi, stages nothing.
// Without a TimeBound every ts is 0 and the bounds are all of int64 (or
// empty). A holds the pairs whose pending pairs are those of the walk
// (see walk), B a walkBoth walk's (stored, row) pairs. While a walkBoth walk is among the chunk's own rows (fresh),
// loA and hiA may be narrower than for the rows stored before: laterLoA
// and laterHiA.
type walkers struct {
	cur                [nWalkers]uint32 // the next slot of each walk, or end
	row                [nWalkers]int32  // the input row of each walk
	loA, hiA, loB, hiB [nWalkers]int64
	laterLoA, laterHiA [nWalkers]int64
	fresh              [nWalkers]bool
	stageA, stageB     [nWalkers][]uint32 // each walk's matches so far
}

// walk appends to the pending pairs, in row order, every match of each
// row i of the bound record of input in with rowOps[i] != noWalk, with
// op rowOps[i], as mode says, flushing every maxOut pairs. With walkPair
// the matches are in the other side, staged in A and pending in
// pend[in]. A self-join's walks (in is 0) stage in A the (row, stored)
// pairs of walkLeft and walkBoth, pending in pend[0], and the (stored,
// row) pairs of walkRight, pending in pend[1]; walkBoth stages its
// (stored, row) pairs in B, pending in pend[1].
func (j *HashJoin) walk(in int, mode walkMode) error {
	s, other := j.sides[in], j.sides[1-in]
	w := &j.walks
	timed, withTime := j.time != nil, j.pendTimes
	link := other.link
	ops := j.rowOps
	a := in // the pending pairs of stage A
	if mode == walkRight {
		a = 1
	}
	pendA, pendB := &j.pend[a], &j.pend[1-a]
	dual := mode == walkBoth // loop-invariant: stage B may take rows
	// Options.Unordered: a pair found in either orientation is staged
	// once, in A, as (row, stored); flush orients it (see orient).
	merge := dual && j.canon
	dual = dual && !merge
	// An append-only side keeps each key's rows in pages (see insert).
	paged := other.appendOnly
	var sink int64
	n := len(ops)
	for next := 0; next < n; {
		// Start up to nWalkers walks on the next rows that have a chain
		// (or, walkBoth, a pair with themselves).
		k := 0
		for next < n && k < nWalkers {
			i := next
			next++
			if ops[i] == noWalk {
				continue
			}
			w.stageA[k], w.stageB[k] = w.stageA[k][:0], w.stageB[k][:0]
			var h uint32
			if mode == walkPair {
				h = j.startPair(w, k, s, other, in, i, timed)
			} else {
				h = j.startSelf(w, k, i, mode, timed)
			}
			if h == end && len(w.stageA[k]) == 0 {
				continue
			}
			w.cur[k], w.row[k] = h, int32(i)
			k++
		}
		live := 0
		for q := 0; q < k; q++ {
			if w.cur[q] != end {
				live++
			}
		}
		// One link of every live walk per round.
		for live > 0 {
			for q := 0; q < k; q++ {
				x := w.cur[q]
				if x == end {
					continue
				}
				l := &link[x]
				if paged {
					// The page's first link, in x's cache line, usually
					// names the chain's next page (a page may hold the
					// first rows of several keys): load it now, a round
					// ahead. Only a prefetch: nothing depends on it.
					if p := link[x&^(chainPage-1)].next; p != end {
						sink += link[p].ts
					}
				}
				if w.fresh[q] && !j.isFresh(x) {
					// Past the chunk's own rows: the rows stored before.
					w.fresh[q] = false
					w.loA[q], w.hiA[q] = w.laterLoA[q], w.laterHiA[q]
				}
				ts := l.ts
				if w.loA[q] <= ts && ts <= w.hiA[q] || merge && w.loB[q] <= ts && ts <= w.hiB[q] {
					w.stageA[q] = append(w.stageA[q], x)
				}
				if dual && w.loB[q] <= ts && ts <= w.hiB[q] {
					w.stageB[q] = append(w.stageB[q], x)
				}
				w.cur[q] = l.next
				if l.next == end {
					live--
				}
			}
		}
		for q := 0; q < k; q++ {
			i := w.row[q]
			op := ops[i]
			for _, x := range w.stageA[q] {
				// link[x].ts is still in cache from the walk.
				if pendA.add(i, x, op, link[x].ts, withTime) {
					if err := j.flush(a); err != nil {
						return err
					}
				}
			}
			for _, x := range w.stageB[q] {
				if pendB.add(i, x, op, link[x].ts, withTime) {
					if err := j.flush(1 - a); err != nil {
						return err
					}
				}
			}
		}
	}
	j.walkSink += sink
	return nil
}

// startPair sets up walk k of a two-sided join for row i of the bound
// record of input in (side s) against side other: its bounds and its
// first slot, which it returns (end: nothing to walk).
func (j *HashJoin) startPair(w *walkers, k int, s, other *side, in, i int, timed bool) uint32 {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if timed {
		// A left row at l pairs with a right row at r when
		// l + Lo <= r <= l + Hi.
		t := s.rowTs[i]
		if in == 0 {
			lo, hi = satAdd(t, j.time.Lo), satAdd(t, j.time.Hi)
		} else {
			lo, hi = satAdd(t, negSat(j.time.Hi)), satAdd(t, negSat(j.time.Lo))
		}
	}
	w.loA[k], w.hiA[k] = lo, hi
	w.fresh[k] = false
	return j.chain(other, s, i)
}
