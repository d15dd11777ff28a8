package agg

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

type ckptConfig struct {
	name       string
	groupCols  []int
	appendOnly bool
	opts       Options
	windowed   bool // column 6 (ts) carries advancing windows and watermarks
}

// genScript draws a random input: inserts, retractions of live rows (as
// Delete or UpdateBefore), duplicates, NULLs, and for windowed configs
// timestamps that advance with watermarks closing windows (some rows
// arriving late), with barriers in between.
func genScript(r *rand.Rand, cfg ckptConfig, nChanges int) []optest.Step {
	gen := diffGen{r}
	var steps []optest.Step
	var live [][]types.Datum
	changes, draining := 0, false
	now, epoch := int64(10), uint64(0)
	for changes < nChanges {
		switch {
		case draining && len(live) == 0:
			draining = false
		case !draining && len(live) > 300:
			draining = true
		}
		pDel := 30
		if draining {
			pDel = 85
		}
		if cfg.appendOnly {
			pDel = 0
		}
		var rows [][]types.Datum
		var ops []operators.Op
		for n := 1 + r.IntN(40); n > 0; n-- {
			if len(live) > 0 && r.IntN(100) < pDel {
				j := r.IntN(len(live))
				rows = append(rows, live[j])
				live[j] = live[len(live)-1]
				live = live[:len(live)-1]
				ops = append(ops, []operators.Op{operators.Delete, operators.UpdateBefore}[r.IntN(2)])
				continue
			}
			var nr []types.Datum
			if len(live) > 0 && r.IntN(5) == 0 {
				nr = live[r.IntN(len(live))]
			} else {
				nr = gen.row()
				if cfg.windowed && !nr[6].Null {
					nr[6] = types.NewTimestamp((now + int64(r.IntN(5)) - 2) * minute)
				}
			}
			live = append(live, nr)
			rows = append(rows, nr)
			ops = append(ops, []operators.Op{operators.Insert, operators.UpdateAfter}[r.IntN(2)])
		}
		if cfg.appendOnly || r.IntN(4) == 0 {
			if !slices.ContainsFunc(ops, operators.Op.IsRetract) && r.IntN(2) == 0 {
				ops = nil
			}
		}
		changes += len(rows)
		steps = append(steps, optest.Step{Rows: rows, Ops: ops, Batch: 1 + r.IntN(300)})
		if cfg.windowed && r.IntN(3) == 0 {
			now++
			if r.IntN(2) == 0 {
				steps = append(steps, optest.Step{Watermark: &operators.Watermark{Column: 6, Time: (now - 2) * minute}})
			}
		}
		if r.IntN(8) == 0 && len(cfg.groupCols) > 0 {
			// A watermark on another column: held and forwarded remapped
			// when it is a group column, dropped otherwise.
			steps = append(steps, optest.Step{Watermark: &operators.Watermark{Column: cfg.groupCols[0], Time: int64(r.IntN(3))}})
		}
		if r.IntN(2) == 0 {
			epoch++
			steps = append(steps, optest.Step{Epoch: epoch})
		}
	}
	epoch++
	return append(steps, optest.Step{Epoch: epoch})
}

// recorded is an aggregate under test whose output rec logs.
type recorded struct {
	*optest.Harness
	h   *HashAgg
	rec *optest.Recorder
}

// cutRun is x in a cut-and-continue run: its state is its group and
// late-row counts.
func (x *recorded) cutRun() optest.CutRun {
	return optest.CutRun{Harness: x.Harness, Op: x.h, Rec: x.rec, State: func() string {
		return fmt.Sprintf("%d groups %d late rows", x.h.Groups(), x.h.LateRows())
	}}
}

// newRecorded builds an aggregate of cfg over diffCols logging to a
// recorder; the allocator is checked when the test ends.
func newRecorded(t *testing.T, cfg ckptConfig) *recorded {
	t.Helper()
	mem := optest.CheckedMem(t)
	schema := types.Schema(diffCols).Arrow()
	inTypes := optest.ColumnTypes(diffCols)
	specs := diffSpecs()
	rec := &optest.Recorder{T: t, Types: outTypes(inTypes, cfg.groupCols, specs)}
	h, err := NewWithOptions(mem, schema, inTypes, cfg.groupCols, specs, cfg.appendOnly, cfg.opts, rec)
	if err != nil {
		t.Fatal(err)
	}
	optest.CloseAtEnd(t, h, nil)
	return &recorded{Harness: &optest.Harness{T: t, Mem: mem, Input: h, InSchema: schema}, h: h, rec: rec}
}

var ckptConfigs = []ckptConfig{
	{name: "global", opts: Options{WatermarkGroupCol: -1}},
	{name: "intKey", groupCols: []int{0}, opts: Options{WatermarkGroupCol: -1}},
	{name: "varcharKey", groupCols: []int{1}, opts: Options{WatermarkGroupCol: -1}},
	{name: "multiKey", groupCols: []int{0, 1}, opts: Options{WatermarkGroupCol: -1}},
	{name: "intPairKey", groupCols: []int{0, 6}, opts: Options{WatermarkGroupCol: -1}},
	{name: "multiKeyAppendOnly", groupCols: []int{1, 0}, appendOnly: true, opts: Options{WatermarkGroupCol: -1}},
	{name: "intKeyAppendOnly", groupCols: []int{0}, appendOnly: true, opts: Options{WatermarkGroupCol: -1}},
	{name: "windowInt", groupCols: []int{6}, opts: Options{WatermarkGroupCol: 0}, windowed: true},
	{name: "windowPair", groupCols: []int{6, 0}, opts: Options{WatermarkGroupCol: 0}, windowed: true},
	{name: "windowBytes", groupCols: []int{1, 6}, opts: Options{WatermarkGroupCol: 1}, windowed: true},
	{name: "windowPairEOWC", groupCols: []int{6, 0}, opts: Options{WatermarkGroupCol: 0, EmitOnClose: true}, windowed: true},
	{name: "windowBytesEOWCAppendOnly", groupCols: []int{6, 1}, appendOnly: true, opts: Options{WatermarkGroupCol: 0, EmitOnClose: true}, windowed: true},
}

// TestCheckpointCutAndContinue runs a random script through aggregate A
// without interruption, and through a chain B → C → ... that at random
// barriers is snapshotted and restored into a new aggregate which
// continues. After the first cut the chain's output (rows, watermarks,
// barriers; sorted within an epoch) equals A's, and so do the group and
// late-row counts at every cut and at the end.
func TestCheckpointCutAndContinue(t *testing.T) {
	for ci, cfg := range ckptConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				r := rand.New(rand.NewPCG(uint64(ci)*100+seed, 17))
				script := genScript(r, cfg, 4000)
				a := newRecorded(t, cfg)
				fresh := func() optest.CutRun { return newRecorded(t, cfg).cutRun() }
				st := optest.CutAndContinue(t, fmt.Sprintf("seed %d", seed), r, script, a.cutRun(), fresh)
				if cfg.windowed && a.h.LateRows() == 0 {
					t.Fatalf("seed %d: no late rows", seed)
				}
				t.Logf("seed %d: %d cuts, %d lines compared, last snapshot %d bytes, %d groups", seed, st.Cuts, st.Lines, st.SnapBytes, a.h.Groups())
			}
		})
	}
}

// snapshotOf runs a script through a fresh aggregate of cfg and returns
// its snapshot.
func snapshotOf(t *testing.T, cfg ckptConfig, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 3))
	x := newRecorded(t, cfg)
	x.Run(genScript(r, cfg, 1500)...)
	return optest.Snapshot(t, x.h)
}

// TestCheckpointCorrupt feeds truncated and bit-flipped snapshots to
// Restore: each is an error (never a panic), and the aggregate is then
// as built: it gives the same output as a fresh one.
func TestCheckpointCorrupt(t *testing.T) {
	for _, cfg := range []ckptConfig{ckptConfigs[3], ckptConfigs[8], ckptConfigs[5]} {
		t.Run(cfg.name, func(t *testing.T) {
			snap := snapshotOf(t, cfg, 9)
			bad := optest.SomeDamaged(rand.New(rand.NewPCG(4, 4)), snap, 150, 150)
			probe := genScript(rand.New(rand.NewPCG(77, 1)), cfg, 200)
			fresh := newRecorded(t, cfg)
			fresh.Run(probe...)
			for i, c := range bad {
				x := newRecorded(t, cfg)
				err := x.h.Restore(bytes.NewReader(c))
				if err == nil {
					t.Fatalf("damaged snapshot %d (%d of %d bytes) restored", i, len(c), len(snap))
				}
				if i%25 == 0 {
					x.Run(probe...)
					if !slices.Equal(x.rec.Log, fresh.rec.Log) {
						t.Fatalf("after a failed restore (%v) the aggregate is not as built", err)
					}
				}
			}
			// Intact, it restores.
			if err := newRecorded(t, cfg).h.Restore(bytes.NewReader(snap)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCheckpointMisuse(t *testing.T) {
	cfg := ckptConfigs[3]
	snap := snapshotOf(t, cfg, 1)
	// A differently configured aggregate refuses it, naming both.
	// So does one whose groups mean something else (Options.Meaning),
	// and the reverse.
	meant := cfg
	meant.opts.Meaning = "each unordered pair counted once"
	if err := newRecorded(t, cfg).h.Restore(bytes.NewReader(snapshotOf(t, meant, 1))); !errors.Is(err, operators.ErrStateMismatch) {
		t.Fatalf("restore of a snapshot with another meaning: %v", err)
	}
	for _, other := range []ckptConfig{ckptConfigs[2], ckptConfigs[4], meant, {name: "x", groupCols: []int{0, 1}, appendOnly: true, opts: Options{WatermarkGroupCol: -1}}} {
		err := newRecorded(t, other).h.Restore(bytes.NewReader(snap))
		if err == nil || !strings.Contains(err.Error(), "differently configured") {
			t.Fatalf("restore into %s: %v", other.name, err)
		}
	}
	// A wrong format is refused.
	x := newRecorded(t, cfg)
	h := x.h
	var buf bytes.Buffer
	sw := state.NewSnapshotWriter(&buf, x.Mem)
	if err := sw.Header("sluice.window.Session", 1, "x"); err != nil {
		t.Fatal(err)
	}
	if err := h.Restore(&buf); err == nil || !strings.Contains(err.Error(), "sluice.window.Session") {
		t.Fatalf("restore of another format: %v", err)
	}
	// Restore after input, Snapshot mid-epoch.
	x.Run(optest.Step{Rows: [][]types.Datum{diffGen{rand.New(rand.NewPCG(1, 1))}.row()}, Batch: 1})
	if err := h.Restore(bytes.NewReader(snap)); err == nil {
		t.Fatal("restore after input accepted")
	}
	if err := h.Snapshot(&buf); err == nil {
		t.Fatal("snapshot with changes pending accepted")
	}
	x.Run(optest.Step{Epoch: 1})
	if err := h.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	var e error = state.ErrCorrupt
	if err := newRecorded(t, cfg).h.Restore(bytes.NewReader(snap[:len(snap)-3])); !errors.Is(err, e) {
		t.Fatalf("truncated: %v", err)
	}
}
