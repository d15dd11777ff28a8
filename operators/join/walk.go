package join

import "github.com/sluicedb/sluice/operators"

// A key chain is a linked list through the link array, which is indexed
// by slot: walking it is a run of dependent loads, each usually a cache
// miss once the state outgrows the cache. walkChunk walks the chains of
// several input rows side by side, one link of each per round, so the
// loads of different chains are independent and the CPU overlaps their
// misses. Each row's matches are staged and appended to the pending pairs
// in row order afterwards, so the output is exactly that of walking the
// rows one after another.

// nWalkers is how many chains are walked side by side.
const nWalkers = 8

// noWalk marks a row of a chunk that matches nothing (a NULL key or time,
// or the retraction of a freed row).
const noWalk operators.Op = 0xff

// walkers is the state of one group of interleaved walks.
type walkers struct {
	cur   [nWalkers]uint32   // the next slot of each walk, or end
	row   [nWalkers]int32    // the input row of each walk
	stage [nWalkers][]uint32 // each walk's matches so far
}

// walkChunk appends to the pending pairs, in row order, every match in
// the other side of each row i of input in's bound record with ops[i] !=
// noWalk, with op ops[i], flushing every maxOut pairs.
func (j *HashJoin) walkChunk(in int, ops []operators.Op) error {
	s, other := j.sides[in], j.sides[1-in]
	w := &j.walk
	timed := j.time != nil
	link := other.link
	pend := &j.pend[in]
	n := len(ops)
	for next := 0; next < n; {
		// Start up to nWalkers walks on the next rows that have a chain.
		k := 0
		for next < n && k < nWalkers {
			i := next
			next++
			if ops[i] == noWalk {
				continue
			}
			h := j.chain(other, s, i)
			if h == end {
				continue
			}
			w.cur[k], w.row[k] = h, int32(i)
			w.stage[k] = w.stage[k][:0]
			k++
		}
		// One link of every live walk per round.
		for live := k; live > 0; {
			for q := 0; q < k; q++ {
				x := w.cur[q]
				if x == end {
					continue
				}
				l := &link[x]
				if !timed || j.pairInBound(in, s.rowTs[w.row[q]], l.ts) {
					w.stage[q] = append(w.stage[q], x)
				}
				w.cur[q] = l.next
				if l.next == end {
					live--
				}
			}
		}
		for q := 0; q < k; q++ {
			i, op := w.row[q], ops[w.row[q]]
			for _, x := range w.stage[q] {
				// link[x].ts is still in cache from the walk.
				if pend.add(i, x, op, link[x].ts, timed) {
					if err := j.flush(in); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}
