// Package operators is Sluice's data plane: the streaming operators that
// consume and emit messages (Chunk, Watermark, Barrier) over Arrow record
// batches. No operator knows SQL text, the catalog or the network; the
// executor builds and wires them from a physical plan.
package operators

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Op is the change a row of a Chunk carries.
type Op uint8

// The row changes. An update travels as an adjacent UpdateBefore,
// UpdateAfter pair with the same key.
const (
	Insert Op = iota
	Delete
	UpdateBefore
	UpdateAfter
)

// String returns the op's short name as SUBSCRIBE prints it.
func (o Op) String() string {
	switch o {
	case Insert:
		return "insert"
	case Delete:
		return "delete"
	case UpdateBefore:
		return "update_before"
	case UpdateAfter:
		return "update_after"
	}
	return fmt.Sprintf("Op(%d)", o)
}

// IsRetract reports whether o removes a row (Delete or UpdateBefore).
func (o Op) IsRetract() bool { return o == Delete || o == UpdateBefore }

// Sign is +1 for an op that adds a row and -1 for one that removes it.
func (o Op) Sign() int64 {
	if o.IsRetract() {
		return -1
	}
	return 1
}

// Message is what flows between operators: *Chunk, Watermark or Barrier.
type Message interface{ isMessage() }

// Chunk is a batch of row changes: an Arrow record plus an op per row.
// Ops is nil for an append-only batch (every row an Insert), which lets
// operators take a fast path.
//
// Ownership: a Chunk is lent to Push for the duration of the call. An
// operator that keeps the record past the call must Retain it (and Release
// it later); the sender releases its own reference after Push returns.
type Chunk struct {
	Rec arrow.RecordBatch
	Ops []Op
	// Slots, when not nil, says where the rows already are in the store
	// of the view the chunk changes. Operators that keep rows one for
	// one (Project) pass it on; others drop it.
	Slots *SlotHint
}

// NoSlot is a SlotHint entry for a row whose key the store does not hold.
const NoSlot = ^uint32(0)

// SlotHint tells a view's store (state.Store) where a chunk's rows are:
// Slots[i] is the slot holding row i's key, or NoSlot, as found in the
// store whose ID is Store while its slot generation was Gen. The store
// uses a slot instead of looking the key up only while both still match,
// that is, while no slot has been freed or moved since. A
// committed-backed aggregate sets it from the slots it found when it read
// its old results back from the view's store.
type SlotHint struct {
	Store, Gen uint64
	Slots      []uint32
}

func (*Chunk) isMessage() {}

// Len is the number of rows.
func (c *Chunk) Len() int { return int(c.Rec.NumRows()) }

// Op returns the op of row i.
func (c *Chunk) Op(i int) Op {
	if c.Ops == nil {
		return Insert
	}
	return c.Ops[i]
}

// AppendOnly reports whether every row is an Insert.
func (c *Chunk) AppendOnly() bool { return c.Ops == nil }

// Watermark says no row with Column's value below Time (microseconds since
// the epoch) will follow. Column is the index in the sender's output schema;
// an operator that reorders columns remaps it.
type Watermark struct {
	Column int
	Time   int64
}

func (Watermark) isMessage() {}

// Barrier marks the end of an epoch. It is injected at every source
// together; a multi-input operator forwards it once it has arrived on every
// input. Stateful operators emit the epoch's pending changes before
// forwarding it.
type Barrier struct {
	Epoch uint64
	// Now is the wall-clock time of the barrier in microseconds since the
	// epoch: the value of NOW() for the epoch's processing (temporal
	// filters retract rows as it passes them). Zero in bounded queries.
	Now int64
	// Checkpoint asks operators to persist their state at this barrier.
	Checkpoint bool
}

func (Barrier) isMessage() {}

// SettleNullCounts computes every column's null count now. Arrow computes
// a count it was not given lazily, on the first NullN call, and stores it
// in the array: a write. A record handed to several goroutines (a table's
// batch to every view reading it, a view's changes to the commit and to
// the views reading it) is settled first, so that readers only read.
func SettleNullCounts(rec arrow.RecordBatch) {
	for _, col := range rec.Columns() {
		col.NullN()
	}
}
