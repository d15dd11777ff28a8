package state

import (
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/sluicedb/sluice/types"
)

// Slot sections: the rows of a slot store (Columns, Store) as a section
// with a "slot" uint32 column, one column per stored column (its SQL
// type's Arrow type) and, for multisets, a "copies" uint32 column, one
// row per live slot in slot order; then a section name+".free" holding
// the free list (a "slot" uint32 column) in order. Slot numbers and the
// free list survive a round trip, so slots held elsewhere (a join's
// index, a session's rows) stay valid and later allocations match.

// slotSchema is the schema of a slot section.
func slotSchema(names []string, ts []types.T, copies bool) *arrow.Schema {
	fields := make([]arrow.Field, 0, len(ts)+2)
	fields = append(fields, arrow.Field{Name: "slot", Type: arrow.PrimitiveTypes.Uint32})
	for i, t := range ts {
		name := fmt.Sprintf("c%d", i)
		if names != nil {
			name = names[i]
		}
		fields = append(fields, arrow.Field{Name: name, Type: t.Arrow(), Nullable: true})
	}
	if copies {
		fields = append(fields, arrow.Field{Name: "copies", Type: arrow.PrimitiveTypes.Uint32})
	}
	return arrow.NewSchema(fields, nil)
}

var freeSchema = arrow.NewSchema([]arrow.Field{{Name: "slot", Type: arrow.PrimitiveTypes.Uint32}}, nil)

// maxBatchStringBytes bounds the string bytes of one batch of a section.
const maxBatchStringBytes = 1 << 28

// batchEnd returns the end of the batch of live slots starting at start.
func batchEnd(cols []column, live []uint32, start int) int {
	end := min(start+SnapshotBatchRows, len(live))
	for k := range cols {
		if cols[k].st != stStr {
			continue
		}
		n := 0
		for i := start; i < end; i++ {
			n += len(cols[k].strs[live[i]])
			if n > maxBatchStringBytes && i > start {
				end = i
				break
			}
		}
	}
	return end
}

// writeSlots writes the live slots' rows (with copies[slot] when copies
// is not nil) as section name, and free as section name+".free".
func writeSlots(sw *SnapshotWriter, name string, schema *arrow.Schema, cols []column, live, copies, free []uint32) error {
	ub := array.NewUint32Builder(sw.mem)
	defer ub.Release()
	if err := sw.Begin(name, schema); err != nil {
		return err
	}
	arrs := make([]arrow.Array, 0, len(cols)+2)
	for start := 0; start < len(live); {
		end := batchEnd(cols, live, start)
		batch := live[start:end]
		start = end
		ub.AppendValues(batch, nil)
		arrs = append(arrs[:0], ub.NewArray())
		for k := range cols {
			a, err := cols[k].gatherSlots(sw.mem, schema.Field(1+k).Type, batch)
			if err != nil {
				ReleaseAll(arrs)
				return fmt.Errorf("snapshot: section %q: %w", name, err)
			}
			arrs = append(arrs, a)
		}
		if copies != nil {
			ub.Reserve(len(batch))
			for _, s := range batch {
				ub.UnsafeAppend(copies[s])
			}
			arrs = append(arrs, ub.NewArray())
		}
		rec := NewRecord(schema, arrs, len(batch))
		err := sw.Write(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	if err := sw.End(); err != nil {
		return err
	}
	fb := array.NewUint32Builder(sw.mem)
	defer fb.Release()
	if err := sw.Begin(name+".free", freeSchema); err != nil {
		return err
	}
	for start := 0; start < len(free); start += SnapshotBatchRows {
		fb.AppendValues(free[start:min(start+SnapshotBatchRows, len(free))], nil)
		arr := fb.NewArray()
		rec := array.NewRecordBatch(freeSchema, []arrow.Array{arr}, int64(arr.Len()))
		arr.Release()
		err := sw.Write(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return sw.End()
}

// slotImage is a slot store read back from a snapshot.
type slotImage struct {
	cols   []column
	n      int      // slots
	live   []uint64 // bit set of live slots
	nLive  int
	copies []uint32 // per slot (multisets), else nil
	free   []uint32
}

func (m *slotImage) isLive(s uint32) bool {
	w := int(s >> 6)
	return w < len(m.live) && m.live[w]&(1<<(s&63)) != 0
}

func (m *slotImage) growTo(n int) {
	if m.n >= n {
		return
	}
	for k := range m.cols {
		m.cols[k].extendTo(n)
	}
	if m.copies != nil {
		m.copies = extendTo(m.copies, n)
	}
	m.n = n
	m.live = extendTo(m.live, (n+63)/64)
}

// extendTo grows s to length n with zero values, at least doubling its
// capacity when it must reallocate.
func extendTo[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n > cap(s) {
		t := make([]T, len(s), max(n, 2*cap(s)))
		copy(t, s)
		s = t
	}
	return s[:n]
}

// extendTo grows the column to n zero slots.
func (c *column) extendTo(n int) {
	switch c.st {
	case stI64:
		c.i64 = extendTo(c.i64, n)
	case stI32:
		c.i32 = extendTo(c.i32, n)
	case stBool:
		c.bools = extendTo(c.bools, n)
	case stF64:
		c.f64 = extendTo(c.f64, n)
	case stStr:
		c.strs = extendTo(c.strs, n)
	default:
		c.decs = extendTo(c.decs, n)
	}
}

// readSlots reads the sections writeSlots wrote for columns of types ts.
func readSlots(sr *SnapshotReader, name string, schema *arrow.Schema, ts []types.T, withCopies bool) (*slotImage, error) {
	m := &slotImage{cols: make([]column, len(ts))}
	for k, t := range ts {
		col, err := newColumn(t)
		if err != nil {
			return nil, fmt.Errorf("snapshot: section %q: %w", name, err)
		}
		m.cols[k] = col
	}
	if withCopies {
		m.copies = []uint32{}
	}
	rd := make([]reader, len(ts))
	next := int64(0) // slots must be strictly increasing
	err := sr.Section(name, schema, func(rec arrow.RecordBatch) error {
		slots := rec.Column(0).(*array.Uint32)
		if slots.NullN() > 0 {
			return corrupt("NULL slot")
		}
		for k := range rd {
			rd[k].reset(rec.Column(1 + k))
		}
		var copies *array.Uint32
		if withCopies {
			copies = rec.Column(1 + len(ts)).(*array.Uint32)
			if copies.NullN() > 0 {
				return corrupt("NULL copies")
			}
		}
		for i, s := range slots.Uint32Values() {
			if int64(s) < next || s == NoSlot {
				return corrupt("slot %d out of order", s)
			}
			next = int64(s) + 1
			m.growTo(int(s) + 1)
			for k := range m.cols {
				m.cols[k].set(int(s), &rd[k], i)
			}
			if copies != nil {
				c := copies.Value(i)
				if c == 0 {
					return corrupt("slot %d has no copies", s)
				}
				m.copies[s] = c
			}
			m.live[s>>6] |= 1 << (s & 63)
			m.nLive++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = sr.Section(name+".free", freeSchema, func(rec arrow.RecordBatch) error {
		slots := rec.Column(0).(*array.Uint32)
		if slots.NullN() > 0 {
			return corrupt("NULL free slot")
		}
		for _, s := range slots.Uint32Values() {
			if s == NoSlot {
				return corrupt("free slot %d", s)
			}
			m.growTo(int(s) + 1)
			if m.isLive(s) {
				return corrupt("free slot %d is live or listed twice", s)
			}
			m.live[s>>6] |= 1 << (s & 63) // marks it seen; cleared below
			m.free = append(m.free, s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.nLive+len(m.free) != m.n {
		return nil, corrupt("section %q: %d live and %d free slots of %d", name, m.nLive, len(m.free), m.n)
	}
	for _, s := range m.free {
		m.live[s>>6] &^= 1 << (s & 63)
	}
	return m, nil
}

// SnapshotTo writes c's rows to sw as section name (a "slot" column, then
// columns c0, c1, ... of c's types, one row per live slot in slot order)
// and section name+".free" (the free list). It may be called with a
// record bound; the bound record is not written.
func (c *Columns) SnapshotTo(sw *SnapshotWriter, name string) error {
	live := make([]uint32, 0, c.Len())
	c.ForEachLive(func(s uint32) { live = append(live, s) })
	free := c.free
	if c.page != 0 {
		// Every slot holding no row, in order: the same section as
		// without pages.
		free = make([]uint32, 0, c.slots-c.live)
		for s := 0; s < c.slots; s++ {
			if !c.isUsed(uint32(s)) {
				free = append(free, uint32(s))
			}
		}
	}
	return writeSlots(sw, name, slotSchema(nil, c.types, false), c.cols, live, nil, free)
}

// RestoreFrom replaces c's rows with those SnapshotTo wrote as section
// name, keeping every slot number and the free list, so slots held
// elsewhere stay valid. On error c is left unchanged (and an error
// wrapping ErrCorrupt says the data was damaged). It unbinds c.
func (c *Columns) RestoreFrom(sr *SnapshotReader, name string) error {
	m, err := readSlots(sr, name, slotSchema(nil, c.types, false), c.types, false)
	if err != nil {
		return err
	}
	c.Unbind()
	c.cols, c.free, c.slots = m.cols, m.free, m.n
	if c.page != 0 {
		c.restorePages(m)
	}
	return nil
}

// restorePages sets up the pages over restored rows, which may have been
// written without pages: the slots are rounded up to whole pages, and the
// pages holding no row are free.
func (c *Columns) restorePages(m *slotImage) {
	c.slots = (m.n + int(c.page) - 1) &^ (int(c.page) - 1)
	for k := range c.cols {
		if !c.cols[k].omit {
			c.cols[k].extendTo(c.slots)
		}
	}
	c.used = make([]uint64, (c.slots+63)/64)
	copy(c.used, m.live)
	c.live, c.loose = m.nLive, NoSlot
	c.free = c.free[:0]
	for first := 0; first < c.slots; first += int(c.page) {
		if c.pageFree(uint32(first)) {
			c.free = append(c.free, uint32(first))
		}
	}
	slices.Reverse(c.free) // the lowest pages are taken first
}

// Slots is the number of slots allocated: live ones and free ones.
// Without pages, Add returns a new slot, equal to Slots, only when no
// slot is free; with pages, a new page is allocated when no page is
// wholly free and the row cannot go beside its neighbour.
func (c *Columns) Slots() int { return c.slots }

// ForEachLive calls fn with every live slot (holding a row), in
// increasing order: to rebuild an index over restored rows.
func (c *Columns) ForEachLive(fn func(slot uint32)) {
	if c.page != 0 {
		for s := 0; s < c.slots; s++ {
			if c.isUsed(uint32(s)) {
				fn(uint32(s))
			}
		}
		return
	}
	freeBits := make([]uint64, (c.slots+63)/64)
	for _, s := range c.free {
		freeBits[s>>6] |= 1 << (s & 63)
	}
	for s := 0; s < c.slots; s++ {
		if freeBits[s>>6]&(1<<(s&63)) == 0 {
			fn(uint32(s))
		}
	}
}
