package topn

import (
	"bytes"
	"encoding/binary"
	"math"
	"sort"
)

// Block limits: a block splits past either, and merges into a neighbour
// when it falls under a quarter of maxEntries.
const (
	maxEntries = 128
	maxBytes   = 4096
)

// block is a sorted run of distinct row keys with a multiplicity each,
// stored flat: the keys concatenated in data. With a fixed key width w > 0
// entry i is data[i*w:(i+1)*w]; otherwise it ends at ends[i].
type block struct {
	w    int
	data []byte
	ends []uint32
	cnt  []uint32
}

func (b *block) len() int { return len(b.cnt) }

func (b *block) key(i int) []byte {
	if b.w > 0 {
		return b.data[i*b.w : (i+1)*b.w]
	}
	start := uint32(0)
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.data[start:b.ends[i]]
}

// compareKeys is bytes.Compare, faster on short keys: it compares 8-byte
// big-endian words first.
func compareKeys(a, b []byte) int {
	for len(a) >= 8 && len(b) >= 8 {
		x, y := binary.BigEndian.Uint64(a), binary.BigEndian.Uint64(b)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
		a, b = a[8:], b[8:]
	}
	return bytes.Compare(a, b)
}

// search returns the index of the first key ≥ k and whether it equals k.
func (b *block) search(k []byte) (int, bool) {
	lo, hi := 0, b.len()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := compareKeys(b.key(m), k)
		if c == 0 {
			return m, true
		}
		if c < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, false
}

// start is the byte offset of entry i.
func (b *block) start(i int) uint32 {
	if b.w > 0 {
		return uint32(i * b.w)
	}
	if i == 0 {
		return 0
	}
	return b.ends[i-1]
}

// insertAt inserts key k with count c before entry i.
func (b *block) insertAt(i int, k []byte, c uint32) {
	start := b.start(i)
	n := uint32(len(k))
	b.data = append(b.data, k...) // grow by len(k)
	copy(b.data[start+n:], b.data[start:len(b.data)-int(n)])
	copy(b.data[start:], k)
	if b.w == 0 {
		b.ends = append(b.ends, 0)
		copy(b.ends[i+1:], b.ends[i:])
		b.ends[i] = start + n
		for j := i + 1; j < len(b.ends); j++ {
			b.ends[j] += n
		}
	}
	b.cnt = append(b.cnt, 0)
	copy(b.cnt[i+1:], b.cnt[i:])
	b.cnt[i] = c
}

// removeAt deletes entry i.
func (b *block) removeAt(i int) {
	start := b.start(i)
	end := b.start(i + 1)
	if b.w == 0 {
		end = b.ends[i]
	}
	n := end - start
	b.data = append(b.data[:start], b.data[end:]...)
	if b.w == 0 {
		copy(b.ends[i:], b.ends[i+1:])
		b.ends = b.ends[:len(b.ends)-1]
		for j := i; j < len(b.ends); j++ {
			b.ends[j] -= n
		}
	}
	copy(b.cnt[i:], b.cnt[i+1:])
	b.cnt = b.cnt[:len(b.cnt)-1]
}

// splitOff moves entries [i, len) into a new block; both get exact-size
// buffers with some headroom.
func (b *block) splitOff(i int) *block {
	start := b.start(i)
	head := 64
	if b.w > 0 {
		head = 8 * b.w
	}
	nb := &block{
		w:    b.w,
		data: append(make([]byte, 0, len(b.data)-int(start)+head), b.data[start:]...),
		cnt:  append(make([]uint32, 0, b.len()-i+8), b.cnt[i:]...),
	}
	if b.w == 0 {
		nb.ends = make([]uint32, len(b.ends)-i, len(b.ends)-i+8)
		for j := range nb.ends {
			nb.ends[j] = b.ends[i+j] - start
		}
		b.ends = append(make([]uint32, 0, i+8), b.ends[:i]...)
	}
	b.data = append(make([]byte, 0, int(start)+head), b.data[:start]...)
	b.cnt = append(make([]uint32, 0, i+8), b.cnt[:i]...)
	return nb
}

// appendBlock appends all of o's entries (all greater than b's).
func (b *block) appendBlock(o *block) {
	base := uint32(len(b.data))
	b.data = append(b.data, o.data...)
	if b.w == 0 {
		for _, e := range o.ends {
			b.ends = append(b.ends, e+base)
		}
	}
	b.cnt = append(b.cnt, o.cnt...)
}

func (b *block) bytes() int {
	return cap(b.data) + 4*cap(b.ends) + 4*cap(b.cnt) + 88
}

// tree is the ordered multiset of one partition's row keys: a list of
// sorted blocks, each block's keys all below the next block's. It is a
// two-level B-tree: a lookup is a binary search over the blocks' last keys
// and one inside a block.
type tree struct {
	w      int // fixed key width, 0 if keys vary
	blocks []*block
	rows   int64 // total multiplicity
	ent    int   // distinct keys
}

// last is the greatest key held; the tree must not be empty.
func (t *tree) last() []byte {
	b := t.blocks[len(t.blocks)-1]
	return b.key(b.len() - 1)
}

// truncate deletes the keys after the first keep, passing each with its
// count to fn, greatest first (the key is valid during the call); it
// stops early, returning false, when fn does.
func (t *tree) truncate(keep int, fn func(k []byte, c uint32) bool) bool {
	for t.ent > keep {
		bi := len(t.blocks) - 1
		b := t.blocks[bi]
		i0 := max(0, b.len()-(t.ent-keep))
		for i := b.len() - 1; i >= i0; i-- {
			if !fn(b.key(i), b.cnt[i]) {
				return false
			}
			t.rows -= int64(b.cnt[i])
			t.ent--
			b.data = b.data[:b.start(i)]
			if b.w == 0 {
				b.ends = b.ends[:i]
			}
			b.cnt = b.cnt[:i]
		}
		if b.len() == 0 {
			t.blocks[bi] = nil
			t.blocks = t.blocks[:bi]
		}
	}
	return true
}

// find returns the block that holds k, or would hold it.
func (t *tree) find(k []byte) int {
	n := len(t.blocks)
	i := sort.Search(n, func(i int) bool {
		b := t.blocks[i]
		return compareKeys(b.key(b.len()-1), k) >= 0
	})
	if i == n {
		i = n - 1
	}
	return i
}

// add inserts one copy of k; it reports false when k's count is at its
// limit.
func (t *tree) add(k []byte) bool {
	if len(t.blocks) == 0 {
		b := &block{w: t.w, data: make([]byte, 0, 2*len(k)), cnt: make([]uint32, 0, 2)}
		b.insertAt(0, k, 1)
		t.blocks = append(t.blocks, b)
		t.rows++
		t.ent++
		return true
	}
	bi := t.find(k)
	b := t.blocks[bi]
	i, found := b.search(k)
	if found {
		if b.cnt[i] == math.MaxUint32 {
			return false
		}
		b.cnt[i]++
		t.rows++
		return true
	}
	b.insertAt(i, k, 1)
	t.rows++
	t.ent++
	if n := b.len(); n > 1 && (n > maxEntries || len(b.data) > maxBytes) {
		nb := b.splitOff(n / 2)
		t.blocks = append(t.blocks, nil)
		copy(t.blocks[bi+2:], t.blocks[bi+1:])
		t.blocks[bi+1] = nb
	}
	return true
}

// move replaces key old, held once, by key nw, not held, in a tree of one
// block of fixed-width keys: one shift of the keys between them instead
// of a delete and an insert. It reports false, changing nothing, when the
// tree is not such a tree, old is not held once or nw is held.
func (t *tree) move(old, nw []byte) bool {
	if len(t.blocks) != 1 || t.w == 0 {
		return false
	}
	b := t.blocks[0]
	i, ok := b.search(old)
	if !ok || b.cnt[i] != 1 {
		return false
	}
	j, found := b.near(i, nw)
	if found {
		return false
	}
	w := t.w
	if j <= i {
		// nw goes before entry j: entries j..i-1 move up over old.
		copy(b.data[(j+1)*w:(i+1)*w], b.data[j*w:i*w])
		copy(b.cnt[j+1:i+1], b.cnt[j:i])
	} else {
		// nw goes before entry j, after old: entries i+1..j-1 move down.
		j--
		copy(b.data[i*w:j*w], b.data[(i+1)*w:(j+1)*w])
		copy(b.cnt[i:j], b.cnt[i+1:j+1])
	}
	copy(b.data[j*w:(j+1)*w], nw)
	b.cnt[j] = 1
	return true
}

// near is search for k starting from entry i: an update moves a key a
// few places, so it scans a few entries from i before it falls back to a
// binary search.
func (b *block) near(i int, k []byte) (int, bool) {
	const scan = 8
	c := compareKeys(k, b.key(i))
	switch {
	case c == 0:
		return i, true
	case c < 0:
		for j := i; j > max(0, i-scan); j-- {
			switch c := compareKeys(b.key(j-1), k); {
			case c == 0:
				return j - 1, true
			case c < 0:
				return j, false
			}
		}
		if i <= scan {
			return 0, false // every key from 0 to i is after k
		}
	default:
		for j := i + 1; j < min(b.len(), i+1+scan); j++ {
			if c := compareKeys(b.key(j), k); c >= 0 {
				return j, c == 0
			}
		}
		if i+1+scan >= b.len() {
			return b.len(), false
		}
	}
	return b.search(k)
}

// remove deletes one copy of k; it reports false when k is absent.
func (t *tree) remove(k []byte) bool {
	if len(t.blocks) == 0 {
		return false
	}
	bi := t.find(k)
	b := t.blocks[bi]
	i, found := b.search(k)
	if !found {
		return false
	}
	t.rows--
	if b.cnt[i] > 1 {
		b.cnt[i]--
		return true
	}
	b.removeAt(i)
	t.ent--
	switch {
	case b.len() == 0:
		copy(t.blocks[bi:], t.blocks[bi+1:])
		t.blocks[len(t.blocks)-1] = nil
		t.blocks = t.blocks[:len(t.blocks)-1]
	case b.len() < maxEntries/4:
		// Merge with a small enough neighbour.
		for _, j := range [2]int{bi + 1, bi - 1} {
			if j < 0 || j >= len(t.blocks) {
				continue
			}
			o := t.blocks[j]
			if b.len()+o.len() > maxEntries*3/4 || len(b.data)+len(o.data) > maxBytes*3/4 {
				continue
			}
			lo, hi := min(bi, j), max(bi, j)
			t.blocks[lo].appendBlock(t.blocks[hi])
			copy(t.blocks[hi:], t.blocks[hi+1:])
			t.blocks[len(t.blocks)-1] = nil
			t.blocks = t.blocks[:len(t.blocks)-1]
			break
		}
	}
	return true
}

func (t *tree) bytes() int {
	n := 8 * cap(t.blocks)
	for _, b := range t.blocks {
		n += b.bytes()
	}
	return n
}
