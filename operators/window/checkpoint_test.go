package window

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/types"
)

// genSessScript draws random session input: rows out of order within a
// delay, some late, some with a NULL time, duplicates, deletes of live
// rows (some already emitted), watermarks and barriers.
func genSessScript(r *rand.Rand, steps int) []optest.Step {
	const delay = 15 * minute
	var out []optest.Step
	var cur [][]types.Datum
	var maxTS, wm int64 = 100 * minute, 0
	id, epoch := int64(0), uint64(0)
	for step := 0; step < steps; step++ {
		if r.IntN(5) == 0 {
			maxTS += 2 * delay // a pause: sessions end
		}
		var rows [][]types.Datum
		var ops []operators.Op
		for n := r.IntN(12); n > 0; n-- {
			var row []types.Datum
			switch x := r.IntN(30); {
			case x == 0 && len(cur) > 0:
				row = cur[r.IntN(len(cur))] // an identical row
			case x == 1:
				id++
				row = srow(int64(r.IntN(4)), id, 0)
				row[2] = types.NewNull(types.TimestampType(6))
			default:
				id++
				t0 := maxTS - delay + r.Int64N(delay+3*minute)
				if x == 2 {
					t0 = wm - 1 - r.Int64N(minute) // late
				}
				row = srow(int64(r.IntN(4)), id, 0)
				row[2] = ts(t0)
				maxTS = max(maxTS, t0)
			}
			rows = append(rows, row)
			ops = append(ops, operators.Insert)
			if !row[2].Null && row[2].I >= wm {
				cur = append(cur, row)
			}
		}
		for k := r.IntN(3); k > 0 && len(cur) > 0; k-- {
			j := r.IntN(len(cur))
			if cur[j][2].I >= wm {
				rows = append(rows, cur[j])
				ops = append(ops, []operators.Op{operators.Delete, operators.UpdateBefore}[r.IntN(2)])
				cur = append(cur[:j], cur[j+1:]...)
			}
		}
		if !slices.ContainsFunc(ops, operators.Op.IsRetract) && r.IntN(2) == 0 {
			ops = nil
		}
		out = append(out, optest.Step{Rows: rows, Ops: ops, Batch: 1 + r.IntN(20)})
		if r.IntN(2) == 0 && maxTS-delay > wm {
			wm = maxTS - delay
			out = append(out, optest.Step{Watermark: &operators.Watermark{Column: 2, Time: wm}})
		}
		if r.IntN(3) == 0 {
			epoch++
			out = append(out, optest.Step{Epoch: epoch})
		}
	}
	epoch++
	return append(out, optest.Step{Epoch: epoch})
}

type sessConfig struct {
	name    string
	keyCols []int
	eowc    bool
}

// recordedSession is a Session under test whose output rec logs.
type recordedSession struct {
	*optest.Harness
	s   *Session
	rec *optest.Recorder
}

// cutRun is x in a cut-and-continue run: its state is its open rows,
// keys, late and NULL-time rows.
func (x *recordedSession) cutRun() optest.CutRun {
	return optest.CutRun{Harness: x.Harness, Op: x.s, Rec: x.rec, State: func() string {
		return fmt.Sprintf("%d open rows %d keys %d late %d NULL-time", x.s.OpenRows(), x.s.Keys(), x.s.LateRows(), x.s.NullRows())
	}}
}

func newRecordedSession(t *testing.T, cfg sessConfig) *recordedSession {
	t.Helper()
	mem := optest.CheckedMem(t)
	schema := types.Schema(sessCols).Arrow()
	rec := &optest.Recorder{T: t, Types: append(optest.ColumnTypes(sessCols), types.TimestampType(6), types.TimestampType(6))}
	s, err := NewSession(mem, schema, 2, cfg.keyCols, gap, cfg.eowc, rec)
	if err != nil {
		t.Fatal(err)
	}
	optest.CloseAtEnd(t, s, nil)
	return &recordedSession{Harness: &optest.Harness{T: t, Mem: mem, Input: s, InSchema: schema}, s: s, rec: rec}
}

var sessConfigs = []sessConfig{
	{"update", []int{0}, false},
	{"emitOnClose", []int{0}, true},
	{"updateNoKey", nil, false},
	{"emitOnCloseNoKey", nil, true},
}

// TestSessionCheckpointCutAndContinue runs a random script through
// Session A without interruption, and through a chain that at random
// barriers is snapshotted and restored into a new Session which
// continues: after the first cut the outputs (sorted within an epoch)
// are identical, and so are the held rows, keys and counters.
func TestSessionCheckpointCutAndContinue(t *testing.T) {
	for ci, cfg := range sessConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 4; seed++ {
				r := rand.New(rand.NewPCG(uint64(ci)*10+seed, 5))
				script := genSessScript(r, 150)
				a := newRecordedSession(t, cfg)
				fresh := func() optest.CutRun { return newRecordedSession(t, cfg).cutRun() }
				st := optest.CutAndContinue(t, fmt.Sprintf("seed %d", seed), r, script, a.cutRun(), fresh)
				if a.s.LateRows() == 0 || a.s.NullRows() == 0 {
					t.Fatalf("seed %d: no late or NULL-time rows", seed)
				}
				t.Logf("seed %d: %d cuts, %d lines compared, %d open rows", seed, st.Cuts, st.Lines, a.s.OpenRows())
			}
		})
	}
}

func TestSessionCheckpointCorruptAndMisuse(t *testing.T) {
	cfg := sessConfigs[0]
	s := newRecordedSession(t, cfg)
	s.Run(genSessScript(rand.New(rand.NewPCG(3, 3)), 60)...)
	if s.s.OpenRows() == 0 {
		t.Fatal("nothing held")
	}
	snap := optest.Snapshot(t, s.s)
	for i, c := range optest.SomeDamaged(rand.New(rand.NewPCG(9, 9)), snap, 100, 150) {
		x := newRecordedSession(t, cfg).s
		err := x.Restore(bytes.NewReader(c))
		if err == nil {
			t.Fatalf("damaged snapshot %d restored", i)
		}
		if x.OpenRows() != 0 || x.Keys() != 0 || x.LateRows() != 0 {
			t.Fatalf("failed restore left state")
		}
	}
	for _, other := range []sessConfig{sessConfigs[1], sessConfigs[2]} {
		x := newRecordedSession(t, other).s
		if err := x.Restore(bytes.NewReader(snap)); err == nil || !strings.Contains(err.Error(), "differently configured") {
			t.Fatalf("restore into %s: %v", other.name, err)
		}
	}
	x := newRecordedSession(t, cfg)
	if err := x.s.Restore(bytes.NewReader(snap[:len(snap)/2])); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
	x.Run(optest.Step{Rows: [][]types.Datum{srow(1, 1, 1)}, Batch: 1})
	var buf bytes.Buffer
	if err := x.s.Snapshot(&buf); err == nil {
		t.Fatal("snapshot with changes pending accepted")
	}
	if err := x.s.Restore(bytes.NewReader(snap)); err == nil {
		t.Fatal("restore after input accepted")
	}
}
