package state

import (
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicedb/sluice/sqlerr"
)

// KeyProbe is the scratch of Store.Find, owned by its caller so that Find
// writes nothing of the store's own: a Find may then run alongside the
// store's other readers. One probe serves one Find at a time.
type KeyProbe struct {
	rd   []reader // by store column; only the key columns are set
	hs   []uint64
	vals []uint64
	sink uint64 // keeps the touching loads of Find's blocks
}

// Find looks up a batch of keys: keys has one column per key column of
// the store, in the key's order and of that column's Arrow type, and
// Find sets slots[i] to the slot of the row whose key is row i of keys,
// or NoSlot when the store holds none. Key identity is the store's (NULL
// equals NULL, -0 equals 0, NaN equals NaN), not SQL equality as in
// Lookup. len(slots) must be keys.NumRows(). The slots stay valid while
// the store's slot generation (SlotStamp) is unchanged; Int64s reads
// their values.
//
// Find is for keyed stores (NewStore with keyed=true). It only reads the
// store: it may run alongside Lookup, Row, Scan, Rows, Int64s and other
// Finds with other probes, not alongside Apply or Restore. It hashes the
// whole batch a column at a time as Apply does, then probes the keys: in
// blocks when the store is larger than the caches (see
// keyIndex.findRows), so that the misses of many keys overlap.
func (s *Store) Find(p *KeyProbe, keys arrow.RecordBatch, slots []uint32) error {
	if s.bad != nil {
		return s.bad
	}
	if !s.keyed || s.appendOnly {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "store: Find needs a keyed store")
	}
	n := int(keys.NumRows())
	if int(keys.NumCols()) != len(s.key) || len(slots) != n {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "store: Find of %d key columns into %d slots; the store has %d key columns and the batch %d rows",
			keys.NumCols(), len(slots), len(s.key), n)
	}
	for k, col := range s.key {
		if got := keys.Column(k).DataType(); got.ID() != s.ids[col] {
			return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "store: Find: key column %q is %s in the batch, want %s", s.schema[col].Name, got, s.schema[col].Type)
		}
	}
	if n == 0 {
		return nil
	}
	if len(s.key) == 0 {
		// At most one row, whatever the key.
		slot := NoSlot
		if s.rows > 0 {
			for w, word := range s.live {
				if word != 0 {
					slot = uint32(w<<6 + bits.TrailingZeros64(word))
					break
				}
			}
		}
		for i := range slots {
			slots[i] = slot
		}
		return nil
	}
	if len(p.rd) != len(s.cols) {
		p.rd = make([]reader, len(s.cols))
	}
	for k, col := range s.key {
		p.rd[col].reset(keys.Column(k))
	}
	defer func() {
		// Do not keep the batch's arrays reachable.
		for _, col := range s.key {
			p.rd[col] = reader{}
		}
	}()
	// Blocks cost more than they save on a store in the caches (a
	// third more CPU time a key at 8 MB), as Apply's touching pass does.
	blocks := s.slots*s.slotBytes >= touchBytes
	if s.intKey {
		s.findInts(p, slots, blocks)
		return nil
	}
	if cap(p.hs) < n {
		p.hs = make([]uint64, n)
	}
	hs := p.hs[:n]
	// A copy of the index whose hashing scratch is the probe's: the
	// store's own scratch belongs to Apply.
	x := s.kidx
	x.vals = p.vals
	x.hashRows(p.rd, hs)
	p.vals = x.vals
	if blocks {
		p.sink += x.findRows(hs, p.rd, slots)
		return nil
	}
	for i, h := range hs {
		if _, slot, ok := x.findRow(h, p.rd, i); ok {
			slots[i] = slot
		} else {
			slots[i] = NoSlot
		}
	}
	return nil
}

// findBlock is how many keys a block of Find holds: enough to keep the
// processor's outstanding misses busy, few enough that the lines a block
// touched are still in the L1 cache when it is resolved.
const findBlock = 64

// findRows sets slots[i] to the slot holding the key of row i of rd,
// whose hash is hs[i], or to NoSlot, for every i < len(hs). It works in
// blocks of findBlock rows, pipelined: while it resolves block k with
// findRow (mostly from the cache), it has loaded the key columns at the
// candidate slots of block k+1 (touchKeys) and the home entries of block
// k+2 (touchHomes). Within a pass the loads do not depend on one another,
// so their misses overlap, where probing one row after another waits for
// an entry and then for the key it names, row by row
// (BenchmarkStoreFindHydrate: about 30% less CPU time a key). The result
// only keeps the touching loads from being removed.
func (x *keyIndex) findRows(hs []uint64, rd []reader, slots []uint32) uint64 {
	if x.n == 0 {
		for i := range hs {
			slots[i] = NoSlot
		}
		return 0
	}
	var sink uint64
	block := func(k int) []uint64 { return hs[k*findBlock : min((k+1)*findBlock, len(hs))] }
	nb := (len(hs) + findBlock - 1) / findBlock
	for k := -2; k < nb; k++ {
		if k+2 < nb {
			sink += x.touchHomes(block(k + 2))
		}
		if k+1 >= 0 && k+1 < nb {
			sink += x.touchKeys(block(k + 1))
		}
		if k < 0 {
			continue
		}
		lo := k * findBlock
		for j, h := range block(k) {
			if _, slot, ok := x.findRow(h, rd, lo+j); ok {
				slots[lo+j] = slot
			} else {
				slots[lo+j] = NoSlot
			}
		}
	}
	return sink
}

// touchHomes loads the home entry of each hash of hs.
func (x *keyIndex) touchHomes(hs []uint64) uint64 {
	var sink uint64
	tab, shift := x.tab, x.shift
	for _, h := range hs {
		sink += uint64(tab[h>>shift])
	}
	return sink
}

// touchKeys loads, for each hash of hs, the key columns at the slot of
// the first entry of the run from its home whose tag matches: most often
// the key's own entry, at or just past the home (in the line touchHomes
// loaded).
func (x *keyIndex) touchKeys(hs []uint64) uint64 {
	var sink uint64
	tab, shift, smask, mask := x.tab, x.shift, x.smask, len(x.tab)-1
	for _, h := range hs {
		tag := x.tag(h)
		for p := int(h >> shift); ; p = (p + 1) & mask {
			e := tab[p]
			if e == 0 {
				break
			}
			if e&^smask == tag {
				s := int(e&smask - 1)
				for _, col := range x.key {
					sink += touchSlot(&x.cols[col], s)
				}
				break
			}
		}
	}
	return sink
}

// findInts is Find over the int index: the key is the one column of the
// probe's reader of the key column. With blocks, like keyIndex.findRows,
// it works in blocks of findBlock rows, loading each row's home entry,
// then the key at the slot it names, before resolving the rows.
func (s *Store) findInts(p *KeyProbe, slots []uint32, blocks bool) {
	r := &p.rd[s.key[0]]
	x := &s.iidx
	n := len(slots)
	var sink uint64
	for lo := 0; lo < n; lo += findBlock {
		hi := min(lo+findBlock, n)
		if blocks && x.n > 0 {
			sink += x.touch(r, lo, hi)
		}
		for i := lo; i < hi; i++ {
			if r.nulls && r.arr.IsNull(i) {
				slots[i] = NoSlot
				if s.nullSlot >= 0 {
					slots[i] = uint32(s.nullSlot)
				}
				continue
			}
			var k int64
			if r.i64 != nil {
				k = r.i64[i]
			} else {
				k = int64(r.i32[i])
			}
			if slot, ok := x.find(k); ok {
				slots[i] = slot
			} else {
				slots[i] = NoSlot
			}
		}
	}
	p.sink += sink
}

// Int64s sets dst[i] to the value of column col at slots[i] (as Find
// returned them), and to 0 where slots[i] is NoSlot or the value is NULL.
// The column must be BIGINT, INT, TIMESTAMP or DATE; len(dst) must be
// len(slots). Like Find, it only reads the store.
func (s *Store) Int64s(col int, slots []uint32, dst []int64) error {
	if s.bad != nil {
		return s.bad
	}
	if col < 0 || col >= len(s.cols) || len(dst) != len(slots) {
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "store: Int64s of column %d (%d columns) into %d values for %d slots", col, len(s.cols), len(dst), len(slots))
	}
	c := &s.cols[col]
	hasNulls := len(c.nulls) > 0
	switch c.st {
	case stI64:
		vals := c.i64
		for i, slot := range slots {
			if slot == NoSlot || hasNulls && c.isNull(int(slot)) {
				dst[i] = 0
				continue
			}
			dst[i] = vals[slot]
		}
	case stI32:
		vals := c.i32
		for i, slot := range slots {
			if slot == NoSlot || hasNulls && c.isNull(int(slot)) {
				dst[i] = 0
				continue
			}
			dst[i] = int64(vals[slot])
		}
	default:
		return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "store: Int64s of column %q of type %s", s.schema[col].Name, s.schema[col].Type)
	}
	return nil
}
