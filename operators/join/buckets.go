package join

import (
	"cmp"
	"math/bits"
	"slices"
)

// tsBuckets is the eviction queue of an append-only side with a time
// bound, in place of the heap: its slots grouped by event time into
// buckets of width 2^shift µs, the buckets in ascending order. A slot
// costs 4 bytes here (a heap entry costs 16), and rows arriving in
// nearly increasing time append to the newest bucket. Freeing the rows
// below a horizon h drops whole buckets below it and filters the one
// bucket that straddles h, so it is exact: what is left is precisely the
// rows at or above h. An append-only side removes rows only by eviction,
// so no entry is ever stale.
type tsBuckets struct {
	shift uint
	bs    []tsBucket // ascending by id; live from lo on
	lo    int
	hint  int        // index of the bucket of the latest push
	spare [][]uint32 // emptied slot lists, for reuse
}

// tsBucket holds the slots whose times t have t >> shift == id.
type tsBucket struct {
	id    int64
	slots []uint32
}

// bucketShift picks the bucket width for a bound [lo, hi]: about 1/4096
// of its width (a watermark step then usually passes a bucket or two),
// at least 1ms.
func bucketShift(lo, hi int64) uint {
	w := uint64(satAdd(hi, negSat(lo))) / 4096
	return uint(max(10, bits.Len64(w)-1))
}

// push adds slot, whose time is ts.
func (q *tsBuckets) push(slot uint32, ts int64) {
	id := ts >> q.shift
	k := q.hint
	if k < q.lo || k >= len(q.bs) || q.bs[k].id != id {
		k = q.bucket(id)
		q.hint = k
	}
	q.bs[k].slots = append(q.bs[k].slots, slot)
}

// bucket returns the index of bucket id, adding it if missing. The
// buckets of a dense stream have consecutive ids, so the id's distance
// from the newest bucket usually gives its index at once.
func (q *tsBuckets) bucket(id int64) int {
	if n := len(q.bs); n > q.lo {
		if d := q.bs[n-1].id - id; d >= 0 && d < int64(n-q.lo) && q.bs[n-1-int(d)].id == id {
			return n - 1 - int(d)
		}
	}
	k, ok := slices.BinarySearchFunc(q.bs[q.lo:], id, func(b tsBucket, id int64) int { return cmp.Compare(b.id, id) })
	k += q.lo
	if !ok {
		var sl []uint32
		if n := len(q.spare); n > 0 {
			sl, q.spare = q.spare[n-1], q.spare[:n-1]
		}
		q.bs = slices.Insert(q.bs, k, tsBucket{id: id, slots: sl})
	}
	return k
}

// evictBuckets frees every row of append-only side s whose time is below
// h.
func (j *HashJoin) evictBuckets(s *side, h int64) {
	q := &s.tsq
	hid := h >> q.shift
	for q.lo < len(q.bs) {
		b := &q.bs[q.lo]
		if b.id > hid {
			break
		}
		if b.id == hid {
			// The bucket straddles h: keep its rows at or above h.
			kept := b.slots[:0]
			for _, x := range b.slots {
				if s.link[x].ts < h {
					j.drop(s, x)
				} else {
					kept = append(kept, x)
				}
			}
			b.slots = kept
			if len(kept) > 0 {
				break
			}
		} else {
			// Every row of the bucket is below (id+1) << shift <= h.
			for _, x := range b.slots {
				j.drop(s, x)
			}
		}
		if cap(b.slots) <= 1<<16 {
			q.spare = append(q.spare, b.slots[:0])
		}
		*b = tsBucket{}
		q.lo++
	}
	if q.lo > 0 && q.lo*2 >= len(q.bs) {
		n := copy(q.bs, q.bs[q.lo:])
		clear(q.bs[n:])
		q.bs = q.bs[:n]
		q.lo = 0
	}
}

// len is the number of slots queued.
func (q *tsBuckets) len() int {
	n := 0
	for _, b := range q.bs[q.lo:] {
		n += len(b.slots)
	}
	return n
}
