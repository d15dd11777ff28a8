package temporal

// rowIndex finds held rows by the hash of their values: open addressing
// with linear probing over a power-of-two array of entries, each the
// upper 32 bits of a row's hash (its tag) and its slot+1 (0 = empty).
// Several rows may share a tag (duplicates, collisions): each is its own
// entry, and a lookup checks every entry with the tag along the probe
// run. Deletion shifts entries back, so no tombstones accumulate under
// the FIFO churn of expiry (the reason this is not a Go map), and probing
// never leaves the table (the tag gives the home slot).
type rowIndex struct {
	table []uint64
	mask  uint64
	n     int
}

func (x *rowIndex) init(size int) {
	s := 16
	for s < size {
		s <<= 1
	}
	x.table = make([]uint64, s)
	x.mask = uint64(s - 1)
	x.n = 0
}

func (x *rowIndex) home(tag uint32) uint64 {
	return (uint64(tag) * 0x9E3779B97F4A7C15 >> 29) & x.mask
}

func entry(tag, s uint32) uint64 { return uint64(tag)<<32 | uint64(s+1) }

// insert adds slot s with tag.
func (x *rowIndex) insert(s, tag uint32) {
	if (x.n+1)*4 > len(x.table)*3 {
		x.resize(len(x.table) * 2)
	}
	i := x.home(tag)
	for x.table[i] != 0 {
		i = (i + 1) & x.mask
	}
	x.table[i] = entry(tag, s)
	x.n++
}

// find returns the first slot with tag that match accepts.
func (x *rowIndex) find(tag uint32, match func(uint32) bool) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	for i := x.home(tag); x.table[i] != 0; i = (i + 1) & x.mask {
		e := x.table[i]
		if uint32(e>>32) == tag && match(uint32(e)-1) {
			return uint32(e) - 1, true
		}
	}
	return 0, false
}

// remove deletes slot s, held with tag.
func (x *rowIndex) remove(s, tag uint32) {
	want := entry(tag, s)
	i := x.home(tag)
	for x.table[i] != want {
		if x.table[i] == 0 {
			return
		}
		i = (i + 1) & x.mask
	}
	j := i
	for {
		j = (j + 1) & x.mask
		e := x.table[j]
		if e == 0 {
			break
		}
		k := x.home(uint32(e >> 32))
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (i <= j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
			continue
		}
		x.table[i] = e
		i = j
	}
	x.table[i] = 0
	x.n--
	if len(x.table) > 1024 && x.n*8 < len(x.table) {
		x.resize(len(x.table) / 2)
	}
}

func (x *rowIndex) resize(size int) {
	old := x.table
	n := x.n
	x.init(size)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := x.home(uint32(e >> 32))
		for x.table[i] != 0 {
			i = (i + 1) & x.mask
		}
		x.table[i] = e
	}
	x.n = n
}

func (x *rowIndex) bytes() int { return 8 * len(x.table) }
