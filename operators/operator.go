package operators

import (
	"errors"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
)

// Output receives an operator's messages: the next operator's input port,
// or a collector at the end of a pipeline.
type Output interface {
	// Push delivers one message. The message is lent for the duration of the
	// call (see Chunk). An error stops the pipeline.
	Push(msg Message) error
}

// OutputFunc adapts a function to Output.
type OutputFunc func(Message) error

// Push implements Output.
func (f OutputFunc) Push(m Message) error { return f(m) }

// Operator is one step of a streaming pipeline. It receives messages
// through Push (one input) or through the ports it exposes (several
// inputs), and sends its results to the Output it was built with.
//
// The contract every operator keeps:
//   - Push is called from one goroutine at a time; an operator starts no
//     goroutine of its own unless its doc says so, and then Close stops it.
//   - A Chunk is lent, not given (see Chunk). Records an operator emits are
//     released by the operator after the downstream Push returns.
//   - Messages an operator does not handle are passed through unchanged;
//     a Watermark's Column is remapped by operators that move columns.
//   - Stateful operators may hold changes until a Barrier and must emit
//     them before forwarding it; update pairs are emitted adjacent.
//   - Close releases all state and retained buffers and is idempotent.
type Operator interface {
	Output
	// Schema is the Arrow schema of the Chunks the operator emits.
	Schema() *arrow.Schema
	// Close releases the operator's resources.
	Close() error
}

// Checkpointer is implemented by operators that keep state between
// epochs. The executor calls Snapshot right after a checkpoint Barrier has
// passed the operator (so no changes are pending) and Restore on a freshly
// built operator before any message, when recovering.
//
// The format is the operator's own, but must be Arrow IPC streams (ipc
// package of arrow-go) of plain columns, versioned, so state can be read
// back by a later build and inspected with Arrow tools. Restore of data
// written by another operator configuration must fail with a clear error,
// never corrupt state.
type Checkpointer interface {
	Snapshot(w io.Writer) error
	Restore(r io.Reader) error
}

// ErrStateMismatch is wrapped by a Restore's error when the snapshot is
// sound but was taken by an operator of another configuration or format
// version (a plan that changed, a build that plans or stores it
// differently): the state cannot be used, and whoever holds the operator's
// inputs can rebuild it from them instead.
var ErrStateMismatch = errors.New("state of another operator configuration")
