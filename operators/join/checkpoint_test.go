package join

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// ckptCase is a join whose state a checkpoint test fills: each kind of
// state a snapshot holds (row indexes and time heaps, an append-only
// side with its times in its links only, match counts, a self-join's one
// side).
type ckptCase struct {
	name string
	kind Kind
	opts Options
}

var ckptCases = []ckptCase{
	{"inner", Inner, Options{Time: &TimeBound{LeftCol: 2, RightCol: 2, Lo: -10, Hi: 10}}},
	{"inner-appendonly", Inner, Options{Time: &TimeBound{LeftCol: 2, RightCol: 2, Lo: -10, Hi: 10}, AppendOnly: [2]bool{true, true}}},
	{"outer", StreamingLeftOuter, Options{}},
	{"self", Inner, Options{Time: &TimeBound{LeftCol: 2, RightCol: 2, Lo: -5, Hi: 10}, AppendOnly: [2]bool{true, true}, Self: true}},
}

// newCkptJoin returns a join of c over evTypes on the user.
func newCkptJoin(t testing.TB, c ckptCase, out operators.Output) *HashJoin {
	mem := optest.CheckedMem(t)
	j := NewWithOptions(mem, c.kind, evTypes, evTypes, []int{0}, []int{0}, nil, outSchema(evTypes, evTypes), c.opts, out)
	optest.CloseAtEnd(t, j, nil)
	return j
}

// fillCkptJoin feeds j random rows of a few users on its ports, with
// retractions of rows sent (unless append-only) and watermarks that free
// some of them.
func fillCkptJoin(t testing.TB, c ckptCase, j *HashJoin) {
	r := rand.New(rand.NewPCG(9, 9))
	ports := []operators.Output{j.Left(), j.Right()}
	if c.opts.Self {
		ports = []operators.Output{j.Self()}
	}
	var sent [2][]row
	for step := range 40 {
		in := r.IntN(len(ports))
		var rows []row
		var ops []operators.Op
		for range 1 + r.IntN(6) {
			if !c.opts.AppendOnly[in] && len(sent[in]) > 0 && r.IntN(4) == 0 {
				k := r.IntN(len(sent[in]))
				rows, ops = append(rows, sent[in][k]), append(ops, operators.Delete)
				sent[in] = slices.Delete(sent[in], k, k+1)
				continue
			}
			rw := row{types.NewBigInt(int64(r.IntN(4))), types.NewBigInt(int64(r.IntN(3))), types.NewTimestamp(int64(step + r.IntN(20)))}
			rows, ops = append(rows, rw), append(ops, operators.Insert)
			sent[in] = append(sent[in], rw)
		}
		if !slices.Contains(ops, operators.Delete) {
			ops = nil
		}
		if err := optest.Feed(j.mem, ports[in], evSchema, rows, ops, 0); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if c.opts.Time != nil && step%10 == 9 {
			// A later retraction of a freed row is ignored.
			for _, p := range ports {
				if err := p.Push(operators.Watermark{Column: 2, Time: int64(step - 5)}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if j.StateRows() == 0 {
		t.Fatal("the fill left no state")
	}
}

// TestHashJoinCheckpointDamage checks that every damaged snapshot
// (optest.ForEachDamage: truncations, bit flips, bursts, garbage,
// trailing bytes) is refused, without a panic, leaving the join empty
// and still able to take the intact snapshot; that the intact snapshot
// restores the state (as many rows, and the same snapshot again); and
// that a writer failing at any point makes Snapshot fail with its error.
func TestHashJoinCheckpointDamage(t *testing.T) {
	for _, c := range ckptCases {
		t.Run(c.name, func(t *testing.T) {
			nop := operators.OutputFunc(func(operators.Message) error { return nil })
			src := newCkptJoin(t, c, nop)
			fillCkptJoin(t, c, src)
			snap := optest.Snapshot(t, src)
			dst := newCkptJoin(t, c, nop)
			optest.ForEachDamage(snap, func(what string, data []byte) {
				err := dst.Restore(bytes.NewReader(data))
				if err == nil {
					t.Fatalf("%s: restored", what)
				}
				if strings.Contains(err.Error(), "panic") {
					t.Fatalf("%s: a panic was recovered: %v", what, err)
				}
				if n := dst.StateRows(); n != 0 {
					t.Fatalf("%s: %d rows held after a failed restore", what, n)
				}
				for in, s := range dst.sides {
					if s.hasWM || s.evicted || s.wm != 0 || s.horizon != 0 {
						t.Fatalf("%s: side %d keeps watermark %d (set %v), horizon %d after a failed restore", what, in, s.wm, s.hasWM, s.horizon)
					}
				}
			})
			if err := dst.Restore(bytes.NewReader(snap)); err != nil {
				t.Fatalf("intact snapshot after the damaged ones: %v", err)
			}
			if got, want := dst.StateRows(), src.StateRows(); got != want {
				t.Fatalf("restored %d rows, want %d", got, want)
			}
			if !bytes.Equal(optest.Snapshot(t, dst), snap) {
				t.Fatal("the restored join's snapshot differs from the one it restored")
			}
			optest.CheckSnapshotWriteErrors(t, src)
		})
	}
}
