package topn

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
)

// restSet holds the rows of a partition that are ordered after every row
// of its sorted head (see partition): a multiset of row keys, unsorted, in
// an open-addressing hash table (linear probing, deletion by backward
// shift, no tombstones), so that a change below the top is a hash insert
// or delete. A key's multiplicity is 1 unless its bit in dup is set; then
// it is in counts.
//
// Fixed-width keys (w > 0) are stored compressed, in the slots themselves:
// every key held equals tmpl outside the byte positions pos, so a slot
// keeps only the bytes at pos, in order. Comparing compressed keys orders
// them as the full keys, and a compressed key of at most 8 bytes is
// compared as one integer. A key that differs from tmpl elsewhere widens
// pos (the table is rebuilt; pos only grows, so at most w times). On the
// co-occurrence Top-N (keys of 18 bytes: n DESC, other) a slot is 2 to 4
// bytes: the low bytes of n and of other.
//
// Variable-width keys (w == 0) are appended to arena (a uvarint length,
// then the key); a slot holds the key's 4-byte offset. Deleted keys leave
// garbage in the arena, compacted when it passes half of it.
type restSet struct {
	w      int      // key width; 0: keys vary in length
	sw     int      // bytes per slot
	packed bool     // w > 0 and sw ≤ 8: a slot is a big-endian integer
	lsh    uint     // packed: 64 - 8*sw
	size   int      // slots
	slots  []byte   // size*sw bytes, then 8 bytes of padding
	used   []uint64 // bit i: slot i holds a key
	dup    []uint64 // bit i: slot i's count is > 1 (nil while none is)
	counts map[string]uint32
	n      int   // distinct keys
	rows   int64 // total multiplicity

	tmpl []byte   // w > 0: the bytes keys share outside pos
	fm   []byte   // w > 0: 0xFF where keys must equal tmpl, 0 at pos
	pos  []uint16 // w > 0: the positions stored, ascending

	arena   []byte // w == 0: the keys
	garbage int    // w == 0: bytes of deleted keys in arena

	sbuf []byte // a compressed key (w > 0, not packed)
	ebuf []byte // an expanded key, while rebuilding
	hint int    // slots of the first table, when more than restMinSlots
}

// restMinSlots is the smallest table. A table grows by half past 80%
// load (to 53%) and shrinks under 20% (to 50%); any size works, as a hash
// maps to a slot by multiplication rather than by a mask.
const restMinSlots = 16

var restSeed = maphash.MakeSeed()

func newRestSet(w int) *restSet {
	s := &restSet{w: w}
	if w == 0 {
		s.sw = 4
	}
	return s
}

// reserve sizes the first table of an empty set for n keys.
func (s *restSet) reserve(n int) {
	if s.size == 0 {
		s.hint = max(restMinSlots, n*5/4+1)
	}
}

// mix64 scrambles a packed key; slotOf takes its high bits.
func mix64(x uint64) uint64 {
	x *= 0x9E3779B97F4A7C15
	x ^= x >> 32
	x *= 0xBF58476D1CE4E5B9
	return x
}

func (s *restSet) isUsed(i int) bool { return s.used[i>>6]&(1<<(uint(i)&63)) != 0 }

func (s *restSet) isDup(i int) bool {
	return s.dup != nil && s.dup[i>>6]&(1<<(uint(i)&63)) != 0
}

// slotX is packed slot i as an integer.
func (s *restSet) slotX(i int) uint64 {
	return binary.BigEndian.Uint64(s.slots[i*s.sw:]) >> s.lsh
}

// stored is the key of slot i as stored: compressed (w > 0) or whole.
func (s *restSet) stored(i int) []byte {
	if s.w > 0 {
		return s.slots[i*s.sw : (i+1)*s.sw]
	}
	off := int(binary.LittleEndian.Uint32(s.slots[i*4:]))
	n, k := binary.Uvarint(s.arena[off:])
	return s.arena[off+k : off+k+int(n)]
}

// count is slot i's multiplicity.
func (s *restSet) count(i int) uint32 {
	if s.isDup(i) {
		return s.counts[string(s.stored(i))]
	}
	return 1
}

// setCount sets slot i's multiplicity to c ≥ 1.
func (s *restSet) setCount(i int, c uint32) {
	bit := uint64(1) << (uint(i) & 63)
	if c == 1 {
		if s.isDup(i) {
			delete(s.counts, string(s.stored(i)))
			s.dup[i>>6] &^= bit
		}
		return
	}
	if s.dup == nil {
		s.dup = make([]uint64, len(s.used))
		s.counts = map[string]uint32{}
	}
	s.dup[i>>6] |= bit
	s.counts[string(s.stored(i))] = c
}

// compress returns key as stored (sk, or x when packed); ok is false when
// key differs from tmpl outside pos (it is not held).
func (s *restSet) compress(key []byte) (sk []byte, x uint64, ok bool) {
	if s.w == 0 {
		return key, 0, true
	}
	if len(key) != s.w {
		return nil, 0, false
	}
	j := 0
	for ; j+8 <= s.w; j += 8 {
		d := binary.LittleEndian.Uint64(key[j:]) ^ binary.LittleEndian.Uint64(s.tmpl[j:])
		if d&binary.LittleEndian.Uint64(s.fm[j:]) != 0 {
			return nil, 0, false
		}
	}
	for ; j < s.w; j++ {
		if (key[j]^s.tmpl[j])&s.fm[j] != 0 {
			return nil, 0, false
		}
	}
	if s.packed {
		for _, p := range s.pos {
			x = x<<8 | uint64(key[p])
		}
		return nil, x, true
	}
	b := s.sbuf[:0]
	for _, p := range s.pos {
		b = append(b, key[p])
	}
	s.sbuf = b
	return b, 0, true
}

// expand appends the whole key of slot i to dst.
func (s *restSet) expand(dst []byte, i int) []byte {
	if s.w == 0 {
		return append(dst, s.stored(i)...)
	}
	n := len(dst)
	dst = append(dst, s.tmpl...)
	k := dst[n:]
	if s.packed {
		x := s.slotX(i)
		for j := len(s.pos) - 1; j >= 0; j-- {
			k[s.pos[j]] = byte(x)
			x >>= 8
		}
		return dst
	}
	sl := s.stored(i)
	for j, p := range s.pos {
		k[p] = sl[j]
	}
	return dst
}

func (s *restSet) hash(sk []byte, x uint64) uint64 {
	if s.packed {
		return mix64(x)
	}
	return maphash.Bytes(restSeed, sk)
}

// slotOf maps hash h to a slot.
func (s *restSet) slotOf(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(s.size))
	return int(hi)
}

// home is the slot where slot i's key hashes to.
func (s *restSet) home(i int) int {
	if s.packed {
		return s.slotOf(mix64(s.slotX(i)))
	}
	return s.slotOf(maphash.Bytes(restSeed, s.stored(i)))
}

// find returns the slot holding the stored key, or the empty slot where it
// would go.
func (s *restSet) find(sk []byte, x, h uint64) (int, bool) {
	i := s.slotOf(h)
	for {
		if !s.isUsed(i) {
			return i, false
		}
		if s.packed {
			if s.slotX(i) == x {
				return i, true
			}
		} else if bytes.Equal(s.stored(i), sk) {
			return i, true
		}
		if i++; i == s.size {
			i = 0
		}
	}
}

// setPos makes pos the stored positions.
func (s *restSet) setPos(pos []uint16) {
	s.pos = pos
	s.sw = len(pos)
	s.packed = s.sw <= 8
	s.lsh = uint(64 - 8*s.sw)
	if len(s.fm) != s.w {
		s.fm = make([]byte, s.w)
	}
	for j := range s.fm {
		s.fm[j] = 0xFF
	}
	for _, p := range pos {
		s.fm[p] = 0
	}
}

// alloc makes an empty table of size slots.
func (s *restSet) alloc(size int) {
	s.size = size
	s.slots = make([]byte, size*s.sw+8)
	s.used = make([]uint64, (size+63)/64)
	s.dup, s.counts = nil, nil
	s.n, s.rows = 0, 0
}

// place stores key (sk or x as compressed) in the empty slot i with count
// c; it reports false when the arena would pass 4 GB.
func (s *restSet) place(i int, key, sk []byte, x uint64, c uint32) bool {
	switch {
	case s.packed:
		b := s.slots[i*s.sw : (i+1)*s.sw]
		for j := len(b) - 1; j >= 0; j-- {
			b[j] = byte(x)
			x >>= 8
		}
	case s.w > 0:
		copy(s.slots[i*s.sw:], sk)
	default:
		off := len(s.arena)
		if off+len(key)+binary.MaxVarintLen64 > math.MaxUint32 {
			return false
		}
		s.arena = binary.AppendUvarint(s.arena, uint64(len(key)))
		s.arena = append(s.arena, key...)
		binary.LittleEndian.PutUint32(s.slots[i*4:], uint32(off))
	}
	s.used[i>>6] |= 1 << (uint(i) & 63)
	s.n++
	s.rows += int64(c)
	if c > 1 {
		s.setCount(i, c)
	}
	return true
}

// add inserts c copies of key. It reports false when key's count would
// pass MaxUint32 (or, for variable-width keys, the arena 4 GB); the set is
// then unchanged.
func (s *restSet) add(key []byte, c uint32) bool {
	if s.size == 0 {
		if s.w > 0 {
			if len(key) != s.w {
				return false
			}
			s.tmpl = slices.Clone(key)
			s.setPos([]uint16{uint16(s.w - 1)})
		}
		s.alloc(max(restMinSlots, s.hint))
	}
	sk, x, ok := s.compress(key)
	if !ok {
		if len(key) != s.w {
			return false
		}
		s.widen(key)
		sk, x, _ = s.compress(key)
	}
	h := s.hash(sk, x)
	i, found := s.find(sk, x, h)
	if found {
		cur := s.count(i)
		if uint64(cur)+uint64(c) > math.MaxUint32 {
			return false
		}
		s.setCount(i, cur+c)
		s.rows += int64(c)
		return true
	}
	if (s.n+1)*5 > s.size*4 {
		s.rebuild(s.size+s.size/2, s.pos)
		sk, x, _ = s.compress(key)
		h = s.hash(sk, x)
		i, _ = s.find(sk, x, h)
	}
	return s.place(i, key, sk, x, c)
}

// remove deletes one copy of key, or all of them with all; it returns the
// copies deleted, 0 when key is not held.
func (s *restSet) remove(key []byte, all bool) uint32 {
	if s.n == 0 {
		return 0
	}
	sk, x, ok := s.compress(key)
	if !ok {
		return 0
	}
	i, found := s.find(sk, x, s.hash(sk, x))
	if !found {
		return 0
	}
	c := s.count(i)
	if c > 1 && !all {
		s.setCount(i, c-1)
		s.rows--
		return 1
	}
	s.setCount(i, 1)
	if s.w == 0 {
		n := len(s.stored(i))
		s.garbage += n + uvarintLen(n)
	}
	s.deleteSlot(i)
	s.n--
	s.rows -= int64(c)
	switch {
	case s.n == 0:
		// The caller drops an empty set.
	case s.n*5 < s.size && s.size > restMinSlots:
		s.rebuild(fitSlots(s.n), s.pos)
	case s.w == 0 && s.garbage > 4096 && 2*s.garbage > len(s.arena):
		s.rebuild(s.size, nil)
	}
	return c
}

func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], uint64(n))
}

// fitSlots is the table size for n keys at 50% load.
func fitSlots(n int) int {
	return max(restMinSlots, 2*n)
}

// deleteSlot empties slot i (its count 1), shifting back the keys after
// it that hashed before it.
func (s *restSet) deleteSlot(i int) {
	// dist is how far slot b is after slot a, cyclically.
	dist := func(a, b int) int {
		if b < a {
			return b - a + s.size
		}
		return b - a
	}
	for {
		j := i
		for {
			if j++; j == s.size {
				j = 0
			}
			if !s.isUsed(j) {
				s.used[i>>6] &^= 1 << (uint(i) & 63)
				return
			}
			if dist(s.home(j), j) >= dist(i, j) {
				break
			}
		}
		// Move j to i.
		copy(s.slots[i*s.sw:(i+1)*s.sw], s.slots[j*s.sw:(j+1)*s.sw])
		if s.dup != nil {
			bi, bj := uint64(1)<<(uint(i)&63), uint64(1)<<(uint(j)&63)
			if s.dup[j>>6]&bj != 0 {
				s.dup[i>>6] |= bi
				s.dup[j>>6] &^= bj
			} else {
				s.dup[i>>6] &^= bi
			}
		}
		i = j
	}
}

// widen adds to pos the positions where key differs from tmpl.
func (s *restSet) widen(key []byte) {
	pos := slices.Clone(s.pos)
	for j := 0; j < s.w; j++ {
		if s.fm[j] != 0 && key[j] != s.tmpl[j] {
			pos = append(pos, uint16(j))
		}
	}
	slices.Sort(pos)
	s.rebuild(s.size, pos)
}

// rebuild re-inserts every key into a table of size slots storing the
// positions pos (w > 0); it compacts the arena (w == 0).
func (s *restSet) rebuild(size int, pos []uint16) {
	old := *s
	if s.w > 0 {
		s.setPos(pos)
	} else {
		live := len(old.arena) - old.garbage
		s.arena = make([]byte, 0, live+live/4)
		s.garbage = 0
	}
	s.alloc(size)
	// Keys are moved as stored unless the stored positions change.
	same := s.w == 0 || len(pos) == len(old.pos)
	buf := old.ebuf[:0]
	for wi, word := range old.used {
		for word != 0 {
			i := wi*64 + bits.TrailingZeros64(word)
			word &= word - 1
			c := old.count(i)
			var key, sk []byte
			var x uint64
			switch {
			case same && s.packed:
				x = old.slotX(i)
			case same:
				sk = old.stored(i)
				key = sk
			default:
				buf = old.expand(buf[:0], i)
				key = buf
				sk, x, _ = s.compress(buf)
			}
			j, _ := s.find(sk, x, s.hash(sk, x))
			s.place(j, key, sk, x, c)
		}
	}
	s.ebuf = buf
}

// smallest returns in h the slots of the m smallest keys (all if fewer),
// in ascending key order; scratch is reused.
func (s *restSet) smallest(m int, h []int32, scratch *[]uint64) []int32 {
	h = h[:0]
	if m <= 0 {
		return h
	}
	if s.packed {
		return s.smallestPacked(m, h, scratch)
	}
	less := func(a, b int32) bool {
		return compareKeys(s.stored(int(a)), s.stored(int(b))) < 0
	}
	// A max-heap of the m smallest so far.
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			if r := l + 1; r < len(h) && less(h[l], h[r]) {
				l = r
			}
			if !less(h[i], h[l]) {
				return
			}
			h[i], h[l] = h[l], h[i]
			i = l
		}
	}
	for wi, word := range s.used {
		for word != 0 {
			i := int32(wi*64 + bits.TrailingZeros64(word))
			word &= word - 1
			if len(h) < m {
				h = append(h, i)
				for j := len(h) - 1; j > 0; {
					p := (j - 1) / 2
					if !less(h[p], h[j]) {
						break
					}
					h[p], h[j] = h[j], h[p]
					j = p
				}
				continue
			}
			if less(i, h[0]) {
				h[0] = i
				down(0)
			}
		}
	}
	slices.SortFunc(h, func(a, b int32) int {
		switch {
		case less(a, b):
			return -1
		case less(b, a):
			return 1
		}
		return 0
	})
	return h
}

// smallestPacked is smallest for packed keys: a max-heap of the keys
// themselves, so that most slots cost one comparison with its top.
func (s *restSet) smallestPacked(m int, h []int32, scratch *[]uint64) []int32 {
	hx := (*scratch)[:0]
	defer func() { *scratch = hx[:0] }()
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(hx) {
				return
			}
			if r := l + 1; r < len(hx) && hx[l] < hx[r] {
				l = r
			}
			if hx[i] >= hx[l] {
				return
			}
			hx[i], hx[l] = hx[l], hx[i]
			h[i], h[l] = h[l], h[i]
			i = l
		}
	}
	for wi, word := range s.used {
		for word != 0 {
			i := wi*64 + bits.TrailingZeros64(word)
			word &= word - 1
			x := s.slotX(i)
			if len(hx) < m {
				hx, h = append(hx, x), append(h, int32(i))
				for j := len(hx) - 1; j > 0; {
					p := (j - 1) / 2
					if hx[p] >= hx[j] {
						break
					}
					hx[p], hx[j] = hx[j], hx[p]
					h[p], h[j] = h[j], h[p]
					j = p
				}
				continue
			}
			if x < hx[0] {
				hx[0], h[0] = x, int32(i)
				down(0)
			}
		}
	}
	slices.SortFunc(h, func(a, b int32) int { return cmp.Compare(s.slotX(int(a)), s.slotX(int(b))) })
	return h
}

// sorted returns in h every slot, in ascending key order.
func (s *restSet) sorted(h []int32) []int32 {
	h = h[:0]
	for wi, word := range s.used {
		for word != 0 {
			h = append(h, int32(wi*64+bits.TrailingZeros64(word)))
			word &= word - 1
		}
	}
	if s.packed {
		slices.SortFunc(h, func(a, b int32) int { return cmp.Compare(s.slotX(int(a)), s.slotX(int(b))) })
		return h
	}
	slices.SortFunc(h, func(a, b int32) int { return compareKeys(s.stored(int(a)), s.stored(int(b))) })
	return h
}

func (s *restSet) bytes() int {
	n := cap(s.slots) + 8*cap(s.used) + 8*cap(s.dup) + cap(s.arena) +
		cap(s.tmpl) + cap(s.fm) + 2*cap(s.pos) + cap(s.sbuf) + cap(s.ebuf) + 200
	n += len(s.counts) * (48 + s.sw)
	return n
}
