package agg

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// intTable maps an int64 group key to its group id: open addressing with
// linear probing over a power-of-two array of gid+1 (0 = empty). The keys
// themselves live in the aggregate's per-group key slice, so a slot costs
// 4 bytes.
type intTable struct {
	slots []uint32
	mask  uint64
	shift uint // 64 - log2(len(slots))
	n     int
	limit int // grow past this many entries (3/4 load)
}

func (t *intTable) init(logSize uint) {
	size := 1 << logSize
	t.slots = make([]uint32, size)
	t.mask = uint64(size - 1)
	t.shift = 64 - logSize
	t.n = 0
	t.limit = size / 4 * 3
}

// home is the first slot probed for k (Fibonacci hashing).
func (t *intTable) home(k int64) uint64 {
	return (uint64(k) * 0x9E3779B97F4A7C15) >> t.shift
}

// rehash doubles the table and reinserts every entry.
func (t *intTable) rehash(keys []int64) {
	old := t.slots
	n := t.n
	t.init(uint(64-t.shift) + 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := t.home(keys[s-1])
		for t.slots[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = s
	}
	t.n = n
}

// remove deletes group g (whose key is keys[g]) with backward-shift
// deletion, so probe chains stay unbroken without tombstones.
func (t *intTable) remove(g uint32, keys []int64) {
	i := t.home(keys[g])
	for t.slots[i] != g+1 {
		if t.slots[i] == 0 {
			return
		}
		i = (i + 1) & t.mask
	}
	j := i
	for {
		j = (j + 1) & t.mask
		s := t.slots[j]
		if s == 0 {
			break
		}
		k := t.home(keys[s-1])
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (i <= j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
			continue
		}
		t.slots[i] = s
		i = j
	}
	t.slots[i] = 0
	t.n--
}

// keyEncoder encodes the group columns of each row of a batch into one
// byte buffer, column by column: per column a 0 (NULL) or 1 byte, then for
// a non-NULL value 8 bytes (integer-like, DOUBLE as canonical bits), 16
// (DECIMAL) or a 4-byte length and the bytes (VARCHAR).
type keyEncoder struct {
	cols  []int
	types []types.T
	buf   []byte
	off   []int32 // row i's key is buf[off[i]:off[i+1]]
	cur   []int32
	ints  []int64
}

func keyWidth(t types.T) int {
	switch t.Kind {
	case types.Decimal:
		return 16
	case types.Varchar:
		return -1
	}
	return 8
}

func (e *keyEncoder) encode(rec arrow.RecordBatch, n int) error {
	off := growSlice(&e.off, n+1)
	clear(off)
	// Pass 1: lengths.
	for ci, c := range e.cols {
		col := rec.Column(c)
		bits, boff := validity(col)
		w := keyWidth(e.types[ci])
		if w < 0 {
			s, ok := col.(*array.String)
			if !ok {
				return errArray(col, "a VARCHAR column")
			}
			for i := 0; i < n; i++ {
				if bits != nil && !isValid(bits, boff+i) {
					off[i+1]++
				} else {
					off[i+1] += 5 + int32(s.ValueLen(i))
				}
			}
			continue
		}
		for i := 0; i < n; i++ {
			if bits != nil && !isValid(bits, boff+i) {
				off[i+1]++
			} else {
				off[i+1] += 1 + int32(w)
			}
		}
	}
	for i := 1; i <= n; i++ {
		off[i] += off[i-1]
	}
	buf := growSlice(&e.buf, int(off[n]))
	cur := growSlice(&e.cur, n)
	copy(cur, off[:n])
	// Pass 2: values, one column at a time.
	for ci, c := range e.cols {
		col := rec.Column(c)
		bits, boff := validity(col)
		t := e.types[ci]
		switch {
		case t.Kind == types.Varchar:
			s := col.(*array.String)
			for i := 0; i < n; i++ {
				p := cur[i]
				if bits != nil && !isValid(bits, boff+i) {
					buf[p] = 0
					cur[i] = p + 1
					continue
				}
				v := s.Value(i)
				buf[p] = 1
				binary.LittleEndian.PutUint32(buf[p+1:], uint32(len(v)))
				copy(buf[p+5:], v)
				cur[i] = p + 5 + int32(len(v))
			}
		case t.Kind == types.Decimal:
			d, ok := col.(*array.Decimal128)
			if !ok {
				return errArray(col, "a DECIMAL column")
			}
			vs := d.Values()
			for i := 0; i < n; i++ {
				p := cur[i]
				if bits != nil && !isValid(bits, boff+i) {
					buf[p] = 0
					cur[i] = p + 1
					continue
				}
				buf[p] = 1
				binary.LittleEndian.PutUint64(buf[p+1:], vs[i].LowBits())
				binary.LittleEndian.PutUint64(buf[p+9:], uint64(vs[i].HighBits()))
				cur[i] = p + 17
			}
		default:
			var vs []int64
			var err error
			if t.Kind == types.Double {
				vs, err = floatBitsFamily.read(col, &e.ints)
			} else {
				vs, err = readInts(col, &e.ints)
			}
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				p := cur[i]
				if bits != nil && !isValid(bits, boff+i) {
					buf[p] = 0
					cur[i] = p + 1
					continue
				}
				buf[p] = 1
				binary.LittleEndian.PutUint64(buf[p+1:], uint64(vs[i]))
				cur[i] = p + 9
			}
		}
	}
	return nil
}

func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

func le64(s string) uint64 {
	_ = s[7]
	return uint64(le32(s)) | uint64(le32(s[4:]))<<32
}

// decodeColumn appends key column ci of each group key in keys to b,
// reading from (and advancing) the per-key positions pos.
func decodeColumn(b array.Builder, t types.T, keys []string, pos []int) error {
	var (
		appInt func(int64)
		sb     *array.StringBuilder
		db     *array.Decimal128Builder
		fb     *array.Float64Builder
		ok     bool
		err    error
	)
	switch t.Kind {
	case types.Varchar:
		sb, ok = b.(*array.StringBuilder)
	case types.Decimal:
		db, ok = b.(*array.Decimal128Builder)
	case types.Double:
		fb, ok = b.(*array.Float64Builder)
	default:
		appInt, err = intFamily.appender(b)
		ok = err == nil
	}
	if !ok {
		return fmt.Errorf("agg: group key builder %T does not hold %s", b, t)
	}
	for r, k := range keys {
		p := pos[r]
		if p >= len(k) {
			return fmt.Errorf("agg: corrupt group key")
		}
		if k[p] == 0 {
			b.AppendNull()
			pos[r] = p + 1
			continue
		}
		p++
		switch t.Kind {
		case types.Varchar:
			l := int(le32(k[p:]))
			sb.Append(k[p+4 : p+4+l])
			pos[r] = p + 4 + l
		case types.Decimal:
			db.Append(decimal128.New(int64(le64(k[p+8:])), le64(k[p:])))
			pos[r] = p + 16
		case types.Double:
			fb.Append(math.Float64frombits(le64(k[p:])))
			pos[r] = p + 8
		default:
			appInt(int64(le64(k[p:])))
			pos[r] = p + 8
		}
	}
	return nil
}

// pairTable maps a key of two integer-like columns to its group id:
// open addressing with linear probing over a power-of-two array of
// uint32 entries, each gid+1 in the low gbits bits (0 = empty), the key's
// NULL mask in the next two and, above, a tag: the low bits of the key's
// hash. A probe reads the group's keys (one pairKV, one cache line) only
// when mask and tag match, so a mismatching entry costs no memory access
// beyond the table. gbits grows with the group ids (widen), taking tag
// bits, so 4M groups keep an 8-bit tag. Composite keys such as
// (window_start, item) are hashed and compared as two int64s, never
// encoded to bytes. Deletion shifts entries back, so closing windows
// leaves no tombstones behind.
type pairTable struct {
	slots []uint32
	mask  uint64
	shift uint
	n     int
	limit int
	gbits uint   // entry bits holding gid+1
	gmask uint32 // 1<<gbits - 1
}

// maxPairGidBits bounds gbits, leaving the NULL mask its two bits.
const maxPairGidBits = 30

func (t *pairTable) init(logSize uint) {
	size := 1 << logSize
	t.slots = make([]uint32, size)
	t.mask = uint64(size - 1)
	t.shift = 64 - logSize
	t.n = 0
	t.limit = size / 4 * 3
	if t.gbits == 0 {
		t.gbits, t.gmask = 16, 1<<16-1
	}
}

// pairHash hashes a key; NULL columns (bits of m) have value 0.
func pairHash(a, b int64, m uint8) uint64 {
	return (uint64(a)*0x9E3779B97F4A7C15 ^ uint64(b) ^ uint64(m)<<56) * 0xC2B2AE3D27D4EB4F
}

// home is the first slot probed for hash h (its top bits).
func (t *pairTable) home(h uint64) uint64 { return h >> t.shift }

// tag is the entry's bits above gid+1 for hash h and NULL mask m: the
// tag comes from the hash's low bits, the home from its high ones.
func (t *pairTable) tag(h uint64, m uint8) uint32 {
	return uint32(h)<<(t.gbits+2) | uint32(m)<<t.gbits
}

// entryNulls is the NULL mask held in entry e.
func (t *pairTable) entryNulls(e uint32) uint8 { return uint8(e>>t.gbits) & 3 }

// entryHash is the hash of the key of the group in entry e.
func (t *pairTable) entryHash(e uint32, keys *pairKeys) uint64 {
	kv := keys.kv[e&t.gmask-1]
	return pairHash(kv.a, kv.b, t.entryNulls(e))
}

// widen makes room in the entries for gid+1 up to id, retagging every
// entry in place (homes do not change). It fails past maxPairGidBits.
func (t *pairTable) widen(id uint32, keys *pairKeys) error {
	bits := t.gbits
	for bits < 32 && id>>bits != 0 {
		bits++
	}
	if bits > maxPairGidBits {
		return sqlerr.New(sqlerr.Resource, sqlerr.ProgramLimitExceeded, "agg: too many groups")
	}
	old := *t
	t.gbits, t.gmask = bits, 1<<bits-1
	for i, e := range t.slots {
		if e != 0 {
			m := old.entryNulls(e)
			t.slots[i] = t.tag(old.entryHash(e, keys), m) | e&old.gmask
		}
	}
	return nil
}

// pairKV is a group's key: both columns in one 16-byte value, so a probe
// that compares them touches one cache line.
type pairKV struct{ a, b int64 }

// pairKeys are the per-group keys a pairTable indexes. The NULL masks are
// also held in the table's entries; nulls serves the paths that start
// from a group id (emission, checkpoints).
type pairKeys struct {
	kv    []pairKV
	nulls []uint8 // bit 0: a is NULL, bit 1: b is NULL
}

func (t *pairTable) rehash(keys *pairKeys) {
	old := t.slots
	n := t.n
	t.init(uint(64-t.shift) + 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := t.home(t.entryHash(e, keys))
		for t.slots[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = e // the tag does not depend on the table size
	}
	t.n = n
}

// remove deletes group g with backward-shift deletion.
func (t *pairTable) remove(g uint32, keys *pairKeys) {
	kv := keys.kv[g]
	i := t.home(pairHash(kv.a, kv.b, keys.nulls[g]))
	for t.slots[i]&t.gmask != g+1 {
		if t.slots[i] == 0 {
			return
		}
		i = (i + 1) & t.mask
	}
	j := i
	for {
		j = (j + 1) & t.mask
		e := t.slots[j]
		if e == 0 {
			break
		}
		k := t.home(t.entryHash(e, keys))
		if (i <= j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
			continue
		}
		t.slots[i] = e
		i = j
	}
	t.slots[i] = 0
	t.n--
}
