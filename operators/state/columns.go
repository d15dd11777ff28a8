package state

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// NoSlot stands for a missing row: in GatherSlots every column gathers a
// NULL (the padding of an outer join); Find sets it for a key not held.
// It is operators.NoSlot, as in a chunk's SlotHint.
const NoSlot = operators.NoSlot

// Columns holds rows of fixed SQL types in columnar slots, reusing the
// slots of removed rows: the row storage of operators that keep their
// input (joins), without an index of its own. Rows are copied in from the
// record last passed to Bind and gathered out into new Arrow arrays a
// column at a time (GatherSlots, GatherRows).
//
// Columns is not safe for concurrent use.
type Columns struct {
	types []types.T
	ids   []arrow.Type
	cols  []column
	rd    []reader
	// free holds the free slots (a stack); with pages (see Paginate),
	// the first slots of the wholly free pages.
	free  []uint32
	slots int // slots allocated
	bound arrow.RecordBatch

	// With pages: page is the slots per page (a power of two, else 0),
	// used a bit per slot holding a row, live the rows held, and loose
	// the slot last filled for a row without a neighbour (see AddAfter).
	page  uint32
	used  []uint64
	live  int
	loose uint32
}

// NewColumns returns an empty store for rows of ts, or an error if a type
// cannot be stored (INTERVAL).
func NewColumns(ts []types.T) (*Columns, error) {
	c := &Columns{types: ts, ids: make([]arrow.Type, len(ts)), cols: make([]column, len(ts)), rd: make([]reader, len(ts))}
	for i, t := range ts {
		col, err := newColumn(t)
		if err != nil {
			return nil, fmt.Errorf("column %d: %w", i, err)
		}
		c.cols[i] = col
		c.ids[i] = t.Arrow().ID()
	}
	return c, nil
}

// Bind checks rec has the store's column types and makes it the source of
// Add, Equal, GatherRows and GatherRowsColumn until the next Bind. The caller keeps rec
// alive while it is bound.
func (c *Columns) Bind(rec arrow.RecordBatch) error {
	if int(rec.NumCols()) != len(c.types) {
		return fmt.Errorf("record has %d columns, want %d", rec.NumCols(), len(c.types))
	}
	for i, id := range c.ids {
		if got := rec.Column(i).DataType(); got.ID() != id {
			return fmt.Errorf("column %d is %s, want %s", i, got, c.types[i])
		}
	}
	for i := range c.rd {
		c.rd[i].reset(rec.Column(i))
	}
	c.bound = rec
	return nil
}

// Omit makes the store keep no values of column col: the owner keeps
// them elsewhere (a join keeps a row's event time beside its key chain
// link), so storing them here would hold every value twice. The column
// is still bound (GatherRows and GatherRowsColumn read it), but Add does
// not copy it, Equal does not compare it, the slot gathers fail on it and
// Datum panics on it. Omit must be called before the first Add.
func (c *Columns) Omit(col int) error {
	if col < 0 || col >= len(c.cols) {
		return fmt.Errorf("omit column %d: out of range", col)
	}
	if c.slots > 0 {
		return fmt.Errorf("omit column %d: the store already holds rows", col)
	}
	c.cols[col].omit = true
	return nil
}

// Omitted reports whether column col keeps no values (see Omit).
func (c *Columns) Omitted(col int) bool { return c.cols[col].omit }

// Paginate makes the store allocate its slots in pages of n consecutive
// slots (n a power of two, 2 to 64) so that AddAfter can put a row beside
// a related one: an owner that walks rows by a chain of slots (a join's
// rows of one key) then finds several links in one cache line instead of
// one link per cache miss. A page returns to use only when all its rows
// are removed; the slots of a page its owner moved on from stay unused
// until then. Paginate must be called before the first Add.
func (c *Columns) Paginate(n int) error {
	if n < 2 || n > 64 || n&(n-1) != 0 {
		return fmt.Errorf("paginate: %d slots a page, want a power of two from 2 to 64", n)
	}
	if c.slots > 0 {
		return fmt.Errorf("paginate: the store already holds rows")
	}
	c.page, c.loose = uint32(n), NoSlot
	return nil
}

// AddAfter copies row i of the bound record into the slot right after
// prev when that slot is on prev's page and free, and returns the slot.
// Otherwise a row beside a live prev (a chain whose page is full) starts
// a free page of its own, and a row with no live neighbour (prev NoSlot,
// or a slot holding no row) is packed beside the last such row, so that
// rows without neighbours do not strand a page each. Without pages it is
// Add.
func (c *Columns) AddAfter(i int, prev uint32) uint32 {
	if c.page == 0 {
		return c.Add(i)
	}
	var slot uint32
	switch {
	case c.follows(prev):
		slot = prev + 1
	case c.holds(prev):
		slot = c.newPage()
	default:
		if c.follows(c.loose) {
			slot = c.loose + 1
		} else {
			slot = c.newPage()
		}
		c.loose = slot
	}
	c.used[slot>>6] |= 1 << (slot & 63)
	c.live++
	c.setRow(slot, i)
	return slot
}

// holds reports whether slot (any value) holds a row (with pages).
func (c *Columns) holds(slot uint32) bool {
	return slot != NoSlot && int(slot) < c.slots && c.isUsed(slot)
}

// follows reports whether the slot after slot is free and on its page,
// slot holding a row (with pages).
func (c *Columns) follows(slot uint32) bool {
	nx := slot + 1
	return c.holds(slot) && nx&(c.page-1) != 0 && !c.isUsed(nx)
}

// isUsed reports whether slot (below c.slots) holds a row (with pages).
func (c *Columns) isUsed(slot uint32) bool { return c.used[slot>>6]&(1<<(slot&63)) != 0 }

// newPage returns the first slot of a wholly free page, allocating one
// when none is free.
func (c *Columns) newPage() uint32 {
	if n := len(c.free); n > 0 {
		first := c.free[n-1]
		c.free = c.free[:n-1]
		return first
	}
	first := uint32(c.slots)
	c.slots += int(c.page)
	for k := range c.cols {
		if !c.cols[k].omit {
			for range c.page {
				c.cols[k].grow() // append's growth: not double the capacity
			}
		}
	}
	c.used = extendTo(c.used, (c.slots+63)/64)
	return first
}

// setRow copies row i of the bound record into slot.
func (c *Columns) setRow(slot uint32, i int) {
	for k := range c.cols {
		if !c.cols[k].omit {
			c.cols[k].set(int(slot), &c.rd[k], i)
		}
	}
}

// Add copies row i of the bound record into a free slot and returns it.
// With pages (see Paginate) it is AddAfter with no neighbour.
func (c *Columns) Add(i int) uint32 {
	if c.page != 0 {
		return c.AddAfter(i, NoSlot)
	}
	var slot uint32
	if n := len(c.free); n > 0 {
		slot = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		slot = uint32(c.slots)
		c.slots++
		for k := range c.cols {
			if !c.cols[k].omit {
				c.cols[k].grow()
			}
		}
	}
	c.setRow(slot, i)
	return slot
}

// Remove frees slot for reuse.
func (c *Columns) Remove(slot uint32) {
	for k := range c.cols {
		if !c.cols[k].omit {
			c.cols[k].clear(int(slot))
		}
	}
	if c.page == 0 {
		c.free = append(c.free, slot)
		return
	}
	c.used[slot>>6] &^= 1 << (slot & 63)
	c.live--
	if c.pageFree(slot) {
		c.free = append(c.free, slot&^(c.page-1))
	}
}

// pageFree reports whether the page of slot holds no row.
func (c *Columns) pageFree(slot uint32) bool {
	first := slot &^ (c.page - 1)
	mask := uint64(1)<<c.page - 1 // all ones for 64 pages: the shift gives 0
	return c.used[first>>6]>>(first&63)&mask == 0
}

// Len is the number of rows held.
func (c *Columns) Len() int {
	if c.page != 0 {
		return c.live
	}
	return c.slots - len(c.free)
}

// Equal reports whether slot holds the same values as row i of the bound
// record (NULL equal to NULL, doubles by key identity), omitted columns
// aside.
func (c *Columns) Equal(slot uint32, i int) bool {
	for k := range c.cols {
		if !c.cols[k].omit && !c.cols[k].equalReader(int(slot), &c.rd[k], i) {
			return false
		}
	}
	return true
}

// Datum returns column col of the row at slot. Like a slot or column out
// of range, asking for an omitted column (see Omit) is a bug in the
// caller, not a condition to handle: Datum panics, saying which column,
// rather than read storage the column does not have. A caller that omits
// a column keeps its values itself and checks Omitted first.
func (c *Columns) Datum(slot uint32, col int) types.Datum {
	if c.cols[col].omit {
		panic(fmt.Sprintf("state: Datum of column %d (%s), which is omitted and holds no values", col, c.types[col]))
	}
	return c.cols[col].datum(int(slot))
}

// Unbind forgets the bound record, so the store keeps no reference to it.
func (c *Columns) Unbind() {
	for k := range c.rd {
		c.rd[k] = reader{}
	}
	c.bound = nil
}

// Reset drops every row and the bound record.
func (c *Columns) Reset() {
	for k := range c.cols {
		c.cols[k] = column{st: c.cols[k].st, t: c.cols[k].t, omit: c.cols[k].omit}
		c.rd[k] = reader{}
	}
	c.free = nil
	c.slots = 0
	c.bound = nil
	c.used, c.live, c.loose = nil, 0, NoSlot
}
