package agg

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/types"
)

// A script step: a chunk of changes, a watermark or a barrier.
type scriptStep struct {
	rows  [][]types.Datum
	ops   []operators.Op
	batch int
	wm    *operators.Watermark
	epoch uint64 // a barrier when > 0
}

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
func genScript(r *rand.Rand, cfg ckptConfig, nChanges int) []scriptStep {
	gen := diffGen{r}
	var steps []scriptStep
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
		steps = append(steps, scriptStep{rows: rows, ops: ops, batch: 1 + r.IntN(300)})
		if cfg.windowed && r.IntN(3) == 0 {
			now++
			if r.IntN(2) == 0 {
				steps = append(steps, scriptStep{wm: &operators.Watermark{Column: 6, Time: (now - 2) * minute}})
			}
		}
		if r.IntN(8) == 0 && len(cfg.groupCols) > 0 {
			// A watermark on another column: held and forwarded remapped
			// when it is a group column, dropped otherwise.
			steps = append(steps, scriptStep{wm: &operators.Watermark{Column: cfg.groupCols[0], Time: int64(r.IntN(3))}})
		}
		if r.IntN(2) == 0 {
			epoch++
			steps = append(steps, scriptStep{epoch: epoch})
		}
	}
	epoch++
	return append(steps, scriptStep{epoch: epoch})
}

// recorder logs an operator's output: per epoch the sorted lines of its
// rows and watermarks, then the barrier.
type recorder struct {
	t     *testing.T
	types []types.T
	cur   []string
	log   []string
}

func (r *recorder) Push(m operators.Message) error {
	switch m := m.(type) {
	case *operators.Chunk:
		for i := 0; i < m.Len(); i++ {
			vals := make([]types.Datum, m.Rec.NumCols())
			for j := range vals {
				vals[j] = types.DatumAt(m.Rec.Column(j), i, r.types[j])
			}
			r.cur = append(r.cur, m.Op(i).String()+" "+rowString(vals))
		}
	case operators.Watermark:
		r.cur = append(r.cur, fmt.Sprintf("watermark %d %d", m.Column, m.Time))
	case operators.Barrier:
		sort.Strings(r.cur)
		r.log = append(r.log, r.cur...)
		r.log = append(r.log, fmt.Sprintf("barrier %d", m.Epoch))
		r.cur = nil
	default:
		r.t.Errorf("unexpected %T", m)
	}
	return nil
}

// newRecorded builds an aggregate of cfg over diffCols logging to a
// recorder; the allocator is checked when the test ends.
func newRecorded(t *testing.T, cfg ckptConfig) (*HashAgg, *recorder, *memory.CheckedAllocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	inTypes := make([]types.T, len(diffCols))
	for i, c := range diffCols {
		inTypes[i] = c.Type
	}
	rec := &recorder{t: t}
	for _, g := range cfg.groupCols {
		rec.types = append(rec.types, inTypes[g])
	}
	specs := diffSpecs()
	for _, s := range specs {
		rec.types = append(rec.types, s.Result)
	}
	h, err := NewWithOptions(mem, types.Schema(diffCols).Arrow(), inTypes, cfg.groupCols, specs, cfg.appendOnly, cfg.opts, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
		mem.AssertSize(t, 0)
	})
	return h, rec, mem
}

func runStep(t *testing.T, mem memory.Allocator, h *HashAgg, s scriptStep) {
	t.Helper()
	var err error
	switch {
	case s.epoch > 0:
		err = h.Push(operators.Barrier{Epoch: s.epoch})
	case s.wm != nil:
		err = h.Push(*s.wm)
	default:
		err = feed(t, mem, h, s.rows, s.ops, s.batch)
	}
	if err != nil {
		t.Fatal(err)
	}
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
				a, ra, memA := newRecorded(t, cfg)
				for _, s := range script {
					runStep(t, memA, a, s)
				}
				var barriers []int
				for i, s := range script {
					if s.epoch > 0 && i < len(script)-1 {
						barriers = append(barriers, i)
					}
				}
				cuts := map[int]bool{}
				for n := 1 + r.IntN(3); n > 0; n-- {
					cuts[barriers[r.IntN(len(barriers))]] = true
				}
				b, rb, memB := newRecorded(t, cfg)
				var chain []string
				first := -1 // A's log length at the first cut
				snapBytes := 0
				for i, s := range script {
					runStep(t, memB, b, s)
					if !cuts[i] {
						continue
					}
					if first < 0 {
						first = len(rb.log)
						if !slices.Equal(rb.log, ra.log[:first]) {
							t.Fatalf("seed %d: output before the cut differs", seed)
						}
					} else {
						chain = append(chain, rb.log...)
					}
					var buf bytes.Buffer
					if err := b.Snapshot(&buf); err != nil {
						t.Fatalf("seed %d step %d: snapshot: %v", seed, i, err)
					}
					snapBytes = buf.Len()
					c, rc, memC := newRecorded(t, cfg)
					if err := c.Restore(&buf); err != nil {
						t.Fatalf("seed %d step %d: restore: %v", seed, i, err)
					}
					if c.Groups() != b.Groups() || c.LateRows() != b.LateRows() {
						t.Fatalf("seed %d: restored %d groups %d late rows, want %d and %d", seed, c.Groups(), c.LateRows(), b.Groups(), b.LateRows())
					}
					if err := b.Close(); err != nil {
						t.Fatal(err)
					}
					b, rb, memB = c, rc, memC
				}
				chain = append(chain, rb.log...)
				want := ra.log[first:]
				if !slices.Equal(chain, want) {
					for k := 0; k < min(len(chain), len(want)); k++ {
						if chain[k] != want[k] {
							t.Fatalf("seed %d: after the cut, line %d:\n got %s\nwant %s", seed, k, chain[k], want[k])
						}
					}
					t.Fatalf("seed %d: after the cut %d lines, want %d", seed, len(chain), len(want))
				}
				if b.Groups() != a.Groups() || b.LateRows() != a.LateRows() {
					t.Fatalf("seed %d: final %d groups %d late rows, want %d and %d", seed, b.Groups(), b.LateRows(), a.Groups(), a.LateRows())
				}
				if cfg.windowed && a.LateRows() == 0 {
					t.Fatalf("seed %d: no late rows", seed)
				}
				t.Logf("seed %d: %d cuts, %d lines compared, last snapshot %d bytes, %d groups", seed, len(cuts), len(want), snapBytes, a.Groups())
			}
		})
	}
}

// snapshotOf runs a script through a fresh aggregate of cfg and returns
// its snapshot.
func snapshotOf(t *testing.T, cfg ckptConfig, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 3))
	h, _, mem := newRecorded(t, cfg)
	for _, s := range genScript(r, cfg, 1500) {
		runStep(t, mem, h, s)
	}
	var buf bytes.Buffer
	if err := h.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCheckpointCorrupt feeds truncated and bit-flipped snapshots to
// Restore: each is an error (never a panic), and the aggregate is then
// as built: it gives the same output as a fresh one.
func TestCheckpointCorrupt(t *testing.T) {
	for _, cfg := range []ckptConfig{ckptConfigs[3], ckptConfigs[8], ckptConfigs[5]} {
		t.Run(cfg.name, func(t *testing.T) {
			snap := snapshotOf(t, cfg, 9)
			r := rand.New(rand.NewPCG(4, 4))
			var bad [][]byte
			for l := 0; l < len(snap); l += 1 + r.IntN(len(snap)/150+1) {
				bad = append(bad, snap[:l])
			}
			for range 150 {
				c := slices.Clone(snap)
				c[r.IntN(len(c))] ^= 1 << r.IntN(8)
				bad = append(bad, c)
			}
			probe := genScript(rand.New(rand.NewPCG(77, 1)), cfg, 200)
			fresh, rf, memF := newRecorded(t, cfg)
			for _, s := range probe {
				runStep(t, memF, fresh, s)
			}
			for i, c := range bad {
				h, rh, mem := newRecorded(t, cfg)
				err := h.Restore(bytes.NewReader(c))
				if err == nil {
					t.Fatalf("damaged snapshot %d (%d of %d bytes) restored", i, len(c), len(snap))
				}
				if i%25 == 0 {
					for _, s := range probe {
						runStep(t, mem, h, s)
					}
					if !slices.Equal(rh.log, rf.log) {
						t.Fatalf("after a failed restore (%v) the aggregate is not as built", err)
					}
				}
			}
			// Intact, it restores.
			h, _, _ := newRecorded(t, cfg)
			if err := h.Restore(bytes.NewReader(snap)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCheckpointMisuse(t *testing.T) {
	cfg := ckptConfigs[3]
	snap := snapshotOf(t, cfg, 1)
	// A differently configured aggregate refuses it, naming both.
	for _, other := range []ckptConfig{ckptConfigs[2], ckptConfigs[4], {name: "x", groupCols: []int{0, 1}, appendOnly: true, opts: Options{WatermarkGroupCol: -1}}} {
		h, _, _ := newRecorded(t, other)
		err := h.Restore(bytes.NewReader(snap))
		if err == nil || !strings.Contains(err.Error(), "differently configured") {
			t.Fatalf("restore into %s: %v", other.name, err)
		}
	}
	// A wrong format is refused.
	h, _, mem := newRecorded(t, cfg)
	var buf bytes.Buffer
	sw := state.NewSnapshotWriter(&buf, mem)
	if err := sw.Header("sluice.window.Session", 1, "x"); err != nil {
		t.Fatal(err)
	}
	if err := h.Restore(&buf); err == nil || !strings.Contains(err.Error(), "sluice.window.Session") {
		t.Fatalf("restore of another format: %v", err)
	}
	// Restore after input, Snapshot mid-epoch.
	runStep(t, mem, h, scriptStep{rows: [][]types.Datum{diffGen{rand.New(rand.NewPCG(1, 1))}.row()}, batch: 1})
	if err := h.Restore(bytes.NewReader(snap)); err == nil {
		t.Fatal("restore after input accepted")
	}
	if err := h.Snapshot(&buf); err == nil {
		t.Fatal("snapshot with changes pending accepted")
	}
	runStep(t, mem, h, scriptStep{epoch: 1})
	if err := h.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	var e error = state.ErrCorrupt
	h2, _, _ := newRecorded(t, cfg)
	if err := h2.Restore(bytes.NewReader(snap[:len(snap)-3])); !errors.Is(err, e) {
		t.Fatalf("truncated: %v", err)
	}
}
