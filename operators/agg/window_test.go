package agg

import (
	"runtime"
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

const minute = int64(60_000_000)

var winCols = []types.Column{
	{Name: "ws", Type: types.TimestampType(6)}, {Name: "item", Type: types.BigIntType}, {Name: "v", Type: types.BigIntType},
}

func winSpecs() []Spec {
	b := types.BigIntType
	return []Spec{
		{Kind: CountStar, Result: b, Name: "n"},
		{Kind: Sum, Arg: 2, ArgType: b, Result: b, Name: "s"},
		{Kind: Max, Arg: 2, ArgType: b, Result: b, Name: "mx"},
		{Kind: CountDistinct, Arg: 2, ArgType: b, Result: b, Name: "dv"},
	}
}

func ws(m int64) types.Datum { return types.NewTimestamp(m * minute) }

func TestWindowUpdateModeClosesAndEvicts(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		f := newFixtureOpts(t, winCols, []int{0, 1}, winSpecs(), false, Options{WatermarkGroupCol: 0}, batch)
		// Out of order within the delay: window 1 before window 0.
		f.Push(operators.Insert, row(ws(1), bi(1), bi(5)), row(ws(0), bi(1), bi(2)), row(ws(0), bi(2), bi(3)), row(ws(0), bi(1), bi(4)))
		f.Expect(
			"+ 1970-01-01 00:00:00,1,2,6,4,2",
			"+ 1970-01-01 00:00:00,2,1,3,3,1",
			"+ 1970-01-01 00:01:00,1,1,5,5,1",
		)
		if g := f.h.Groups(); g != 3 {
			t.Fatalf("groups %d, want 3", g)
		}
		// A change to window 0 in the same epoch as the watermark that
		// closes it is still emitted; then window 0 is evicted.
		f.Push(operators.Insert, row(ws(0), bi(2), bi(7)))
		f.Watermark(0, 1*minute)
		f.Watermark(2, 99) // not a group column: dropped
		f.Push(operators.Insert, row(ws(0), bi(1), bi(100)), row(ws(1), bi(1), bi(1)))
		if len(f.Out.Watermarks) != 0 {
			t.Fatalf("watermark forwarded before the barrier: %v", f.Out.Watermarks)
		}
		f.Expect(
			"1970-01-01 00:00:00,2,1,3,3,1 -> 1970-01-01 00:00:00,2,2,10,7,2",
			"1970-01-01 00:01:00,1,1,5,5,1 -> 1970-01-01 00:01:00,1,2,6,5,2",
		)
		if got := f.Out.Watermarks; len(got) != 1 || got[0] != (operators.Watermark{Column: 0, Time: minute}) {
			t.Fatalf("watermarks %v", got)
		}
		if g, late := f.h.Groups(), f.h.LateRows(); g != 1 || late != 1 {
			t.Fatalf("groups %d late %d, want 1 and 1", g, late)
		}
		// Late rows after eviction do not recreate the group.
		f.Push(operators.Insert, row(ws(0), bi(1), bi(1)), row(ws(0), bi(9), bi(1)))
		f.Expect()
		if g, late := f.h.Groups(), f.h.LateRows(); g != 1 || late != 3 {
			t.Fatalf("groups %d late %d, want 1 and 3", g, late)
		}
		// Retraction in an open window, then close it.
		f.Push(operators.Delete, row(ws(1), bi(1), bi(5)))
		f.Watermark(0, 2*minute)
		f.Expect("1970-01-01 00:01:00,1,2,6,5,2 -> 1970-01-01 00:01:00,1,1,1,1,1")
		if g := f.h.Groups(); g != 0 {
			t.Fatalf("groups %d after every window closed", g)
		}
	})
}

func TestWindowEmitOnClose(t *testing.T) {
	optest.ForBatches(t, func(t *testing.T, batch int) {
		f := newFixtureOpts(t, winCols, []int{0, 1}, winSpecs(), false, Options{WatermarkGroupCol: 0, EmitOnClose: true}, batch)
		f.Push(operators.Insert, row(ws(1), bi(1), bi(5)), row(ws(0), bi(1), bi(2)), row(ws(0), bi(2), bi(3)), row(ws(0), bi(3), bi(3)))
		f.Expect() // nothing until a window closes
		f.Push(operators.Insert, row(ws(0), bi(1), bi(4)))
		f.Push(operators.Delete, row(ws(0), bi(3), bi(3))) // group vanishes before close
		f.Watermark(0, minute)
		f.Expect(
			"+ 1970-01-01 00:00:00,1,2,6,4,2",
			"+ 1970-01-01 00:00:00,2,1,3,3,1",
		)
		// Window 0 never again: a late row is dropped.
		f.Push(operators.Insert, row(ws(0), bi(1), bi(4)), row(ws(2), bi(1), bi(8)))
		f.Expect()
		f.Watermark(0, minute) // repeated watermark: nothing new closes
		f.Expect()
		f.Watermark(0, 3*minute)
		f.Expect(
			"+ 1970-01-01 00:01:00,1,1,5,5,1",
			"+ 1970-01-01 00:02:00,1,1,8,8,1",
		)
		for _, ep := range f.Out.Epochs {
			for _, r := range ep {
				if r.Op != operators.Insert {
					t.Fatalf("EMIT ON WINDOW CLOSE emitted a %s", r.Op)
				}
			}
		}
		if g, late := f.h.Groups(), f.h.LateRows(); g != 0 || late != 1 {
			t.Fatalf("groups %d late %d", g, late)
		}
	})
}

func TestWindowOptionsRejected(t *testing.T) {
	f := newFixture(t, kvCols, []int{0}, nil, false, 1)
	schema := types.Schema(winCols).Arrow()
	in := []types.T{winCols[0].Type, winCols[1].Type, winCols[2].Type}
	out := operators.OutputFunc(func(operators.Message) error { return nil })
	for i, o := range []Options{{WatermarkGroupCol: 2}, {WatermarkGroupCol: -1, EmitOnClose: true}, {WatermarkGroupCol: -2}} {
		if _, err := NewWithOptions(f.Mem, schema, in, []int{0, 1}, winSpecs(), false, o, out); err == nil {
			t.Errorf("case %d: accepted %+v", i, o)
		}
	}
	text := []types.Column{{Name: "s", Type: types.TextType}}
	if _, err := NewWithOptions(f.Mem, types.Schema(text).Arrow(), []types.T{types.TextType}, []int{0}, nil, false, Options{WatermarkGroupCol: 0}, out); err == nil {
		t.Errorf("accepted a VARCHAR watermark column")
	}
}

// TestWindowStateBounded feeds 60 windows × 2000 keys, with rows of the
// previous window arriving out of order within the delay, and checks the
// live group count and the distinct-value pairs stay bounded and the heap
// stays flat: closed windows are evicted.
func TestWindowStateBounded(t *testing.T) {
	for _, tc := range []struct {
		name       string
		eowc       bool
		appendOnly bool
		single     bool // GROUP BY ws only (the integer-key table)
	}{{"update", false, false, false}, {"eowc", true, false, false}, {"eowcAppendOnly", true, true, false}, {"singleKey", false, true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			const keys, windows = 2000, 60
			groupCols := []int{0, 1}
			if tc.single {
				groupCols = []int{0}
			}
			f := newFixtureOpts(t, winCols, groupCols, winSpecs(), tc.appendOnly, Options{WatermarkGroupCol: 0, EmitOnClose: tc.eowc}, 1024)
			f.Out.T = t
			rows := make([][]types.Datum, 0, 3*keys)
			var heapAt10 uint64
			emitted := 0
			for w := int64(1); w <= windows; w++ {
				rows = rows[:0]
				for k := int64(0); k < keys; k++ {
					rows = append(rows, row(ws(w), bi(k), bi(k%7)), row(ws(w), bi(k), bi(w)))
					if k%4 == 0 { // out of order: the previous window, still open
						rows = append(rows, row(ws(w-1), bi(k), bi(k)))
					}
				}
				f.Push(operators.Insert, rows...)
				f.Watermark(0, (w-1)*minute) // closes windows < w-1
				f.Barrier()
				emitted += len(f.Out.LastEpoch())
				f.Out.Epochs = nil // keep the test's own memory flat
				limit := 2 * keys
				if tc.single {
					limit = 2
				}
				if g := f.h.Groups(); g > limit {
					t.Fatalf("window %d: %d live groups, want <= %d", w, g, limit)
				}
				if w == 10 {
					heapAt10 = liveHeap()
				}
			}
			if tc.eowc && !tc.single {
				// Windows 0 (a quarter of the keys) to windows-2 closed.
				if want := keys/4 + (windows-2)*keys; emitted != want {
					t.Errorf("emitted %d rows, want %d (each closed window once)", emitted, want)
				}
			}
			if h := liveHeap(); h > heapAt10+heapAt10/2+1<<20 {
				t.Errorf("heap grew from %d to %d bytes between windows 10 and %d", heapAt10, h, windows)
			}
			for _, a := range f.h.accs {
				var pairs int
				switch d := a.(type) {
				case *distinctAcc[int64]:
					pairs = len(d.set) + len(d.idx)
				default:
					continue
				}
				if pairs > 3*2*keys {
					t.Errorf("%d distinct pairs held", pairs)
				}
			}
			if f.h.LateRows() != 0 {
				t.Errorf("late rows %d", f.h.LateRows())
			}
		})
	}
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
