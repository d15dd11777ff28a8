package optest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// Harness drives one operator under test: it pushes rows of Go values (in
// chunks of Batch rows), watermarks, barriers and script Steps into
// Input, and renders the epochs Out collected. Its methods fail T on an
// error from the operator, except Feed and Step, which return it.
type Harness struct {
	T        testing.TB
	Mem      memory.Allocator
	Input    operators.Output // the operator under test (or its input port)
	InSchema *arrow.Schema    // the schema of the rows pushed
	Out      *Collector       // the operator's output; nil if not collected
	Batch    int              // rows per chunk pushed; <= 0: all at once
	Epoch    uint64           // the epoch of the last barrier sent
	// Render renders an epoch's rows for Barrier, Pending and Expect;
	// nil means ChangeLines with Out's Format.
	Render func(rows []OutRow) []string
}

func (h *Harness) render(rows []OutRow) []string {
	if h.Render != nil {
		return h.Render(rows)
	}
	return ChangeLines(rows, h.Out.Format)
}

// Feed pushes rows with ops (nil: inserts) in chunks of batch rows and
// returns the operator's error.
func (h *Harness) Feed(rows [][]types.Datum, ops []operators.Op, batch int) error {
	return Feed(h.Mem, h.Input, h.InSchema, rows, ops, batch)
}

// Push pushes rows that all carry op, in chunks of Batch rows.
func (h *Harness) Push(op operators.Op, rows ...[]types.Datum) {
	h.T.Helper()
	if err := h.Feed(rows, OpsOf(op, len(rows)), h.Batch); err != nil {
		h.T.Fatalf("push: %v", err)
	}
}

// PushOps pushes rows with ops (nil: inserts), in chunks of Batch rows.
func (h *Harness) PushOps(ops []operators.Op, rows ...[]types.Datum) {
	h.T.Helper()
	if err := h.Feed(rows, ops, h.Batch); err != nil {
		h.T.Fatalf("push: %v", err)
	}
}

// Watermark sends a watermark on column col.
func (h *Harness) Watermark(col int, t int64) {
	h.T.Helper()
	if err := h.Input.Push(operators.Watermark{Column: col, Time: t}); err != nil {
		h.T.Fatalf("watermark: %v", err)
	}
}

// Barrier ends the epoch and returns its rendered output.
func (h *Harness) Barrier() []string {
	h.T.Helper()
	return h.BarrierAt(0)
}

// BarrierAt ends the epoch with a barrier whose Now is now and returns
// its rendered output.
func (h *Harness) BarrierAt(now int64) []string {
	h.T.Helper()
	h.Epoch++
	if err := h.Input.Push(operators.Barrier{Epoch: h.Epoch, Now: now}); err != nil {
		h.T.Fatalf("barrier: %v", err)
	}
	if h.Out == nil {
		return nil
	}
	return h.render(h.Out.LastEpoch())
}

// Pending returns the rendered output since the last barrier.
func (h *Harness) Pending() []string { return h.render(h.Out.Pending) }

// Expect ends the epoch and checks its output is want, in any order.
func (h *Harness) Expect(want ...string) {
	h.T.Helper()
	got := h.Barrier()
	CheckLines(h.T, fmt.Sprintf("epoch %d", h.Epoch), got, want...)
}

// Step is one input message of a test script: a barrier when Epoch > 0
// (with Now), else a watermark when Watermark is set, else a chunk of
// Rows with Ops (nil: inserts) pushed in chunks of Batch rows (<= 0: at
// once).
type Step struct {
	Rows      [][]types.Datum
	Ops       []operators.Op
	Batch     int
	Watermark *operators.Watermark
	Epoch     uint64
	Now       int64
}

// ChunkSteps cuts rows (row i with ops[i]) into Steps of 1 to maxRows
// rows, sizes drawn with r. With keepPairs a step that would end between
// an UpdateBefore and its UpdateAfter takes the UpdateAfter too.
func ChunkSteps(r *rand.Rand, rows [][]types.Datum, ops []operators.Op, maxRows int, keepPairs bool) []Step {
	var steps []Step
	for start := 0; start < len(rows); {
		end := min(len(rows), start+1+r.IntN(maxRows))
		if keepPairs && end < len(rows) && ops[end] == operators.UpdateAfter {
			end++
		}
		steps = append(steps, Step{Rows: rows[start:end], Ops: ops[start:end]})
		start = end
	}
	return steps
}

// IsBarrier reports whether s is a barrier.
func (s Step) IsBarrier() bool { return s.Epoch > 0 }

// Step pushes s and returns the operator's error.
func (h *Harness) Step(s Step) error {
	switch {
	case s.IsBarrier():
		h.Epoch = s.Epoch
		return h.Input.Push(operators.Barrier{Epoch: s.Epoch, Now: s.Now})
	case s.Watermark != nil:
		return h.Input.Push(*s.Watermark)
	default:
		return h.Feed(s.Rows, s.Ops, s.Batch)
	}
}

// Run pushes steps in order.
func (h *Harness) Run(steps ...Step) {
	h.T.Helper()
	for _, s := range steps {
		if err := h.Step(s); err != nil {
			h.T.Fatal(err)
		}
	}
}

// CloseAtEnd checks, when t ends, that op closes without error twice
// (Close is idempotent) and then, when mem is not nil, that everything
// allocated from mem was released.
func CloseAtEnd(t testing.TB, op interface{ Close() error }, mem *memory.CheckedAllocator) {
	t.Cleanup(func() {
		if err := op.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := op.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if mem != nil {
			mem.AssertSize(t, 0)
		}
	})
}
