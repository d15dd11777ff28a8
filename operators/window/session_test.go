package window

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

var sessCols = []types.Column{{Name: "k", Type: types.BigIntType}, {Name: "id", Type: types.BigIntType}, {Name: "ts", Type: types.TimestampType(6)}}

const gap = 10 * minute

// sessFixture is a Session under test, driven by the harness (whose Out
// collects its output, rendered as "op row" lines).
type sessFixture struct {
	*optest.Harness
	s *Session
}

func newSessFixture(t *testing.T, mem memory.Allocator, keyCols []int, emitOnClose bool, batch int) *sessFixture {
	t.Helper()
	schema := types.Schema(sessCols).Arrow()
	c := newCollector(t, windowSchema(schema))
	s, err := NewSession(mem, schema, 2, keyCols, gap, emitOnClose, c)
	if err != nil {
		t.Fatal(err)
	}
	optest.CloseAtEnd(t, s, nil)
	return &sessFixture{Harness: &optest.Harness{T: t, Mem: mem, Input: s, InSchema: schema, Out: c, Batch: batch, Render: opLines}, s: s}
}

// srow is a session fixture input row at minute m (plus µs).
func srow(k, id int64, m float64) []types.Datum {
	return row(bi(k), bi(id), ts(int64(m*float64(minute))))
}

// out renders an output row: op, key, id, ts and bounds in minutes.
func out(op string, k, id int64, m, start, end float64) string {
	us := func(x float64) string { return tsStr(int64(x * float64(minute))) }
	return fmt.Sprintf("%s %d,%d,%s,%s,%s", op, k, id, us(m), us(start), us(end))
}

func TestSessionUpdateMode(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		mem := optest.CheckedMem(t)
		f := newSessFixture(t, mem, []int{0}, false, batch)
		f.Push(operators.Insert, srow(1, 1, 0), srow(1, 2, 5), srow(2, 3, 1), srow(1, 4, 30))
		f.Expect(
			out("insert", 1, 1, 0, 0, 15), out("insert", 1, 2, 5, 0, 15), out("insert", 1, 4, 30, 30, 40),
			out("insert", 2, 3, 1, 1, 11),
		)
		// 12 extends the first session; 21 then bridges it to the one at 30
		// (30-21 < 10): one retraction and re-emission per changed row.
		f.Push(operators.Insert, srow(1, 5, 12))
		f.Push(operators.Insert, srow(1, 6, 21))
		f.Expect(
			out("delete", 1, 1, 0, 0, 15), out("delete", 1, 2, 5, 0, 15), out("delete", 1, 4, 30, 30, 40),
			out("insert", 1, 1, 0, 0, 40), out("insert", 1, 2, 5, 0, 40), out("insert", 1, 4, 30, 0, 40),
			out("insert", 1, 5, 12, 0, 40), out("insert", 1, 6, 21, 0, 40),
		)
		// Retracting the bridge splits the session again.
		f.Push(operators.Delete, srow(1, 6, 21))
		f.Expect(
			out("delete", 1, 1, 0, 0, 40), out("delete", 1, 2, 5, 0, 40), out("delete", 1, 4, 30, 0, 40),
			out("delete", 1, 5, 12, 0, 40), out("delete", 1, 6, 21, 0, 40),
			out("insert", 1, 1, 0, 0, 22), out("insert", 1, 2, 5, 0, 22), out("insert", 1, 4, 30, 30, 40),
			out("insert", 1, 5, 12, 0, 22),
		)
		// Inserted and retracted within an epoch: nothing.
		f.Push(operators.Insert, srow(2, 9, 50))
		f.Push(operators.Delete, srow(2, 9, 50))
		f.Expect()
		// The watermark closes key 2's session and key 1's first one; their
		// rows stay downstream and leave the state.
		f.Watermark(2, 22*minute)
		f.Expect()
		if f.s.OpenRows() != 1 || f.s.Keys() != 1 {
			t.Errorf("open rows %d keys %d, want 1 and 1", f.s.OpenRows(), f.s.Keys())
		}
		want := []operators.Watermark{{Column: 2, Time: 22 * minute}, {Column: 3, Time: 22 * minute}, {Column: 4, Time: 32 * minute}}
		if fmt.Sprint(f.Out.Watermarks) != fmt.Sprint(want) {
			t.Errorf("watermarks %v, want %v", f.Out.Watermarks, want)
		}
		// Late rows are dropped and counted; a row after the watermark
		// cannot reach the closed session.
		f.Push(operators.Insert, srow(1, 10, 21), srow(1, 11, 23))
		f.Expect(
			out("delete", 1, 4, 30, 30, 40),
			out("insert", 1, 4, 30, 23, 40), out("insert", 1, 11, 23, 23, 40),
		)
		if f.s.LateRows() != 1 {
			t.Errorf("late rows %d", f.s.LateRows())
		}
		// The open session's start holds the watermark back.
		f.Watermark(2, 35*minute)
		f.Expect()
		if last := f.Out.Watermarks[len(f.Out.Watermarks)-2]; last != (operators.Watermark{Column: 3, Time: 23 * minute}) {
			t.Errorf("window_start watermark %v, want 23 minutes", last)
		}
		f.Watermark(2, 40*minute)
		f.Expect()
		if f.s.OpenRows() != 0 || f.s.Keys() != 0 {
			t.Errorf("open rows %d keys %d after every session closed", f.s.OpenRows(), f.s.Keys())
		}
	})
}

func TestSessionEmitOnClose(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		mem := optest.CheckedMem(t)
		f := newSessFixture(t, mem, []int{0}, true, batch)
		f.Push(operators.Insert, srow(1, 1, 0), srow(1, 2, 5), srow(2, 3, 1), srow(1, 4, 30), srow(1, 5, 12))
		f.Push(operators.Delete, srow(1, 2, 5))
		f.Expect()
		f.Watermark(2, 20*minute)
		// Without the row at 5, 0 and 12 are 12 minutes apart: two sessions.
		f.Expect(out("insert", 2, 3, 1, 1, 11), out("insert", 1, 1, 0, 0, 10))
		f.Watermark(2, 22*minute)
		f.Expect(out("insert", 1, 5, 12, 12, 22))
		f.Push(operators.Insert, srow(1, 6, 35), srow(3, 7, 22), srow(1, 8, 0))
		f.Watermark(2, 60*minute)
		f.Expect(
			out("insert", 1, 4, 30, 30, 45), out("insert", 1, 6, 35, 30, 45), out("insert", 3, 7, 22, 22, 32),
		)
		if f.s.LateRows() != 1 || f.s.OpenRows() != 0 || f.s.Keys() != 0 {
			t.Errorf("late %d open %d keys %d", f.s.LateRows(), f.s.OpenRows(), f.s.Keys())
		}
	})
}

func TestSessionNoKeyAndNulls(t *testing.T) {
	mem := optest.CheckedMem(t)
	f := newSessFixture(t, mem, nil, false, 3)
	f.Push(operators.Insert, srow(1, 1, 0), srow(2, 2, 9), row(bi(3), bi(3), types.NewNull(types.TimestampType(6))))
	f.Expect(out("insert", 1, 1, 0, 0, 19), out("insert", 2, 2, 9, 0, 19))
	if f.s.NullRows() != 1 {
		t.Errorf("null rows %d", f.s.NullRows())
	}
	err := f.Feed([][]types.Datum{srow(1, 99, 0)}, optest.OpsOf(operators.Delete, 1), 1)
	if err == nil {
		t.Errorf("retraction of an absent row accepted")
	}
}

// sessionize computes, from scratch, every row of rows annotated with its
// session (per key k), as rendered rows; with closedBy set, only sessions
// whose end is <= closedBy.
func sessionize(rows [][]types.Datum, closedBy *int64) []string {
	byKey := map[int64][][]types.Datum{}
	for _, r := range rows {
		byKey[r[0].I] = append(byKey[r[0].I], r)
	}
	var out []string
	for _, rs := range byKey {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i][2].I < rs[j][2].I })
		for a := 0; a < len(rs); {
			b := a + 1
			for b < len(rs) && rs[b][2].I-rs[b-1][2].I < gap {
				b++
			}
			start, end := rs[a][2].I, rs[b-1][2].I+gap
			if closedBy == nil || end <= *closedBy {
				for _, r := range rs[a:b] {
					out = append(out, optest.FormatRow(append(append([]types.Datum{}, r...), ts(start), ts(end))))
				}
			}
			a = b
		}
	}
	sort.Strings(out)
	return out
}

// TestSessionDifferential drives Session with random keys, timestamps out
// of order within the watermark delay, watermarks, inserts and deletes
// (and a few late rows), folds the emitted changelog at every barrier and
// compares it with a from-scratch sessionization of the rows accepted so
// far: all of them in update mode, the closed sessions in emit-on-close
// mode.
func TestSessionDifferential(t *testing.T) {
	for _, eowc := range []bool{false, true} {
		for _, batch := range optest.BatchSizes {
			for seed := uint64(1); seed <= 4; seed++ {
				t.Run(fmt.Sprintf("eowc=%v/batch%d/seed%d", eowc, batch, seed), func(t *testing.T) {
					runSessionDiff(t, eowc, batch, seed)
				})
			}
		}
	}
}

func runSessionDiff(t *testing.T, eowc bool, batch int, seed uint64) {
	mem := optest.CheckedMem(t)
	f := newSessFixture(t, mem, []int{0}, eowc, batch)
	r := rand.New(rand.NewPCG(seed, 7))
	const delay = 15 * minute
	var cur [][]types.Datum // rows accepted and not deleted
	var maxTS, wm int64
	wmSet := false
	id := int64(0)
	late := int64(0)
	for step := 0; step < 60; step++ {
		var ins [][]types.Datum
		for n := r.IntN(12); n > 0; n-- {
			id++
			t0 := maxTS - delay + r.Int64N(delay+3*minute)
			if r.IntN(30) == 0 {
				t0 = wm - 1 - r.Int64N(minute) // late: dropped
			}
			row := srow(int64(r.IntN(4)), id, 0)
			row[2] = ts(t0)
			ins = append(ins, row)
			if wmSet && t0 < wm {
				late++
				continue
			}
			cur = append(cur, row)
			maxTS = max(maxTS, t0)
		}
		f.Push(operators.Insert, ins...)
		// Delete some current rows at or above the watermark.
		var del [][]types.Datum
		for i := 0; i < len(cur) && len(del) < 2; i++ {
			j := r.IntN(len(cur))
			if r.IntN(4) == 0 && (!wmSet || cur[j][2].I >= wm) {
				del = append(del, cur[j])
				cur = append(cur[:j], cur[j+1:]...)
			}
		}
		f.Push(operators.Delete, del...)
		if r.IntN(2) == 0 && maxTS-delay > wm {
			wm, wmSet = maxTS-delay, true
			f.Watermark(2, wm)
		}
		if r.IntN(3) > 0 {
			continue // several steps per epoch
		}
		f.Barrier()
		var want []string
		if eowc {
			if !wmSet {
				continue
			}
			want = sessionize(cur, &wm)
		} else {
			want = sessionize(cur, nil)
		}
		if got := f.Out.Net.Lines(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("step %d (wm %d):\n got %q\nwant %q", step, wm, got, want)
		}
	}
	if f.s.LateRows() != late {
		t.Errorf("late rows %d, want %d", f.s.LateRows(), late)
	}
	if eowc {
		for _, r := range f.Out.All() {
			if r.Op != operators.Insert {
				t.Fatalf("emit-on-close emitted a %s", r.Op)
			}
		}
	}
	// A final watermark closes everything: state empties.
	f.Watermark(2, maxTS+gap)
	f.Barrier()
	if got, want := f.Out.Net.Lines(), sessionize(cur, nil); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("final:\n got %q\nwant %q", got, want)
	}
	if f.s.OpenRows() != 0 || f.s.Keys() != 0 {
		t.Errorf("open rows %d keys %d after the final watermark", f.s.OpenRows(), f.s.Keys())
	}
}
