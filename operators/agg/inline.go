package agg

import (
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
)

// The inline-count path of a committed-backed COUNT(*) aggregate over two
// integer-like keys (the co-occurrence view's aggregate).
//
// Such an aggregate needs, per group of the epoch, only its key and its
// row count, and when every row of a chunk adds, no group id: nothing
// else is kept per group. So an epoch's all-adding chunks are counted in
// an inlineTable whose entries hold the key and the count together, one
// random access per row instead of three (the pair table's entry, the
// group's key, its row count). At the barrier the table becomes the
// ordinary per-group state (materialize: group ids in table order), which
// hydrate, flush and emit read as usual, and is dropped. The first chunk
// of an epoch that needs group ids (one that retracts) materializes the
// table with the pair table's index, and the epoch goes on the general
// path.
//
// The table has two forms. While every key value of the epoch fits in 32
// bits (typical ids), its entries are narrow: both values packed in one
// word, 16 bytes an entry, four to a cache line. The first chunk of the
// epoch with a value that does not fit (checked per chunk from the
// values' range) rehashes the table into wide entries (24 bytes: both
// values whole) for the rest of the epoch.

// inlineEntry is one group of a wide inline table: its key (a NULL
// column's value is 0) and a word holding its NULL mask in the top two
// bits and its row count below (0: an empty entry).
type inlineEntry struct {
	a, b int64
	w    uint64
}

// narrowEntry is one group of a narrow inline table: its key packed by
// narrowKey, and the word of an inlineEntry.
type narrowEntry struct {
	k, w uint64
}

// narrowKey packs two values that fit in 32 bits: a in the high half,
// b in the low one.
func narrowKey(a, b int64) uint64 { return uint64(a)<<32 | uint64(uint32(b)) }

// narrowVals unpacks a narrowKey, sign-extending both values.
func narrowVals(k uint64) (a, b int64) { return int64(int32(k >> 32)), int64(int32(uint32(k))) }

// narrowHash hashes a narrowKey and its NULL mask; its high bits give
// the entry's home.
func narrowHash(k uint64, m uint8) uint64 {
	return (k ^ uint64(m)<<31) * 0x9E3779B97F4A7C15
}

// fitsNarrow is the bits of v+2^31 above the low 32: zero exactly when v
// fits in 32 bits (ORed over values, zero when they all do).
func fitsNarrow(v int64) uint64 { return uint64(v+1<<31) >> 32 }

const (
	inlineMaskShift = 62
	// inlineMaxRows bounds the rows an inline table counts in an epoch,
	// so that no count reaches its mask bits.
	inlineMaxRows = 1<<inlineMaskShift - 1
	// inlineKeep is the largest table kept for the next epoch; a larger
	// one is dropped at the barrier, so it holds no memory between epochs.
	inlineKeep = 1 << 12
)

// inlineMinLog is the log2 size of the smallest inline table. Tests
// make it tiny, so that epochs of a few groups grow their tables.
var inlineMinLog uint = 10

// inlineLog is the log2 size of an inline table for n groups (3/4 load).
func inlineLog(n int) uint {
	log := inlineMinLog
	for (1<<log)/4*3 < n {
		log++
	}
	return log
}

// inlineFirstLog is the log2 size of an epoch's first inline table
// after an epoch of last groups: sized for them and a quarter more, so
// that an epoch rarely rehashes.
func inlineFirstLog(last int) uint { return inlineLog(last + last/4) }

// inlineTable counts rows per pair key: open addressing with linear
// probing over a power-of-two array of narrow or wide entries (one of
// s and e is set), homes from the hash's high bits, grown by rehashing
// past 3/4 load.
type inlineTable struct {
	s     []narrowEntry // the narrow form
	e     []inlineEntry // the wide form
	mask  uint64
	shift uint
	n     int    // groups
	limit int    // groups past which the table grows
	rows  uint64 // rows counted since the table was emptied
}

// size is the table's number of entries.
func (t *inlineTable) size() int { return len(t.s) + len(t.e) }

// init makes an empty table of 2^logSize entries, wide or narrow.
func (t *inlineTable) init(logSize uint, wide bool) {
	size := 1 << logSize
	t.s, t.e = nil, nil
	if wide {
		t.e = make([]inlineEntry, size)
	} else {
		t.s = make([]narrowEntry, size)
	}
	t.mask = uint64(size - 1)
	t.shift = 64 - logSize
	t.n = 0
	t.limit = size / 4 * 3
	t.rows = 0
}

// rehash remakes the table with 2^logSize entries, wide or narrow (a
// narrow table's keys fit), keeping its groups.
func (t *inlineTable) rehash(logSize uint, wide bool) {
	olds, olde, n, rows := t.s, t.e, t.n, t.rows
	t.init(logSize, wide)
	put := func(a, b int64, w uint64) {
		m := uint8(w >> inlineMaskShift)
		if wide {
			j := pairHash(a, b, m) >> t.shift
			for t.e[j].w != 0 {
				j = (j + 1) & t.mask
			}
			t.e[j] = inlineEntry{a, b, w}
			return
		}
		k := narrowKey(a, b)
		j := narrowHash(k, m) >> t.shift
		for t.s[j].w != 0 {
			j = (j + 1) & t.mask
		}
		t.s[j] = narrowEntry{k, w}
	}
	for _, e := range olds {
		if e.w != 0 {
			a, b := narrowVals(e.k)
			put(a, b, e.w)
		}
	}
	for _, e := range olde {
		if e.w != 0 {
			put(e.a, e.b, e.w)
		}
	}
	t.n, t.rows = n, rows
}

// grow doubles the table.
func (t *inlineTable) grow() { t.rehash(uint(64-t.shift)+1, t.e != nil) }

// inlineCounts reports whether the aggregate can count its all-adding
// chunks in an inline table: committed-backed, two integer-like keys,
// and only COUNT(*) (no counter of non-NULL values; no window closing:
// initCommitted refuses it, and the check here only guards that).
func (h *HashAgg) inlineCounts() bool {
	if !h.committed || h.mode != modeInt2 || len(h.counters) > 0 || h.wmCol >= 0 {
		return false
	}
	for _, s := range h.specs {
		if s.Kind != CountStar {
			return false
		}
	}
	return true
}

// addInline counts the rows of an all-adding chunk in the inline table.
func (h *HashAgg) addInline(c0, c1 arrow.Array, n int) error {
	p, err := h.readPair(c0, c1, n)
	if err != nil {
		return err
	}
	// Whether the chunk's values all fit in 32 bits (readPair has zeroed
	// the values under NULLs).
	var out uint64
	for i := range p.v0 {
		out |= fitsNarrow(p.v0[i]) | fitsNarrow(p.v1[i])
	}
	wide := out != 0
	t := &h.inl
	switch {
	case t.size() == 0:
		t.init(inlineFirstLog(h.inlLast), wide)
	case wide && t.e == nil:
		t.rehash(uint(64-t.shift), true)
	}
	t.rows += uint64(n)
	if t.e != nil {
		h.addWide(&p)
	} else {
		h.addNarrow(&p)
	}
	return nil
}

// addNarrow counts rows whose values fit in 32 bits in a narrow table.
func (h *HashAgg) addNarrow(p *pairCols) {
	t := &h.inl
	n := len(p.v0)
	hashes := growSlice(&h.hashes, n)
	keys := growSlice(&h.inlKeys, n)
	words := growSlice(&h.inlWords, n)
	for i := range hashes {
		a, b, m := p.at(i)
		k := narrowKey(a, b)
		keys[i] = k
		hashes[i] = narrowHash(k, m)
		words[i] = uint64(m) << inlineMaskShift
	}
	// Probe in blocks: first touch each row's home entry (independent
	// loads, whose misses overlap), then resolve the rows from cache.
	var sink uint64
	for lo := 0; lo < n; lo += pairProbeBlock {
		hi := min(lo+pairProbeBlock, n)
		es, shift := t.s, t.shift
		for _, hash := range hashes[lo:hi] {
			sink += es[hash>>shift].w
		}
		for i := lo; i < hi; i++ {
			k, m := keys[i], words[i]
			j := hashes[i] >> t.shift
			for {
				e := &t.s[j]
				if e.w == 0 {
					e.k, e.w = k, m|1
					if t.n++; t.n > t.limit {
						t.grow()
					}
					break
				}
				if e.k == k && e.w&^(1<<inlineMaskShift-1) == m {
					e.w++
					break
				}
				j = (j + 1) & t.mask
			}
		}
	}
	h.probeSink += sink
}

// addWide counts rows in a wide table.
func (h *HashAgg) addWide(p *pairCols) {
	t := &h.inl
	n := len(p.v0)
	hashes := growSlice(&h.hashes, n)
	for i := range hashes {
		hashes[i] = pairHash(p.at(i))
	}
	// Probe in blocks, as addNarrow does.
	var sink uint64
	for lo := 0; lo < n; lo += pairProbeBlock {
		hi := min(lo+pairProbeBlock, n)
		es, shift := t.e, t.shift
		for _, hash := range hashes[lo:hi] {
			sink += es[hash>>shift].w
		}
		for i := lo; i < hi; i++ {
			a, b, mb := p.at(i)
			m := uint64(mb) << inlineMaskShift
			j := hashes[i] >> t.shift
			for {
				e := &t.e[j]
				if e.w == 0 {
					e.a, e.b, e.w = a, b, m|1
					if t.n++; t.n > t.limit {
						t.grow()
					}
					break
				}
				if e.a == a && e.b == b && e.w&^(1<<inlineMaskShift-1) == m {
					e.w++
					break
				}
				j = (j + 1) & t.mask
			}
		}
	}
	h.probeSink += sink
}

// materialize turns the inline table's groups into the aggregate's
// groups, in table order, and empties the table. With index, it also
// enters them in the pair table, so that later lookups find them. It
// runs before any group of the epoch exists.
func (h *HashAgg) materialize(index bool) error {
	t := &h.inl
	if t.n == 0 {
		return nil
	}
	if h.numGroups != 0 {
		return internalErr("agg: %d groups besides an inline table", h.numGroups)
	}
	n := t.n
	h.numGroups = n
	h.rowCount = slices.Grow(h.rowCount[:0], n)[:n]
	h.pkeys.kv = slices.Grow(h.pkeys.kv[:0], n)[:n]
	h.pkeys.nulls = slices.Grow(h.pkeys.nulls[:0], n)[:n]
	rc, kv, nulls := h.rowCount, h.pkeys.kv, h.pkeys.nulls
	g := 0
	for _, e := range t.s {
		if e.w == 0 {
			continue
		}
		a, b := narrowVals(e.k)
		kv[g] = pairKV{a, b}
		nulls[g] = uint8(e.w >> inlineMaskShift)
		rc[g] = int64(e.w & (1<<inlineMaskShift - 1))
		g++
	}
	for _, e := range t.e {
		if e.w == 0 {
			continue
		}
		kv[g] = pairKV{e.a, e.b}
		nulls[g] = uint8(e.w >> inlineMaskShift)
		rc[g] = int64(e.w & (1<<inlineMaskShift - 1))
		g++
	}
	if g != n {
		return internalErr("agg: %d groups in an inline table holding %d", g, n)
	}
	h.resetInline()
	if !index {
		return nil
	}
	pt := &h.ptable
	if log := tableLog(n); len(pt.slots) < 1<<log {
		pt.init(log)
	}
	if err := pt.widen(uint32(n), &h.pkeys); err != nil {
		return err
	}
	for g := range n {
		p, m := kv[g], nulls[g]
		hash := pairHash(p.a, p.b, m)
		j := pt.home(hash)
		for pt.slots[j] != 0 {
			j = (j + 1) & pt.mask
		}
		pt.slots[j] = pt.tag(hash, m) | uint32(g+1)
	}
	pt.n = n
	return nil
}

// resetInline empties the inline table, dropping it unless it is small
// and narrow (so the next epoch starts narrow).
func (h *HashAgg) resetInline() {
	t := &h.inl
	if t.size() > inlineKeep || t.e != nil {
		*t = inlineTable{}
		return
	}
	clear(t.s)
	t.n, t.rows = 0, 0
}
