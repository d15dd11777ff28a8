package state

// intIndex maps a single integer-like key to a slot. It is an
// open-addressing table of slot+1 (0: empty) with linear probing and
// Fibonacci hashing; the keys are not stored but read from the key
// column's values, so an entry costs 4 bytes (about 8 per row at the
// table's load). Deletion shifts the following entries back, so there are
// no tombstones. NULL keys are not in the table (the Store keeps the slot
// of the NULL key apart).
type intIndex struct {
	tab   []uint32
	shift uint // 64 - log2(len(tab))
	n     int
	col   *column // the key column: i64 or i32 storage
}

const fib = 0x9E3779B97F4A7C15

func (x *intIndex) keyAt(slot uint32) int64 {
	if x.col.st == stI64 {
		return x.col.i64[slot]
	}
	return int64(x.col.i32[slot])
}

func (x *intIndex) home(k int64) uint64 { return (uint64(k) * fib) >> x.shift }

// find returns the slot holding key k.
func (x *intIndex) find(k int64) (uint32, bool) {
	_, slot, ok := x.findPos(k)
	return slot, ok
}

// findPos returns the slot holding key k and the position of its entry.
func (x *intIndex) findPos(k int64) (pos int, slot uint32, ok bool) {
	if x.n == 0 {
		return -1, 0, false
	}
	mask := uint64(len(x.tab) - 1)
	for i := x.home(k); ; i = (i + 1) & mask {
		v := x.tab[i]
		if v == 0 {
			return -1, 0, false
		}
		if x.keyAt(v-1) == k {
			return int(i), v - 1, true
		}
	}
}

// insert adds slot, whose key (already in the key column) is absent.
func (x *intIndex) insert(slot uint32) {
	if (x.n+1)*4 > len(x.tab)*3 {
		x.rehash(max(16, 2*len(x.tab)))
	}
	x.place(slot)
	x.n++
}

func (x *intIndex) place(slot uint32) {
	mask := uint64(len(x.tab) - 1)
	i := x.home(x.keyAt(slot))
	for x.tab[i] != 0 {
		i = (i + 1) & mask
	}
	x.tab[i] = slot + 1
}

func (x *intIndex) rehash(size int) {
	old := x.tab
	x.tab = make([]uint32, size)
	x.shift = uint(64 - log2(size))
	for _, v := range old {
		if v != 0 {
			x.place(v - 1)
		}
	}
}

func log2(n int) int {
	b := 0
	for 1<<b < n {
		b++
	}
	return b
}

// remove deletes key k; it reports whether k was present.
func (x *intIndex) remove(k int64) bool {
	pos, _, ok := x.findPos(k)
	if ok {
		x.removeAt(pos)
	}
	return ok
}

// removeAt deletes the entry at pos. Backward shift: each following entry
// of the run moves into the hole when the hole lies on its probe path
// (between its home and it).
func (x *intIndex) removeAt(pos int) {
	mask := uint64(len(x.tab) - 1)
	hole := uint64(pos)
	for j := (hole + 1) & mask; ; j = (j + 1) & mask {
		v := x.tab[j]
		if v == 0 {
			break
		}
		h := x.home(x.keyAt(v - 1))
		if (j-h)&mask >= (j-hole)&mask {
			x.tab[hole] = v
			hole = j
		}
	}
	x.tab[hole] = 0
	x.n--
}

func (x *intIndex) reset() { *x = intIndex{col: x.col} }

// touch loads the home entries of the keys of rows lo..hi-1 of r (the
// key column's reader), then the key at the slot each names: the memory
// their probes are likely to read, in loads that do not depend on one
// another, so that their misses overlap. A NULL row's value is read as
// any other (it is a value of the buffer, or past its end and skipped).
// The result only keeps the loads from being removed.
func (x *intIndex) touch(r *reader, lo, hi int) uint64 {
	var acc uint64
	if r.i64 != nil {
		ks := r.i64[min(lo, len(r.i64)):min(hi, len(r.i64))]
		for _, k := range ks {
			acc += uint64(x.tab[x.home(k)])
		}
		for _, k := range ks {
			if e := x.tab[x.home(k)]; e != 0 {
				acc += uint64(x.keyAt(e - 1))
			}
		}
		return acc
	}
	ks := r.i32[min(lo, len(r.i32)):min(hi, len(r.i32))]
	for _, k := range ks {
		acc += uint64(x.tab[x.home(int64(k))])
	}
	for _, k := range ks {
		if e := x.tab[x.home(int64(k))]; e != 0 {
			acc += uint64(x.keyAt(e - 1))
		}
	}
	return acc
}
