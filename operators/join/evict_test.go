package join

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// evTypes is (user, item, ts) on both sides of the interval join tests.
var evTypes = []types.T{types.BigIntType, types.BigIntType, types.TimestampType(6)}

// evSchema is the schema of evTypes.
var evSchema = typesSchema(evTypes)

// TestIntervalJoinEvictionDifferential streams random append-only rows
// into both inputs of a time-bounded join (interval and window joins,
// inner and streaming left outer), each row at or above its input's
// latest watermark, with watermarks advancing at random, and the state
// round-tripped through a checkpoint now and then. Seeds 3 and 4 declare
// both inputs append-only (seed 2 the left one only); seeds 2 and 4 scale
// every time by 1000, so an append-only side's rows spread over many
// eviction buckets. After every step
// the output must equal a nested-loop join over every row ever sent (no
// eviction), and the state must hold exactly the rows that can still
// match a future row; an append-only side keeps no row index.
func TestIntervalJoinEvictionDifferential(t *testing.T) {
	type tcase struct {
		kind   Kind
		window bool
	}
	for _, tc := range []tcase{{Inner, false}, {StreamingLeftOuter, false}, {Inner, true}, {StreamingLeftOuter, true}} {
		for seed := uint64(1); seed <= 4; seed++ {
			ao := [2]bool{seed >= 2, seed >= 3}
			name := fmt.Sprintf("kind%d/window=%v/appendonly=%v/seed%d", tc.kind, tc.window, ao, seed)
			t.Run(name, func(t *testing.T) {
				mem := optest.CheckedMem(t)
				r := rand.New(rand.NewPCG(seed, 5))
				tb := TimeBound{LeftCol: 2, RightCol: 2}
				lk, rk := []int{0}, []int{0}
				scale := int64(1)
				if seed%2 == 0 {
					scale = 1000
				}
				step := scale // window starts are multiples of step
				if tc.window {
					lk, rk = []int{0, 2}, []int{0, 2}
					step = 10 * scale
				} else {
					tb.Lo = int64(r.IntN(41)-20) * scale
					tb.Hi = tb.Lo + int64(r.IntN(30))*scale
				}
				c := newCollector(t, append(slices.Clone(evTypes), evTypes...))
				outer := tc.kind == StreamingLeftOuter
				var residual expr.Expr
				if outer {
					// l.item <> r.item; the time bound itself is the operator's.
					residual = &expr.Call{Func: expr.Ne, T: types.BoolType, Args: []expr.Expr{
						&expr.ColumnRef{Index: 1, Name: "item", T: types.BigIntType},
						&expr.ColumnRef{Index: 4, Name: "item", T: types.BigIntType},
					}}
				}
				opts := Options{Time: &tb, AppendOnly: ao}
				newJoin := func() *HashJoin {
					return NewWithOptions(mem, tc.kind, evTypes, evTypes, lk, rk, residual, c.Schema, opts, c)
				}
				j := newJoin()
				optest.CloseAtEnd(t, closeFunc(func() error { return j.Close() }), mem)
				match := func(l, rr row) bool {
					if !keysEqual(l, rr, lk, rk) || l[2].Null || rr[2].Null {
						return false
					}
					if rr[2].I < l[2].I+tb.Lo || rr[2].I > l[2].I+tb.Hi {
						return false
					}
					return !outer || (!l[1].Null && !rr[1].Null && l[1].I != rr[1].I)
				}
				var all [2][]row
				var wm [2]int64
				var hasWM [2]bool
				for st := 0; st < 200; st++ {
					in := r.IntN(2)
					port := j.Left()
					if in == 1 {
						port = j.Right()
					}
					if r.IntN(3) == 0 {
						wm[in] += int64(r.IntN(15)) * scale
						hasWM[in] = true
						if err := port.Push(operators.Watermark{Column: 2, Time: wm[in]}); err != nil {
							t.Fatal(err)
						}
						// A watermark on another column means nothing here.
						if err := port.Push(operators.Watermark{Column: 1, Time: wm[in] + 1000}); err != nil {
							t.Fatal(err)
						}
						continue
					}
					rows := make([]row, 1+r.IntN(5))
					for i := range rows {
						ts := wm[in] + int64(r.IntN(40))*scale
						ts = (ts + step - 1) / step * step // at or above the watermark
						rows[i] = row{types.NewBigInt(int64(r.IntN(4))), types.NewBigInt(int64(r.IntN(3))), types.NewTimestamp(ts)}
						if r.IntN(20) == 0 {
							rows[i][2] = types.NewNull(evTypes[2])
						}
						if r.IntN(20) == 0 {
							rows[i][0] = types.NewNull(evTypes[0])
						}
						all[in] = append(all[in], rows[i])
					}
					if err := optest.Feed(mem, port, evSchema, rows, nil, 0); err != nil {
						t.Fatal(err)
					}
					checkNet(t, c, refJoin(all[0], all[1], match, outer), "step %d (side %d)", st, in)
					if r.IntN(25) == 0 {
						restored := newJoin()
						if _, err := optest.RoundTrip(j, restored); err != nil {
							t.Fatalf("step %d: %v", st, err)
						}
						if err := j.Close(); err != nil {
							t.Fatal(err)
						}
						j = restored
					}
					for k, sd := range j.sides {
						if ao[k] && (len(sd.rhash) > 0 || len(sd.tab) > 0 || len(sd.gen) > 0 || len(sd.same) > 0 || len(sd.heap) > 0) {
							t.Fatalf("step %d: append-only %s side keeps a row index or a heap", st, sd.name)
						}
						// An append-only side of an inner join keeps its times in
						// its links only.
						if omit := ao[k] && tc.kind == Inner; sd.rows.Omitted(sd.tcol) != omit {
							t.Fatalf("step %d: %s side: time column omitted from its rows %v, want %v", st, sd.name, !omit, omit)
						}
						if ao[k] && sd.tsq.len() != sd.rows.Len() {
							t.Fatalf("step %d: %s side: %d slots queued for eviction, %d held", st, sd.name, sd.tsq.len(), sd.rows.Len())
						}
					}
					// Exactly the rows that may still match are held.
					held := 0
					for side := range 2 {
						for _, rw := range all[side] {
							if rw[0].Null || rw[2].Null {
								continue
							}
							keep := true
							if side == 0 && hasWM[1] {
								keep = rw[2].I+tb.Hi >= wm[1]
							}
							if side == 1 && hasWM[0] {
								keep = rw[2].I-tb.Lo >= wm[0]
							}
							if keep {
								held++
							}
						}
					}
					if got := j.StateRows(); got != held {
						t.Fatalf("step %d: %d rows held, want %d (of %d sent)", st, got, held, len(all[0])+len(all[1]))
					}
				}
			})
		}
	}
}

// refJoin is the reference (left outer when outer) join over every row.
func refJoin(left, right []row, match func(l, r row) bool, outer bool) optest.Fold {
	out := optest.Fold{}
	for _, l := range left {
		n := 0
		for _, r := range right {
			if match(l, r) {
				out[joined(l, r)]++
				n++
			}
		}
		if n == 0 && outer {
			pad := slices.Clone(l)
			for _, t := range evTypes {
				pad = append(pad, types.NewNull(t))
			}
			out[optest.FormatRow(pad)]++
		}
	}
	return out
}

// TestIntervalJoinStateStaysFlat runs a self-join of a click stream
// (1000 users, one click a second, bound ±30 minutes, watermarks 5
// seconds behind the newest click) over ten hours of event time: the
// state, the key index and the time heap stay the size of the last hour.
func TestIntervalJoinStateStaysFlat(t *testing.T) {
	mem := optest.CheckedMem(t)
	const sec = int64(1e6)
	var out int
	sinkOut := operators.OutputFunc(func(m operators.Message) error {
		if c, ok := m.(*operators.Chunk); ok {
			out += c.Len()
		}
		return nil
	})
	tb := TimeBound{LeftCol: 2, RightCol: 2, Lo: -1800 * sec, Hi: 1800 * sec}
	j := NewWithOptions(mem, Inner, evTypes, evTypes, []int{0}, []int{0}, nil, outSchema(evTypes, evTypes), Options{Time: &tb}, sinkOut)
	optest.CloseAtEnd(t, j, mem)
	r := rand.New(rand.NewPCG(1, 2))
	var sizes []int
	now := int64(1_800_000_000) * sec
	start := now
	for hour := 1; hour <= 10; hour++ {
		for range 36 { // 100-second batches
			rows := make([]row, 100)
			for i := range rows {
				now += sec
				ts := now - int64(r.IntN(4))*sec // a little out of order
				rows[i] = row{types.NewBigInt(int64(r.IntN(1000))), types.NewBigInt(int64(r.IntN(50))), types.NewTimestamp(ts)}
			}
			for _, p := range []operators.Output{j.Left(), j.Right()} {
				if err := optest.Feed(mem, p, evSchema, rows, nil, 0); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range []operators.Output{j.Left(), j.Right()} {
				if err := p.Push(operators.Watermark{Column: 2, Time: now - 5*sec}); err != nil {
					t.Fatal(err)
				}
			}
		}
		sizes = append(sizes, j.StateRows())
		for _, s := range j.sides {
			if len(s.heap) > s.rows.Len() || s.ihead.len() > 1000 || s.rows.Len() > 1900 {
				t.Fatalf("hour %d: %d rows, %d heap entries, %d keys on the %s side", hour, s.rows.Len(), len(s.heap), s.ihead.len(), s.name)
			}
		}
	}
	if out == 0 || now-start != 36000*sec {
		t.Fatalf("%d output rows over %ds", out, (now-start)/sec)
	}
	lo, hi := slices.Min(sizes[1:]), slices.Max(sizes[1:])
	if hi > lo+lo/20 || hi > 2*1900 {
		t.Fatalf("state by hour %v is not flat", sizes)
	}
}

// TestIntervalJoinRetractEvicted checks a retraction of a freed row is
// ignored, while one of a row that should be held is still an error, and
// that rows arriving below the horizon match but are not kept.
func TestIntervalJoinRetractEvicted(t *testing.T) {
	mem := optest.CheckedMem(t)
	c := newCollector(t, append(slices.Clone(evTypes), evTypes...))
	pairs := func() int { return len(c.Net.Lines()) }
	tb := TimeBound{LeftCol: 2, RightCol: 2, Lo: -10, Hi: 10}
	j := NewWithOptions(mem, Inner, evTypes, evTypes, []int{0}, []int{0}, nil, c.Schema, Options{Time: &tb}, c)
	optest.CloseAtEnd(t, j, mem)
	ev := func(user, item, ts int64) row {
		return row{types.NewBigInt(user), types.NewBigInt(item), types.NewTimestamp(ts)}
	}
	del := []operators.Op{operators.Delete}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(optest.Feed(mem, j.Left(), evSchema, []row{ev(1, 1, 100)}, nil, 0))
	must(optest.Feed(mem, j.Right(), evSchema, []row{ev(1, 2, 105), ev(1, 3, 150)}, nil, 0))
	if pairs() != 1 || j.StateRows() != 3 {
		t.Fatalf("%d pairs, %d rows held", pairs(), j.StateRows())
	}
	must(j.Right().Push(operators.Watermark{Column: 2, Time: 111}))
	if j.StateRows() != 2 {
		t.Fatalf("%d rows held after the right watermark passed the left row", j.StateRows())
	}
	must(optest.Feed(mem, j.Left(), evSchema, []row{ev(1, 1, 100)}, del, 0))
	if pairs() != 1 {
		t.Fatalf("retracting a freed row emitted changes: %d pairs", pairs())
	}
	err := optest.Feed(mem, j.Left(), evSchema, []row{ev(1, 1, 300)}, del, 0)
	if err == nil || !strings.Contains(err.Error(), "not present") {
		t.Fatalf("retracting a row never sent: %v", err)
	}
	// A left row below the horizon (100 + 10 < 111) still matches what is
	// held (the right row at 105, within 10), but is not kept.
	must(optest.Feed(mem, j.Left(), evSchema, []row{ev(1, 4, 99)}, nil, 0))
	if pairs() != 2 || j.StateRows() != 2 {
		t.Fatalf("%d pairs, %d rows held after a row below the horizon", pairs(), j.StateRows())
	}
	must(j.Left().Push(operators.Watermark{Column: 2, Time: 200}))
	if j.StateRows() != 0 {
		t.Fatalf("%d rows held after both watermarks passed every row", j.StateRows())
	}
}

// TestTimeBoundBadColumn checks a time column of the wrong type is an
// error at the first push.
func TestTimeBoundBadColumn(t *testing.T) {
	mem := optest.CheckedMem(t)
	c := newCollector(t, append(slices.Clone(leftTypes), rightTypes...))
	j := NewWithOptions(mem, Inner, leftTypes, rightTypes, []int{0}, []int{0}, nil, c.Schema,
		Options{Time: &TimeBound{LeftCol: 1, RightCol: 0}}, c)
	optest.CloseAtEnd(t, j, mem)
	err := optest.Feed(mem, j.Left(), typesSchema(leftTypes), []row{randRow(rand.New(rand.NewPCG(1, 1)), leftTypes)}, nil, 0)
	if err == nil || !strings.Contains(err.Error(), "time column 1 is") {
		t.Fatalf("error %v", err)
	}
}
