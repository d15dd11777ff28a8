package join

import (
	"hash/maphash"
	"math"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
)

// The row index of a side finds a stored copy of a whole row in O(1)
// expected time, so that a retraction does not walk its key's chain
// (which, for a popular key, holds thousands of rows).
//
// Every stored row has a 32-bit hash of all its column values (rhash, by
// slot). Identical copies of a row are kept next to each other in their
// key chain: bit same[x] says the slot after x in its chain holds the
// same row. The first slot of each run of identical copies (its
// representative) is entered in tab, an open-addressing table with
// linear probing (home position: hash & mask) and backward-shift
// deletion. Lookups compare hashes first and verify with Columns.Equal.
// The index costs 4 bytes (hash) plus 1 bit per slot, plus 4 to 11 bytes
// per distinct row for the table (its load stays between 3/8 and 3/4).

// rowMark is mixed into a row's hash for a NULL value.
const rowMark = 0x5bd1e9955bd1e995

// mixHash folds v into the running hash h.
func mixHash(h, v uint64) uint64 {
	hi, lo := bits.Mul64(h^v, 0x9e3779b97f4a7c15)
	return hi ^ lo
}

// computeRowHashes fills s.rowH with a hash of all the columns of each
// row of rec, a column at a time. Rows Columns.Equal calls equal hash
// the same (NULLs equal, doubles by key identity).
func (s *side) computeRowHashes(rec arrow.RecordBatch, n int) {
	h := slices64(s.rowH, n)
	s.rowH = h
	for i := range h {
		h[i] = 0x243f6a8885a308d3
	}
	for c := range s.types {
		col := rec.Column(c)
		var nulls []byte
		off := 0
		if col.NullN() > 0 {
			nulls = col.Data().Buffers()[0].Bytes()
			off = col.Data().Offset()
		}
		switch x := col.(type) {
		case *array.Int64:
			hashInts(h, x.Int64Values(), nulls, off)
		case *array.Timestamp:
			hashInts(h, x.TimestampValues(), nulls, off)
		case *array.Int32:
			hashInts(h, x.Int32Values(), nulls, off)
		case *array.Date32:
			hashInts(h, x.Date32Values(), nulls, off)
		case *array.Float64:
			for i, v := range x.Float64Values()[:n] {
				if nulls != nil && !bitutil.BitIsSet(nulls, off+i) {
					h[i] = mixHash(h[i], rowMark)
					continue
				}
				h[i] = mixHash(h[i], keyFloatBits(v))
			}
		case *array.Boolean:
			for i := 0; i < n; i++ {
				if nulls != nil && !bitutil.BitIsSet(nulls, off+i) {
					h[i] = mixHash(h[i], rowMark)
					continue
				}
				v := uint64(0)
				if x.Value(i) {
					v = 1
				}
				h[i] = mixHash(h[i], v)
			}
		case *array.String:
			for i := 0; i < n; i++ {
				if nulls != nil && !bitutil.BitIsSet(nulls, off+i) {
					h[i] = mixHash(h[i], rowMark)
					continue
				}
				h[i] = mixHash(h[i], maphash.String(s.seed, x.Value(i)))
			}
		case *array.Decimal128:
			for i, v := range x.Values()[:n] {
				if nulls != nil && !bitutil.BitIsSet(nulls, off+i) {
					h[i] = mixHash(h[i], rowMark)
					continue
				}
				h[i] = mixHash(mixHash(h[i], v.LowBits()), uint64(v.HighBits()))
			}
		}
	}
}

func slices64(b []uint64, n int) []uint64 {
	if cap(b) < n {
		return make([]uint64, n)
	}
	return b[:n]
}

// hashInts folds integer-like values into h.
func hashInts[T ~int32 | ~int64](h []uint64, vals []T, nulls []byte, off int) {
	vals = vals[:len(h)]
	if nulls == nil {
		for i, v := range vals {
			h[i] = mixHash(h[i], uint64(v))
		}
		return
	}
	for i, v := range vals {
		if !bitutil.BitIsSet(nulls, off+i) {
			h[i] = mixHash(h[i], rowMark)
			continue
		}
		h[i] = mixHash(h[i], uint64(v))
	}
}

// keyFloatBits is the bits of f with -0 as 0 and one NaN, as
// Columns.Equal compares doubles.
func keyFloatBits(f float64) uint64 {
	if f == 0 {
		return 0
	}
	if f != f {
		return math.Float64bits(math.NaN())
	}
	return math.Float64bits(f)
}

// rowHashMask is and-ed into every row hash; tests narrow it to force
// collisions.
var rowHashMask = ^uint32(0)

// rowHash is the 32-bit index hash of row i of the bound record.
func (s *side) rowHash(i int) uint32 {
	h := s.rowH[i]
	return uint32(h^h>>32) & rowHashMask
}

func (s *side) isSame(x uint32) bool {
	w := int(x >> 6)
	return w < len(s.same) && s.same[w]&(1<<(x&63)) != 0
}

func (s *side) setSame(x uint32, v bool) {
	w := int(x >> 6)
	if v {
		for len(s.same) <= w {
			s.same = append(s.same, 0)
		}
		s.same[w] |= 1 << (x & 63)
	} else if w < len(s.same) {
		s.same[w] &^= 1 << (x & 63)
	}
}

// lookupRow returns the representative slot of the stored copies of row
// i of the bound record (whose hash is h) and its table position, or end
// and the empty position where it would go.
func (s *side) lookupRow(h uint32, i int) (pos int, slot uint32) {
	if len(s.tab) == 0 {
		return -1, end
	}
	mask := len(s.tab) - 1
	for p := int(h) & mask; ; p = (p + 1) & mask {
		x := s.tab[p]
		if x == end {
			return p, end
		}
		if s.rhash[x] == h && s.rows.Equal(x, i) {
			return p, x
		}
	}
}

// slotPos returns the table position of representative slot x.
func (s *side) slotPos(x uint32) int {
	mask := len(s.tab) - 1
	for p := int(s.rhash[x]) & mask; ; p = (p + 1) & mask {
		switch s.tab[p] {
		case x:
			return p
		case end:
			return -1 // not indexed (cannot happen for a representative)
		}
	}
}

// growTab makes room for one more table entry, keeping the load at or
// below 3/4.
func (s *side) growTab() {
	if (s.tabN+1)*4 <= len(s.tab)*3 {
		return
	}
	n := max(16, 2*len(s.tab))
	old := s.tab
	s.tab = make([]uint32, n)
	for p := range s.tab {
		s.tab[p] = end
	}
	mask := n - 1
	for _, x := range old {
		if x == end {
			continue
		}
		p := int(s.rhash[x]) & mask
		for s.tab[p] != end {
			p = (p + 1) & mask
		}
		s.tab[p] = x
	}
}

// tabDelete empties table position p, shifting back the entries of its
// probe run so that every lookup still reaches them.
func (s *side) tabDelete(p int) {
	mask := len(s.tab) - 1
	i := p
	for q := (p + 1) & mask; ; q = (q + 1) & mask {
		x := s.tab[q]
		if x == end {
			break
		}
		k := int(s.rhash[x]) & mask
		// The entry at q stays if its home lies cyclically in (i, q].
		if (i <= q && i < k && k <= q) || (i > q && (i < k || k <= q)) {
			continue
		}
		s.tab[i] = x
		i = q
	}
	s.tab[i] = end
	s.tabN--
}

// unindex removes slot x, about to leave its key chain, from the row
// index: a representative hands its table entry to the next identical
// copy, or frees it.
func (s *side) unindex(x uint32) {
	p := s.link[x].prev
	if p == end || !s.isSame(p) {
		if pos := s.slotPos(x); pos >= 0 {
			if s.isSame(x) {
				s.tab[pos] = s.link[x].next
			} else {
				s.tabDelete(pos)
			}
		}
	}
	if p != end && s.isSame(p) && !s.isSame(x) {
		s.setSame(p, false)
	}
	s.setSame(x, false)
}
