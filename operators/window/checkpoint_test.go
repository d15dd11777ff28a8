package window

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

type sessStep struct {
	rows  [][]types.Datum
	ops   []operators.Op
	batch int
	wm    int64 // a watermark when > 0
	epoch uint64
}

// genSessScript draws random session input: rows out of order within a
// delay, some late, some with a NULL time, duplicates, deletes of live
// rows (some already emitted), watermarks and barriers.
func genSessScript(r *rand.Rand, steps int) []sessStep {
	const delay = 15 * minute
	var out []sessStep
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
		out = append(out, sessStep{rows: rows, ops: ops, batch: 1 + r.IntN(20)})
		if r.IntN(2) == 0 && maxTS-delay > wm {
			wm = maxTS - delay
			out = append(out, sessStep{wm: wm})
		}
		if r.IntN(3) == 0 {
			epoch++
			out = append(out, sessStep{epoch: epoch})
		}
	}
	epoch++
	return append(out, sessStep{epoch: epoch})
}

// sessRecorder logs a Session's output: per epoch the sorted lines of its
// rows and watermarks, then the barrier.
type sessRecorder struct {
	t     *testing.T
	types []types.T
	cur   []string
	log   []string
}

func (r *sessRecorder) Push(m operators.Message) error {
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
		r.log = append(append(r.log, r.cur...), fmt.Sprintf("barrier %d", m.Epoch))
		r.cur = nil
	default:
		r.t.Errorf("unexpected %T", m)
	}
	return nil
}

type sessConfig struct {
	name    string
	keyCols []int
	eowc    bool
}

func newRecordedSession(t *testing.T, cfg sessConfig) (*Session, *sessRecorder, *memory.CheckedAllocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	schema := types.Schema(sessCols).Arrow()
	rec := &sessRecorder{t: t}
	for _, c := range sessCols {
		rec.types = append(rec.types, c.Type)
	}
	rec.types = append(rec.types, types.TimestampType(6), types.TimestampType(6))
	s, err := NewSession(mem, schema, 2, cfg.keyCols, gap, cfg.eowc, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		mem.AssertSize(t, 0)
	})
	return s, rec, mem
}

func runSessStep(t *testing.T, mem memory.Allocator, s *Session, st sessStep) {
	t.Helper()
	var err error
	switch {
	case st.epoch > 0:
		err = s.Push(operators.Barrier{Epoch: st.epoch})
	case st.wm > 0:
		err = s.Push(operators.Watermark{Column: 2, Time: st.wm})
	default:
		err = feed(t, mem, s, s.in, st.rows, st.ops, st.batch)
	}
	if err != nil {
		t.Fatal(err)
	}
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
				a, ra, memA := newRecordedSession(t, cfg)
				for _, st := range script {
					runSessStep(t, memA, a, st)
				}
				var barriers []int
				for i, st := range script {
					if st.epoch > 0 && i < len(script)-1 {
						barriers = append(barriers, i)
					}
				}
				cuts := map[int]bool{}
				for n := 1 + r.IntN(3); n > 0; n-- {
					cuts[barriers[r.IntN(len(barriers))]] = true
				}
				b, rb, memB := newRecordedSession(t, cfg)
				var chain []string
				first := -1
				for i, st := range script {
					runSessStep(t, memB, b, st)
					if !cuts[i] {
						continue
					}
					if first < 0 {
						first = len(rb.log)
					} else {
						chain = append(chain, rb.log...)
					}
					var buf bytes.Buffer
					if err := b.Snapshot(&buf); err != nil {
						t.Fatalf("seed %d: snapshot: %v", seed, err)
					}
					c, rc, memC := newRecordedSession(t, cfg)
					if err := c.Restore(&buf); err != nil {
						t.Fatalf("seed %d: restore: %v", seed, err)
					}
					if c.OpenRows() != b.OpenRows() || c.Keys() != b.Keys() || c.LateRows() != b.LateRows() || c.NullRows() != b.NullRows() {
						t.Fatalf("seed %d: restored %d rows %d keys, want %d and %d", seed, c.OpenRows(), c.Keys(), b.OpenRows(), b.Keys())
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
				if b.OpenRows() != a.OpenRows() || b.Keys() != a.Keys() || b.LateRows() != a.LateRows() || b.NullRows() != a.NullRows() {
					t.Fatalf("seed %d: final state differs", seed)
				}
				if a.LateRows() == 0 || a.NullRows() == 0 {
					t.Fatalf("seed %d: no late or NULL-time rows", seed)
				}
				t.Logf("seed %d: %d cuts, %d lines compared, %d open rows", seed, len(cuts), len(want), a.OpenRows())
			}
		})
	}
}

func TestSessionCheckpointCorruptAndMisuse(t *testing.T) {
	cfg := sessConfigs[0]
	s, _, mem := newRecordedSession(t, cfg)
	script := genSessScript(rand.New(rand.NewPCG(3, 3)), 60)
	for _, st := range script {
		runSessStep(t, mem, s, st)
	}
	if s.OpenRows() == 0 {
		t.Fatal("nothing held")
	}
	var buf bytes.Buffer
	if err := s.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	snap := buf.Bytes()
	r := rand.New(rand.NewPCG(9, 9))
	var bad [][]byte
	for l := 0; l < len(snap); l += 1 + r.IntN(len(snap)/100+1) {
		bad = append(bad, snap[:l])
	}
	for range 150 {
		c := slices.Clone(snap)
		c[r.IntN(len(c))] ^= 1 << r.IntN(8)
		bad = append(bad, c)
	}
	for i, c := range bad {
		x, _, _ := newRecordedSession(t, cfg)
		err := x.Restore(bytes.NewReader(c))
		if err == nil {
			t.Fatalf("damaged snapshot %d restored", i)
		}
		if x.OpenRows() != 0 || x.Keys() != 0 || x.LateRows() != 0 {
			t.Fatalf("failed restore left state")
		}
	}
	for _, other := range []sessConfig{sessConfigs[1], sessConfigs[2]} {
		x, _, _ := newRecordedSession(t, other)
		if err := x.Restore(bytes.NewReader(snap)); err == nil || !strings.Contains(err.Error(), "differently configured") {
			t.Fatalf("restore into %s: %v", other.name, err)
		}
	}
	x, _, xmem := newRecordedSession(t, cfg)
	if err := x.Restore(bytes.NewReader(snap[:len(snap)/2])); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
	runSessStep(t, xmem, x, sessStep{rows: [][]types.Datum{srow(1, 1, 1)}, batch: 1})
	if err := x.Snapshot(&buf); err == nil {
		t.Fatal("snapshot with changes pending accepted")
	}
	if err := x.Restore(bytes.NewReader(snap)); err == nil {
		t.Fatal("restore after input accepted")
	}
}
