package join

import "math/bits"

// heads maps a single integer-like join key to the first slot of its key
// chain. It is an open-addressing table with linear probing, Fibonacci
// hashing and backward-shift deletion (no tombstones); each entry holds
// its key beside the slot, so a lookup usually reads one cache line. It
// replaces a Go map on the join's hottest path: every input row looks up
// the other side's chain and updates its own side's head.
type heads struct {
	tab   []headEntry
	shift uint // 64 - log2(len(tab)), len(tab) a power of two
	n     int
}

// headEntry is one key's chain head; head == end marks an empty entry.
type headEntry struct {
	key  int64
	head uint32
}

const fib = 0x9E3779B97F4A7C15

func (t *heads) home(k int64) int { return int((uint64(k) * fib) >> t.shift) }

// len is the number of keys.
func (t *heads) len() int { return t.n }

// get returns the head of key k's chain, or end.
func (t *heads) get(k int64) uint32 {
	if t.n == 0 {
		return end
	}
	mask := len(t.tab) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		e := &t.tab[i]
		if e.head == end || e.key == k {
			return e.head
		}
	}
}

// swap sets the head of key k's chain to h (not end) and returns the
// previous head, or end when k had no chain.
func (t *heads) swap(k int64, h uint32) uint32 {
	e := t.upsert(k)
	old := e.head
	e.head = h
	return old
}

// touch loads the home entry of each key of ks (a cache-warming pass
// before their lookups) and returns a value that depends on the loads.
func (t *heads) touch(ks []int64) int64 {
	if len(t.tab) == 0 {
		return 0
	}
	var sink int64
	for _, k := range ks {
		sink += t.tab[t.home(k)].key
	}
	return sink
}

// upsert returns key k's entry, adding one whose head is end when k has
// none. The caller sets the head (not end) before any other call: an
// entry whose head is end reads as empty.
func (t *heads) upsert(k int64) *headEntry {
	if (t.n+1)*4 > len(t.tab)*3 {
		t.grow()
	}
	mask := len(t.tab) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		e := &t.tab[i]
		if e.head == end {
			e.key = k
			t.n++
			return e
		}
		if e.key == k {
			return e
		}
	}
}

// del removes key k, shifting the entries of its probe run back so every
// lookup still reaches them.
func (t *heads) del(k int64) {
	if t.n == 0 {
		return
	}
	mask := len(t.tab) - 1
	i := t.home(k)
	for ; ; i = (i + 1) & mask {
		e := &t.tab[i]
		if e.head == end {
			return
		}
		if e.key == k {
			break
		}
	}
	for q := (i + 1) & mask; ; q = (q + 1) & mask {
		e := t.tab[q]
		if e.head == end {
			break
		}
		h := t.home(e.key)
		// The entry at q stays if its home lies cyclically in (i, q].
		if (i <= q && i < h && h <= q) || (i > q && (i < h || h <= q)) {
			continue
		}
		t.tab[i] = e
		i = q
	}
	t.tab[i] = headEntry{head: end}
	t.n--
}

// grow doubles the table (at least 16 entries) and re-enters every key.
func (t *heads) grow() {
	old := t.tab
	size := max(16, 2*len(old))
	t.tab = make([]headEntry, size)
	for i := range t.tab {
		t.tab[i].head = end
	}
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	mask := size - 1
	for _, e := range old {
		if e.head == end {
			continue
		}
		i := t.home(e.key)
		for t.tab[i].head != end {
			i = (i + 1) & mask
		}
		t.tab[i] = e
	}
}

// each calls f with every key and its chain's head.
func (t *heads) each(f func(k int64, h uint32) error) error {
	for _, e := range t.tab {
		if e.head != end {
			if err := f(e.key, e.head); err != nil {
				return err
			}
		}
	}
	return nil
}
