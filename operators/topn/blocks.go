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
// big-endian words first. Keys of one length compare their tail as the
// word that ends them (its bytes before the tail are equal by then).
func compareKeys(a, b []byte) int {
	if n := len(a); n == len(b) && n >= 8 {
		for o := 0; o+8 <= n; o += 8 {
			x, y := binary.BigEndian.Uint64(a[o:]), binary.BigEndian.Uint64(b[o:])
			if x != y {
				if x < y {
					return -1
				}
				return 1
			}
		}
		if n%8 == 0 {
			return 0
		}
		x, y := binary.BigEndian.Uint64(a[n-8:]), binary.BigEndian.Uint64(b[n-8:])
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
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
	ones := t.rows == int64(t.ent) // every count is 1
	if !ok || (!ones && b.cnt[i] != 1) {
		return false
	}
	j, found := b.near(i, nw)
	if found {
		return false
	}
	j = b.shift(i, j, ones)
	copy(b.data[j*t.w:(j+1)*t.w], nw)
	return true
}

// moveWords is move for keys of BIGINT fields given as their encoded
// words (see cmpWords): old and nw are compared with the block's keys
// without being encoded, and nw is written in place. The tree's keys must
// be of len(old) fields.
func (t *tree) moveWords(old, nw []uint64) bool {
	if len(t.blocks) != 1 || t.w != 9*len(old) {
		return false
	}
	b := t.blocks[0]
	i, ok := b.scanWords(old)
	ones := t.rows == int64(t.ent) // every count is 1: cnt is not read
	if !ok || (!ones && b.cnt[i] != 1) {
		return false
	}
	j, found := b.nearWords(i, nw)
	if found {
		return false
	}
	j = b.shift(i, j, ones)
	putWords(b.data[j*t.w:(j+1)*t.w], nw)
	return true
}

// shift moves entry i, held once, of a block of fixed-width keys to where
// entry j is (before it when j > i), sliding the entries between them
// over, and returns its new index; the caller writes the new key there.
// With ones (every count in the block is 1) the counts stay as they are.
func (b *block) shift(i, j int, ones bool) int {
	w := b.w
	if j <= i {
		// Entries j..i-1 move up over entry i.
		copy(b.data[(j+1)*w:(i+1)*w], b.data[j*w:i*w])
		if !ones {
			copy(b.cnt[j+1:i+1], b.cnt[j:i])
		}
	} else {
		// Entries i+1..j-1 move down over entry i.
		j--
		copy(b.data[i*w:j*w], b.data[(i+1)*w:(j+1)*w])
		if !ones {
			copy(b.cnt[i:j], b.cnt[i+1:j+1])
		}
	}
	if !ones {
		b.cnt[j] = 1
	}
	return j
}

// cmpWords compares key e, of BIGINT fields, with the key whose fields
// are all values (not NULL) with the encoded words ws (value ^ the
// field's sign and direction mask, as appendField writes it): -1 when e
// orders first, 0 when they are equal, 1 when e orders after.
func cmpWords(e []byte, ws []uint64) int {
	for k, w := range ws {
		o := 9 * k
		if f := e[o]; f != flagValue {
			if f < flagValue {
				return -1 // a NULL first
			}
			return 1
		}
		if x := binary.BigEndian.Uint64(e[o+1 : o+9]); x != w {
			if x < w {
				return -1
			}
			return 1
		}
	}
	return 0
}

// putWords writes the key of BIGINT values with encoded words ws into e.
func putWords(e []byte, ws []uint64) {
	for k, w := range ws {
		e[9*k] = flagValue
		binary.BigEndian.PutUint64(e[9*k+1:9*k+9], w)
	}
}

// appendWords appends the key of BIGINT values with encoded words ws.
func appendWords(kb []byte, ws []uint64) []byte {
	for _, w := range ws {
		kb = append(kb, flagValue)
		kb = binary.BigEndian.AppendUint64(kb, w)
	}
	return kb
}

// searchWords is search for the key of encoded words ws (see cmpWords)
// in a block of keys of len(ws) BIGINT fields.
func (b *block) searchWords(ws []uint64) (int, bool) {
	w := 9 * len(ws)
	lo, hi := 0, b.len()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := cmpWords(b.data[m*w:(m+1)*w], ws)
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

// scanWords is searchWords by a scan from the first key in a block of
// at most scanMax keys: the keys updated most often are the best ones, at
// the front, and a scan reads the block in order (a binary search waits
// for each probe's cache line in turn).
func (b *block) scanWords(ws []uint64) (int, bool) {
	const scanMax = 32
	if b.len() > scanMax {
		return b.searchWords(ws)
	}
	w := 9 * len(ws)
	for j := range b.len() {
		if c := cmpWords(b.data[j*w:(j+1)*w], ws); c >= 0 {
			return j, c == 0
		}
	}
	return b.len(), false
}

// nearWords is near for the key of encoded words ws (see searchWords).
func (b *block) nearWords(i int, ws []uint64) (int, bool) {
	w := 9 * len(ws)
	return b.nearBy(i,
		func(j int) int { return cmpWords(b.data[j*w:(j+1)*w], ws) },
		func() (int, bool) { return b.searchWords(ws) })
}

// near is search for k starting from entry i: an update moves a key a
// few places, so it scans a few entries from i before it falls back to a
// binary search.
func (b *block) near(i int, k []byte) (int, bool) {
	return b.nearBy(i,
		func(j int) int { return compareKeys(b.key(j), k) },
		func() (int, bool) { return b.search(k) })
}

// nearBy is near and nearWords: cmp(j) compares entry j with the key
// sought, and search finds it by a binary search.
func (b *block) nearBy(i int, cmp func(j int) int, search func() (int, bool)) (int, bool) {
	const scan = 8
	switch c := cmp(i); {
	case c == 0:
		return i, true
	case c > 0:
		for j := i; j > max(0, i-scan); j-- {
			switch c := cmp(j - 1); {
			case c == 0:
				return j - 1, true
			case c < 0:
				return j, false
			}
		}
		if i <= scan {
			return 0, false // every key from 0 to i is after the one sought
		}
	default:
		for j := i + 1; j < min(b.len(), i+1+scan); j++ {
			if c := cmp(j); c >= 0 {
				return j, c == 0
			}
		}
		if i+1+scan >= b.len() {
			return b.len(), false
		}
	}
	return search()
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
