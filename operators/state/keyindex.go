package state

import (
	"fmt"
	"hash/maphash"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/types"
)

// keyIndex maps a key of any columns (several columns, VARCHAR, DOUBLE,
// DECIMAL, BOOLEAN, a multiset's whole row) to the slot holding it. Like
// intIndex it is an open-addressing table with linear probing whose keys
// are not stored but read from the key columns, so an entry costs 4 bytes.
// Each entry holds slot+1 in its low bits (smask; 0 is empty) and, in the
// bits above, a tag: the same bits of the key's hash. A probe compares
// key columns only when the tag matches, so a mismatch rarely leaves the
// table. The slot field is at least log2(len(tab)) bits wide, so a store
// of 1M rows keeps 11 tag bits; it widens (dropping tag bits, in place)
// when slot numbers outgrow it. Deletion shifts the following entries
// back, so there are no tombstones.
//
// The hash of a key is computed the same way from an Arrow chunk's rows
// (hashRows, a column at a time), from stored slots (hashSlot, hashSlots)
// and from lookup Datums (hashDatums). Equal keys hash equally under the
// store's key identity (that of KeyEncoder): NULL equals NULL, -0 equals
// 0, all NaNs are equal, and a DECIMAL compares by its unscaled value at
// the column's scale.
//
// The index holds exactly the live slots: a rebuild (on growth or
// Restore) re-reads them from the store's bit set of live slots.
type keyIndex struct {
	tab   []uint32
	shift uint   // 64 - log2(len(tab)): the home of hash h is h >> shift
	smask uint32 // entry bits holding slot+1; the others hold the tag
	n     int
	cols  []column // the store's columns (shared with it)
	key   []int    // key column numbers

	// Scratch.
	vals []uint64
	hs   []uint64
	ss   []uint32
}

// strSeed seeds the hash of strings. An index lives in one process (a
// Restore rebuilds it), so a per-process seed is fine.
var strSeed = maphash.MakeSeed()

const (
	hashInit = 0x243F6A8885A308D3 // the hash of no key columns
	hashNull = 0x6A09E667F3BCC909 // the value a NULL contributes
	hashMul  = 0x9E3779B97F4A7C15
	hashDecH = 0xBF58476D1CE4E5B9
)

// hashMix folds one column's value x into a key's running hash h.
func hashMix(h, x uint64) uint64 { return (bits.RotateLeft64(h, 26) ^ x) * hashMul }

// hashFinal spreads a running hash over all 64 bits (murmur3's fmix64):
// the home uses the top bits and the tag the low ones.
func hashFinal(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func hashDec(n decimal128.Num) uint64 { return n.LowBits() ^ uint64(n.HighBits())*hashDecH }

func hashBool(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// hashRows sets hs[i] to the hash of row i's key, reading the key columns
// of rd (readers indexed by column), for every i < len(hs).
func (x *keyIndex) hashRows(rd []reader, hs []uint64) {
	n := len(hs)
	for i := range hs {
		hs[i] = hashInit
	}
	if cap(x.vals) < n {
		x.vals = make([]uint64, n)
	}
	vals := x.vals[:n]
	for _, col := range x.key {
		r := &rd[col]
		if !r.nulls { // the common cases, without the vals pass
			switch x.cols[col].st {
			case stI64:
				for i, v := range r.i64[:n] {
					hs[i] = hashMix(hs[i], uint64(v))
				}
				continue
			case stI32:
				for i, v := range r.i32[:n] {
					hs[i] = hashMix(hs[i], uint64(int64(v)))
				}
				continue
			}
		}
		// An all-NULL array may have a short (or no) value buffer: its
		// values are never read, as every row is NULL.
		switch x.cols[col].st {
		case stI64:
			for i, v := range r.i64[:min(n, len(r.i64))] {
				vals[i] = uint64(v)
			}
		case stI32:
			for i, v := range r.i32[:min(n, len(r.i32))] {
				vals[i] = uint64(int64(v))
			}
		case stF64:
			for i, v := range r.f64[:min(n, len(r.f64))] {
				vals[i] = floatBits(v)
			}
		case stDec:
			for i, v := range r.dec[:min(n, len(r.dec))] {
				vals[i] = hashDec(v)
			}
		case stBool:
			for i := range vals {
				if !(r.nulls && r.arr.IsNull(i)) {
					vals[i] = hashBool(r.b.Value(i))
				}
			}
		case stStr:
			for i := range vals {
				if !(r.nulls && r.arr.IsNull(i)) {
					vals[i] = maphash.String(strSeed, r.str.Value(i))
				}
			}
		}
		if r.nulls {
			for i := range vals {
				if r.arr.IsNull(i) {
					vals[i] = hashNull
				}
			}
		}
		for i, v := range vals {
			hs[i] = hashMix(hs[i], v)
		}
	}
	for i, h := range hs {
		hs[i] = hashFinal(h)
	}
}

// hashRowsAt sets hs[j] to the hash of the key of row rows[j] of rd, as
// hashRows would, for every j < len(rows).
func (x *keyIndex) hashRowsAt(rd []reader, rows []int32, hs []uint64) {
	hs = hs[:len(rows)]
	for j := range hs {
		hs[j] = hashInit
	}
	for _, col := range x.key {
		r, st := &rd[col], x.cols[col].st
		switch {
		case !r.nulls && st == stI64: // the common case, inline
			for j, i := range rows {
				hs[j] = hashMix(hs[j], uint64(r.i64[i]))
			}
		default:
			for j, i := range rows {
				hs[j] = hashMix(hs[j], readerValue(st, r, int(i)))
			}
		}
	}
	for j, h := range hs {
		hs[j] = hashFinal(h)
	}
}

// readerValue is what row i of r, a reader of storage st, contributes to
// a hash (as in hashRows).
func readerValue(st storage, r *reader, i int) uint64 {
	if r.nulls && r.arr.IsNull(i) {
		return hashNull
	}
	switch st {
	case stI64:
		return uint64(r.i64[i])
	case stI32:
		return uint64(int64(r.i32[i]))
	case stF64:
		return floatBits(r.f64[i])
	case stDec:
		return hashDec(r.dec[i])
	case stBool:
		return hashBool(r.b.Value(i))
	default:
		return maphash.String(strSeed, r.str.Value(i))
	}
}

// slotValue is what the value at slot of c contributes to a hash.
func slotValue(c *column, slot int) uint64 {
	if c.isNull(slot) {
		return hashNull
	}
	switch c.st {
	case stI64:
		return uint64(c.i64[slot])
	case stI32:
		return uint64(int64(c.i32[slot]))
	case stF64:
		return floatBits(c.f64[slot])
	case stDec:
		return hashDec(c.decs[slot])
	case stBool:
		return hashBool(c.bools[slot])
	default:
		return maphash.String(strSeed, c.strs[slot])
	}
}

// hashSlot returns the hash of the key stored at slot.
func (x *keyIndex) hashSlot(slot uint32) uint64 {
	h := uint64(hashInit)
	for _, col := range x.key {
		c := &x.cols[col]
		if c.st == stI64 && len(c.nulls) == 0 { // the common case, inline
			h = hashMix(h, uint64(c.i64[slot]))
			continue
		}
		h = hashMix(h, slotValue(c, int(slot)))
	}
	return hashFinal(h)
}

// hashSlots sets hs[j] to the hash of the key at ss[j], a column at a time.
func (x *keyIndex) hashSlots(ss []uint32, hs []uint64) {
	for j := range ss {
		hs[j] = hashInit
	}
	for _, col := range x.key {
		c := &x.cols[col]
		switch noNulls := len(c.nulls) == 0; {
		case noNulls && c.st == stI64:
			for j, s := range ss {
				hs[j] = hashMix(hs[j], uint64(c.i64[s]))
			}
		case noNulls && c.st == stI32:
			for j, s := range ss {
				hs[j] = hashMix(hs[j], uint64(int64(c.i32[s])))
			}
		default:
			for j, s := range ss {
				hs[j] = hashMix(hs[j], slotValue(c, int(s)))
			}
		}
	}
	for j, h := range hs[:len(ss)] {
		hs[j] = hashFinal(h)
	}
}

// hashDatums returns the hash of a lookup key: one non-NULL value per key
// column, already converted to the column's type (see keyDatum).
func (x *keyIndex) hashDatums(key []types.Datum) uint64 {
	h := uint64(hashInit)
	for k, col := range x.key {
		d := &key[k]
		var v uint64
		switch x.cols[col].st {
		case stI64, stI32:
			v = uint64(d.I)
		case stF64:
			v = floatBits(d.F)
		case stDec:
			v = hashDec(d.Dec)
		case stBool:
			v = hashBool(d.I != 0)
		case stStr:
			v = maphash.String(strSeed, d.S)
		}
		h = hashMix(h, v)
	}
	return hashFinal(h)
}

// equalDatum reports whether slot of c holds d, a non-NULL value of c's
// type, under key identity.
func equalDatum(c *column, slot int, d *types.Datum) bool {
	if c.isNull(slot) {
		return false
	}
	switch c.st {
	case stI64:
		return c.i64[slot] == d.I
	case stI32:
		return int64(c.i32[slot]) == d.I
	case stF64:
		return floatBits(c.f64[slot]) == floatBits(d.F)
	case stDec:
		return c.decs[slot] == d.Dec
	case stBool:
		return c.bools[slot] == (d.I != 0)
	default:
		return c.strs[slot] == d.S
	}
}

// equalSlots reports whether slots a and b of c hold the same key value
// (NULL equals NULL).
func equalSlots(c *column, a, b int) bool {
	an, bn := c.isNull(a), c.isNull(b)
	if an || bn {
		return an == bn
	}
	switch c.st {
	case stI64:
		return c.i64[a] == c.i64[b]
	case stI32:
		return c.i32[a] == c.i32[b]
	case stF64:
		return floatBits(c.f64[a]) == floatBits(c.f64[b])
	case stDec:
		return c.decs[a] == c.decs[b]
	case stBool:
		return c.bools[a] == c.bools[b]
	default:
		return c.strs[a] == c.strs[b]
	}
}

// equalRow reports whether slot holds the key of row i of rd.
func (x *keyIndex) equalRow(slot uint32, rd []reader, i int) bool {
	for _, col := range x.key {
		c, r := &x.cols[col], &rd[col]
		if c.st == stI64 && !r.nulls && len(c.nulls) == 0 { // the common case, inline
			if c.i64[slot] != r.i64[i] {
				return false
			}
			continue
		}
		if !c.equalReader(int(slot), r, i) {
			return false
		}
	}
	return true
}

func (x *keyIndex) tag(h uint64) uint32 { return uint32(h) &^ x.smask }

// findRow returns the slot holding the key of row i of rd, whose hash is
// h, and its entry's position; when absent, pos is the empty entry where
// insertAt may put it (-1 if the table is empty).
func (x *keyIndex) findRow(h uint64, rd []reader, i int) (pos int, slot uint32, ok bool) {
	if len(x.tab) == 0 {
		return -1, 0, false
	}
	mask := len(x.tab) - 1
	tag := x.tag(h)
	for p := int(h >> x.shift); ; p = (p + 1) & mask {
		e := x.tab[p]
		if e == 0 {
			return p, 0, false
		}
		if e&^x.smask == tag {
			if s := e&x.smask - 1; x.equalRow(s, rd, i) {
				return p, s, true
			}
		}
	}
}

// findDatums returns the slot holding key (see hashDatums), whose hash is h.
func (x *keyIndex) findDatums(h uint64, key []types.Datum) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	mask := len(x.tab) - 1
	tag := x.tag(h)
	for p := int(h >> x.shift); ; p = (p + 1) & mask {
		e := x.tab[p]
		if e == 0 {
			return 0, false
		}
		if e&^x.smask != tag {
			continue
		}
		s := e&x.smask - 1
		eq := true
		for k, col := range x.key {
			if !equalDatum(&x.cols[col], int(s), &key[k]) {
				eq = false
				break
			}
		}
		if eq {
			return s, true
		}
	}
}

// posOf returns the position of slot's entry, which must be in the table.
func (x *keyIndex) posOf(slot uint32) int {
	mask := len(x.tab) - 1
	for p := int(x.hashSlot(slot) >> x.shift); ; p = (p + 1) & mask {
		if x.tab[p]&x.smask == slot+1 {
			return p
		}
	}
}

// full reports whether one more entry would pass the load limit (3/4).
func (x *keyIndex) full() bool { return (x.n+1)*4 > len(x.tab)*3 }

// insertAt adds slot, whose key has hash h and whose bit in live is set
// already, at the empty entry pos that findRow returned for it. When the
// table is full it is rebuilt instead, which takes in slot with every
// other slot set in live.
func (x *keyIndex) insertAt(pos int, h uint64, slot uint32, live []uint64) {
	if x.full() {
		x.grow(live)
		return
	}
	x.tab[pos] = x.tag(h) | (slot + 1)
	x.n++
}

// insert adds slot (as insertAt) without a prior findRow.
func (x *keyIndex) insert(slot uint32, live []uint64) {
	if x.full() {
		x.grow(live)
		return
	}
	x.place(x.hashSlot(slot), slot)
	x.n++
}

func (x *keyIndex) place(h uint64, slot uint32) {
	mask := len(x.tab) - 1
	p := int(h >> x.shift)
	for x.tab[p] != 0 {
		p = (p + 1) & mask
	}
	x.tab[p] = x.tag(h) | (slot + 1)
}

// removeAt deletes the entry at pos, shifting each following entry of
// the run back into the hole when the hole lies on its probe path.
func (x *keyIndex) removeAt(pos int) {
	mask := len(x.tab) - 1
	hole := pos
	for j := (pos + 1) & mask; ; j = (j + 1) & mask {
		e := x.tab[j]
		if e == 0 {
			break
		}
		h := int(x.hashSlot(e&x.smask-1) >> x.shift)
		if (j-h)&mask >= (j-hole)&mask {
			x.tab[hole] = e
			hole = j
		}
	}
	x.tab[hole] = 0
	x.n--
}

// reserve widens the slot field, if need be, so that it holds slot+1 for
// every slot below need. Entries keep their positions: the tag bits that
// become slot bits are dropped.
func (x *keyIndex) reserve(need int) {
	if uint64(need) <= uint64(x.smask) {
		return
	}
	nm := slotMask(bits.Len64(uint64(need)))
	for p, e := range x.tab {
		if e != 0 {
			x.tab[p] = e&^nm | e&x.smask
		}
	}
	x.smask = nm
}

func slotMask(b int) uint32 {
	if b >= 32 {
		return ^uint32(0)
	}
	return 1<<b - 1
}

func (x *keyIndex) grow(live []uint64) {
	// Live slots cannot repeat a key here: no error.
	_ = x.rebuild(max(16, 2*len(x.tab)), live, false)
}

// rebuild makes a table of size entries (a power of two; more if they
// would pass the load limit) holding every slot set in live, hashing
// their keys a column at a time in blocks. With check it reports two
// slots holding the same key (a damaged snapshot) instead of indexing
// both.
func (x *keyIndex) rebuild(size int, live []uint64, check bool) error {
	n := 0
	for _, w := range live {
		n += bits.OnesCount64(w)
	}
	for n*4 > size*3 {
		size *= 2
	}
	k := log2(size)
	x.tab = make([]uint32, size)
	x.shift = uint(64 - k)
	x.smask = slotMask(max(k, bits.Len32(x.smask)))
	x.n = 0
	const block = 1024 // slots: a multiple of 64
	if cap(x.hs) < block {
		x.hs = make([]uint64, block)
		x.ss = make([]uint32, 0, block)
	}
	for base := 0; base < len(live); base += block / 64 {
		ss := x.ss[:0]
		for w, word := range live[base:min(base+block/64, len(live))] {
			for ; word != 0; word &= word - 1 {
				ss = append(ss, uint32((base+w)<<6+bits.TrailingZeros64(word)))
			}
		}
		hs := x.hs[:len(ss)]
		x.hashSlots(ss, hs)
		for j, s := range ss {
			if check {
				if other, dup := x.findSlotKey(hs[j], s); dup {
					return fmt.Errorf("slots %d and %d hold the same key: %w", other, s, ErrCorrupt)
				}
			}
			x.place(hs[j], s)
		}
		x.n += len(ss)
		x.ss = ss
	}
	return nil
}

// findSlotKey returns a slot in the table holding the same key as slot.
func (x *keyIndex) findSlotKey(h uint64, slot uint32) (uint32, bool) {
	mask := len(x.tab) - 1
	tag := x.tag(h)
	for p := int(h >> x.shift); ; p = (p + 1) & mask {
		e := x.tab[p]
		if e == 0 {
			return 0, false
		}
		if e&^x.smask != tag {
			continue
		}
		s := e&x.smask - 1
		eq := true
		for _, col := range x.key {
			if !equalSlots(&x.cols[col], int(s), int(slot)) {
				eq = false
				break
			}
		}
		if eq {
			return s, true
		}
	}
}

// copySlot sets slot di of dst to the value at slot si of src, a column
// of the same storage.
func copySlot(dst *column, di int, src *column, si int) {
	dst.setNull(di, src.isNull(si))
	switch src.st {
	case stI64:
		dst.i64[di] = src.i64[si]
	case stI32:
		dst.i32[di] = src.i32[si]
	case stF64:
		dst.f64[di] = src.f64[si]
	case stDec:
		dst.decs[di] = src.decs[si]
	case stBool:
		dst.bools[di] = src.bools[si]
	default:
		dst.strs[di] = src.strs[si]
	}
}

// truncateColumn empties c, keeping its buffers (and dropping the strings
// it held, so they can be collected).
func truncateColumn(c *column) {
	clear(c.strs)
	c.i64, c.i32, c.bools, c.f64, c.strs, c.decs = c.i64[:0], c.i32[:0], c.bools[:0], c.f64[:0], c.strs[:0], c.decs[:0]
	c.nulls = c.nulls[:0]
}

// touch reads, for each hash of hs, the table entry at its home and, when
// its tag matches, the live bits and every column of the slot it names: the memory the
// probes of those rows are likely to read. The rows' loads do not depend
// on one another, so the processor overlaps their cache misses, where the
// probes themselves, interleaved with the changes they make, would wait
// for each in turn. The result only keeps the loads from being removed.
func (x *keyIndex) touch(hs []uint64, live []uint64) uint64 {
	if x.n == 0 {
		return 0
	}
	acc := x.touchHomes(hs)
	for _, h := range hs {
		e := x.tab[h>>x.shift]
		if e == 0 || e&^x.smask != x.tag(h) {
			continue
		}
		s := int(e&x.smask - 1)
		acc += live[s>>6]
		for c := range x.cols {
			acc += touchSlot(&x.cols[c], s)
		}
	}
	return acc
}

// touchSlot reads the value at slot of c.
func touchSlot(c *column, slot int) uint64 {
	switch c.st {
	case stI64:
		return uint64(c.i64[slot])
	case stI32:
		return uint64(c.i32[slot])
	case stF64:
		return uint64(c.f64[slot])
	case stDec:
		return c.decs[slot].LowBits()
	case stBool:
		if c.bools[slot] {
			return 1
		}
		return 0
	default:
		return uint64(len(c.strs[slot]))
	}
}

// storageBytes is the size of one value of storage st in a column.
func storageBytes(st storage) int {
	switch st {
	case stI64, stF64:
		return 8
	case stI32:
		return 4
	case stBool:
		return 1
	default:
		return 16 // a string header (its bytes apart) or a decimal
	}
}
