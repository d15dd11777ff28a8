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
	free  []uint32
	slots int // slots allocated
	bound arrow.RecordBatch
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

// Add copies row i of the bound record into a free slot and returns it.
func (c *Columns) Add(i int) uint32 {
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
	for k := range c.cols {
		if !c.cols[k].omit {
			c.cols[k].set(int(slot), &c.rd[k], i)
		}
	}
	return slot
}

// Remove frees slot for reuse.
func (c *Columns) Remove(slot uint32) {
	for k := range c.cols {
		if !c.cols[k].omit {
			c.cols[k].clear(int(slot))
		}
	}
	c.free = append(c.free, slot)
}

// Len is the number of rows held.
func (c *Columns) Len() int { return c.slots - len(c.free) }

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
}
