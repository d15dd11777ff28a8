package executor

import (
	"bytes"
	"fmt"
	"runtime/debug"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/sqlerr"
)

// envelope carries a message to input port input of a fragment. A Chunk's
// record is owned by the envelope: the fragment releases it.
type envelope struct {
	input int
	msg   operators.Message
}

// epochReport is what a fragment tells the coordinator at the end of an
// epoch: the view's changes (owned by the report) or the error that
// stopped the view.
type epochReport struct {
	view    *object
	epoch   uint64
	changes []*operators.Chunk
	err     error
	// snapshots hold, at a checkpoint barrier, the state of each of the
	// fragment's operators that keeps any (by position in fragment.ops).
	snapshots [][]byte
}

// inboxSize bounds the messages queued for a fragment, so a slow view
// applies back pressure to the writers feeding it.
const inboxSize = 256

// fragment runs one view's operators on its own goroutine. Messages for
// all its inputs arrive in one inbox; barriers are aligned across inputs
// (an input that delivered barrier E is held back until every input has).
type fragment struct {
	view    *object
	inbox   chan envelope
	entries []operators.Output // per input port
	ops     []operators.Operator
	report  func(epochReport)
	done    chan struct{}
	// plan is the EXPLAIN text of the plan the operators were built from
	// (viewPlanText), recorded in checkpoints: operator state is restored
	// by position only into the same plan.
	plan string

	// Alignment state: inputs that delivered the current barrier and the
	// messages held back behind it.
	arrived   []bool
	narrived  int
	held      []envelope
	heldCount []int
	failed    error

	// emitted collects the view's changes of the epoch being finished,
	// handed over by the Materialize callback.
	emitted []*operators.Chunk
}

func newFragment(view *object, inputs int, report func(epochReport)) *fragment {
	return &fragment{
		view:      view,
		inbox:     make(chan envelope, inboxSize),
		entries:   make([]operators.Output, inputs),
		arrived:   make([]bool, inputs),
		heldCount: make([]int, inputs),
		report:    report,
		done:      make(chan struct{}),
	}
}

// start runs the fragment until its inbox is closed.
func (f *fragment) start() {
	go f.run()
}

func (f *fragment) run() {
	defer close(f.done)
	defer f.closeOps()
	for env := range f.inbox {
		if f.arrived[env.input] || f.heldCount[env.input] > 0 {
			f.hold(env)
			continue
		}
		if f.process(env) {
			f.drainHeld()
		}
	}
	for _, env := range f.held {
		releaseMsg(env.msg)
	}
}

func (f *fragment) hold(env envelope) {
	f.held = append(f.held, env)
	f.heldCount[env.input]++
}

// drainHeld processes held messages whose input is no longer blocked by a
// barrier, in arrival order per input, until none can move.
func (f *fragment) drainHeld() {
	for {
		moved := false
		blocked := make([]bool, len(f.arrived))
		for i := 0; i < len(f.held); i++ {
			env := f.held[i]
			if blocked[env.input] || f.arrived[env.input] {
				blocked[env.input] = true
				continue
			}
			f.held = append(f.held[:i], f.held[i+1:]...)
			f.heldCount[env.input]--
			f.process(env)
			moved = true
			break
		}
		if !moved {
			return
		}
	}
}

// process handles one message whose input is not held back. It reports
// whether the message completed a barrier alignment.
func (f *fragment) process(env envelope) bool {
	b, isBarrier := env.msg.(operators.Barrier)
	if !isBarrier {
		if f.failed == nil {
			if err := f.push(env.input, env.msg); err != nil {
				f.fail(err)
			}
		}
		releaseMsg(env.msg)
		return false
	}
	f.arrived[env.input] = true
	f.narrived++
	if f.narrived < len(f.arrived) {
		return false
	}
	// Aligned: the barrier passes every input port.
	for i := range f.arrived {
		f.arrived[i] = false
	}
	f.narrived = 0
	if f.failed == nil {
		for i := range f.entries {
			if err := f.push(i, b); err != nil {
				f.fail(err)
				break
			}
		}
	}
	changes := f.emitted
	f.emitted = nil
	if f.failed != nil {
		for _, c := range changes {
			c.Rec.Release()
		}
		changes = nil
	}
	f.sendDownstream(b, changes)
	var snaps [][]byte
	if b.Checkpoint && f.failed == nil {
		snaps, f.failed = f.snapshot()
	}
	f.report(epochReport{view: f.view, epoch: b.Epoch, changes: changes, err: f.failed, snapshots: snaps})
	return true
}

// push delivers a message to an input port, turning a panic into an error
// so one broken view cannot take the engine down.
func (f *fragment) push(input int, msg operators.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "internal error in materialized view %q: %v\n%s", f.view.rel.Name, r, debug.Stack())
		}
	}()
	return f.entries[input].Push(msg)
}

func (f *fragment) fail(err error) {
	f.failed = fmt.Errorf("materialized view %q stopped: %w", f.view.rel.Name, err)
}

// onEpoch is the Materialize callback: it keeps the epoch's changes for
// the report.
func (f *fragment) onEpoch(_ uint64, changes []*operators.Chunk) error {
	f.emitted = append(f.emitted, changes...)
	return nil
}

func (f *fragment) closeOps() {
	for _, op := range f.ops {
		op.Close()
	}
}

// stop closes the inbox and waits for the goroutine to end.
func (f *fragment) stop() {
	close(f.inbox)
	<-f.done
}

func releaseMsg(m operators.Message) {
	if c, ok := m.(*operators.Chunk); ok {
		c.Rec.Release()
	}
}

// snapshot writes the state of every operator that keeps state.
func (f *fragment) snapshot() ([][]byte, error) {
	out := make([][]byte, len(f.ops))
	for i, op := range f.ops {
		cp, ok := op.(operators.Checkpointer)
		if !ok {
			continue
		}
		var buf bytes.Buffer
		if err := cp.Snapshot(&buf); err != nil {
			return nil, fmt.Errorf("checkpoint of materialized view %q, operator %d: %w", f.view.rel.Name, i, err)
		}
		out[i] = buf.Bytes()
	}
	return out, nil
}
