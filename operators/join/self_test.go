package join

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// take returns the changes c collected since the last take, as sorted
// "op row" lines: the raw changes, not their net. It empties c.Pending.
func take(c *optest.Collector) []string {
	rows := c.Pending
	c.Pending = nil
	return optest.OpLines(rows, nil)
}

// project returns rows with each row narrowed to cols.
func project(rows []optest.OutRow, cols []int) []optest.OutRow {
	out := make([]optest.OutRow, len(rows))
	for i, r := range rows {
		vals := make([]types.Datum, len(cols))
		for k, c := range cols {
			vals[k] = r.Vals[c]
		}
		out[i] = optest.OutRow{Op: r.Op, Vals: vals}
	}
	return out
}

// TestSelfJoinDifferential streams one random changelog into a self-join
// (Options.Self, one port) and into the two-sided join of the stream with
// itself (every chunk on the left port, then on the right; every
// watermark on both): after every step, the changes each emitted (rows
// and ops, not only their net) must be the same. The streams have
// duplicates, NULL keys and times, rows out of order and below the
// watermark, and (unless append-only) retractions of present rows, also
// of rows inserted in the same chunk; bounds are random and asymmetric
// (some exclude a row's pair with itself), or absent; keys are one BIGINT
// or (BIGINT, BIGINT). The self-join emits a random subset of the columns
// (Options.Output), checked against the two-sided join's full rows
// narrowed, and is checkpointed and restored now and then. The self-join
// holds each row once: as many rows as the larger of the two-sided
// join's sides.
func TestSelfJoinDifferential(t *testing.T) {
	for _, appendOnly := range []bool{true, false} {
		for _, timed := range []bool{true, false} {
			for _, composite := range []bool{false, true} {
				for seed := uint64(1); seed <= 6; seed++ {
					name := fmt.Sprintf("appendonly=%v/timed=%v/composite=%v/seed%d", appendOnly, timed, composite, seed)
					t.Run(name, func(t *testing.T) { testSelfJoin(t, seed, appendOnly, timed, composite) })
				}
			}
		}
	}
}

func testSelfJoin(t *testing.T, seed uint64, appendOnly, timed, composite bool) {
	mem := optest.CheckedMem(t)
	r := rand.New(rand.NewPCG(seed, 77))
	keys := []int{0}
	if composite {
		keys = []int{0, 1}
	}
	opts := Options{AppendOnly: [2]bool{appendOnly, appendOnly}}
	if timed {
		lo := int64(r.IntN(41) - 20)
		opts.Time = &TimeBound{LeftCol: 2, RightCol: 2, Lo: lo, Hi: lo + int64(r.IntN(30))}
	}
	outTypes := append(slices.Clone(evTypes), evTypes...)
	// A random list of output columns, in any order, maybe repeating.
	var cols []int
	for range 1 + r.IntN(6) {
		cols = append(cols, r.IntN(len(outTypes)))
	}
	selfTypes := make([]types.T, len(cols))
	for i, c := range cols {
		selfTypes[i] = outTypes[c]
	}
	ref := newCollector(t, outTypes)
	got := newCollector(t, selfTypes)
	two := NewWithOptions(mem, Inner, evTypes, evTypes, keys, keys, nil, ref.Schema, opts, ref)
	optest.CloseAtEnd(t, two, mem)
	selfOpts := opts
	selfOpts.Self, selfOpts.Output = true, cols
	newSelf := func() *HashJoin {
		return NewWithOptions(mem, Inner, evTypes, evTypes, keys, keys, nil, got.Schema, selfOpts, got)
	}
	self := newSelf()
	optest.CloseAtEnd(t, closeFunc(func() error { return self.Close() }), mem)

	var live []row // rows inserted and not retracted (multiset)
	var wm int64
	// Without a bound nothing is freed: fewer steps and more keys keep
	// the output small.
	steps, users := 250, 4
	if !timed {
		steps, users = 100, 12
	}
	for st := 0; st < steps; st++ {
		if timed && r.IntN(4) == 0 {
			wm += int64(r.IntN(12))
			w := operators.Watermark{Column: 2, Time: wm}
			for _, p := range []operators.Output{two.Left(), two.Right(), self.Self()} {
				if err := p.Push(w); err != nil {
					t.Fatal(err)
				}
			}
		} else {
			n := 1 + r.IntN(8)
			if r.IntN(10) == 0 {
				n = 60
			}
			var rows []row
			var ops []operators.Op
			for range n {
				if !appendOnly && len(live) > 0 && r.IntN(3) == 0 {
					k := r.IntN(len(live))
					rows = append(rows, live[k])
					ops = append(ops, operators.Delete)
					live = slices.Delete(live, k, k+1)
					continue
				}
				// Times from well below the watermark to above it.
				ts := wm + int64(r.IntN(50)-15)
				rw := row{types.NewBigInt(int64(r.IntN(users))), types.NewBigInt(int64(r.IntN(3))), types.NewTimestamp(ts)}
				if r.IntN(15) == 0 {
					rw[0] = types.NewNull(evTypes[0])
				}
				if r.IntN(15) == 0 {
					rw[1] = types.NewNull(evTypes[1])
				}
				if r.IntN(15) == 0 {
					rw[2] = types.NewNull(evTypes[2])
				}
				if len(live) > 0 && r.IntN(5) == 0 {
					rw = live[r.IntN(len(live))] // a duplicate
				}
				rows = append(rows, rw)
				ops = append(ops, operators.Insert)
				live = append(live, rw)
			}
			if !slices.Contains(ops, operators.Delete) {
				ops = nil
			}
			for _, p := range []operators.Output{two.Left(), two.Right(), self.Self()} {
				if err := optest.Feed(mem, p, evSchema, rows, ops, 0); err != nil {
					t.Fatalf("step %d: %v", st, err)
				}
			}
		}
		want := optest.OpLines(project(ref.Pending, cols), nil)
		ref.Pending = nil
		if d := optest.DiffLines(take(got), want); d != "" {
			t.Fatalf("step %d: self-join changes differ from the two-sided join's: %s", st, d)
		}
		if h, l, rr := self.StateRows(), two.sides[0].rows.Len(), two.sides[1].rows.Len(); h != max(l, rr) {
			t.Fatalf("step %d: self-join holds %d rows, the two-sided join %d left and %d right", st, h, l, rr)
		}
		if r.IntN(30) == 0 {
			restored := newSelf()
			if _, err := optest.RoundTrip(self, restored); err != nil {
				t.Fatalf("step %d: %v", st, err)
			}
			if err := self.Close(); err != nil {
				t.Fatal(err)
			}
			self = restored
		}
	}
	for _, p := range []operators.Output{two.Left(), two.Right(), self.Self()} {
		if err := p.Push(operators.Barrier{Epoch: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if len(ref.Epochs) != 1 || len(got.Epochs) != 1 {
		t.Fatalf("barriers forwarded: two-sided %d, self-join %d", len(ref.Epochs), len(got.Epochs))
	}
}

// TestSelfJoinChunkPairs checks the pairs of rows of one chunk: each
// unordered pair once in each orientation within the bound, and each row
// once with itself when the bound holds 0.
func TestSelfJoinChunkPairs(t *testing.T) {
	mem := optest.CheckedMem(t)
	outTypes := append(slices.Clone(evTypes), evTypes...)
	for _, tb := range []TimeBound{{2, 2, -5, 5}, {2, 2, 1, 5}} {
		c := newCollector(t, outTypes)
		j := NewWithOptions(mem, Inner, evTypes, evTypes, []int{0}, []int{0}, nil, c.Schema,
			Options{Time: &tb, AppendOnly: [2]bool{true, true}, Self: true}, c)
		ev := func(user, item, ts int64) row {
			return row{types.NewBigInt(user), types.NewBigInt(item), types.NewTimestamp(ts)}
		}
		a, b, d := ev(1, 1, 100), ev(1, 2, 103), ev(2, 3, 100)
		h := &optest.Harness{T: t, Mem: mem, Input: j.Self(), InSchema: evSchema, Out: c}
		h.Push(operators.Insert, a, b, d)
		pair := func(l, r row) optest.OutRow {
			return optest.OutRow{Op: operators.Insert, Vals: append(slices.Clone(l), r...)}
		}
		want := []optest.OutRow{pair(a, b)}
		if tb.Lo <= 0 {
			want = append(want, pair(b, a), pair(a, a), pair(b, b), pair(d, d))
		}
		optest.CheckLines(t, fmt.Sprintf("bound %+v", tb), take(c), optest.OpLines(want, nil)...)
		if err := optest.Feed(mem, j.Right(), evSchema, []row{a}, nil, 0); err == nil {
			t.Fatal("a self-join took a chunk on its right port")
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSelfJoinSkipSelfPairs feeds one random append-only stream (with
// duplicate rows, NULL keys and times, rows out of order) to an
// append-only self-join with Options.SkipSelfPairs and to one without:
// the changes of the first must be those of the second less exactly one
// pair of each stored row with itself (left equal to right), as many as
// rows were stored: a duplicate's pair with its copy stays.
func TestSelfJoinSkipSelfPairs(t *testing.T) {
	mem := optest.CheckedMem(t)
	outTypes := append(slices.Clone(evTypes), evTypes...)
	for _, timed := range []bool{true, false} {
		r := rand.New(rand.NewPCG(5, 6))
		opts := Options{AppendOnly: [2]bool{true, true}, Self: true}
		if timed {
			opts.Time = &TimeBound{LeftCol: 2, RightCol: 2, Lo: -7, Hi: 4}
		}
		all, some := newCollector(t, outTypes), newCollector(t, outTypes)
		full := NewWithOptions(mem, Inner, evTypes, evTypes, []int{0}, []int{0}, nil, all.Schema, opts, all)
		opts.SkipSelfPairs = true
		skip := NewWithOptions(mem, Inner, evTypes, evTypes, []int{0}, []int{0}, nil, some.Schema, opts, some)
		var seen []row
		stored := 0
		for st := 0; st < 120; st++ {
			var rows []row
			for range 1 + r.IntN(9) {
				rw := row{types.NewBigInt(int64(r.IntN(5))), types.NewBigInt(int64(r.IntN(3))), types.NewTimestamp(int64(st + r.IntN(6)))}
				if r.IntN(12) == 0 {
					rw[0] = types.NewNull(evTypes[0])
				} else if r.IntN(12) == 0 {
					rw[2] = types.NewNull(evTypes[2])
				} else if len(seen) > 0 && r.IntN(5) == 0 {
					rw = seen[r.IntN(len(seen))] // a duplicate
				}
				if !rw[0].Null && (!timed || !rw[2].Null) {
					stored++ // a NULL time matters only with a bound
				}
				seen = append(seen, rw)
				rows = append(rows, rw)
			}
			for _, p := range []operators.Output{full.Self(), skip.Self()} {
				if err := optest.Feed(mem, p, evSchema, rows, nil, 0); err != nil {
					t.Fatal(err)
				}
			}
		}
		count := map[string]int{}
		for _, l := range take(all) {
			count[l]++
		}
		for _, l := range take(some) {
			if count[l]--; count[l] < 0 {
				t.Fatalf("timed=%v: the skipping join emitted %s beyond the full join's", timed, l)
			}
		}
		removed := 0
		for l, n := range count {
			if n == 0 {
				continue
			}
			removed += n
			f := strings.Split(strings.TrimPrefix(l, "insert "), ",")
			if len(f) != 6 || !slices.Equal(f[:3], f[3:]) {
				t.Fatalf("timed=%v: the skipping join left out %s, not a row with itself", timed, l)
			}
		}
		if removed != stored {
			t.Fatalf("timed=%v: %d pairs left out, want one per stored row: %d", timed, removed, stored)
		}
		for _, j := range []*HashJoin{full, skip} {
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSelfJoinUnordered: an append-only self-join with Options.Unordered
// (output: the value column of both roles, either way round) emits each
// unordered pair of rows with unequal, non-NULL values once, oriented so
// that its left value is below the right one: exactly the pairs of the
// plain self-join whose left value is below the right one. The streams
// have duplicates, NULL keys, values and times, a symmetric time bound
// or none, and watermarks that free rows. Rows below the role horizons
// (duplicates of old rows, and more with late) pair in one orientation
// only: a chunk holding one is emitted as by the plain join, so the test
// compares the pairs whose left value is below the right one (what the
// caller's filter keeps), and checks most pairs came once.
func TestSelfJoinUnordered(t *testing.T) {
	mem := optest.CheckedMem(t)
	for _, c := range []struct {
		timed, late bool
		output      []int
	}{{true, false, []int{1, 4}}, {true, false, []int{4, 1}}, {false, false, []int{1, 4}}, {false, false, []int{4, 1}}, {true, true, []int{1, 4}}, {true, true, []int{4, 1}}} {
		timed, output := c.timed, c.output
		r := rand.New(rand.NewPCG(7, 8))
		opts := Options{AppendOnly: [2]bool{true, true}, Self: true, Output: output}
		if timed {
			opts.Time = &TimeBound{LeftCol: 2, RightCol: 2, Lo: -4, Hi: 4}
		}
		outTypes := []types.T{types.BigIntType, types.BigIntType}
		all, some := newCollector(t, outTypes), newCollector(t, outTypes)
		full := NewWithOptions(mem, Inner, evTypes, evTypes, []int{0}, []int{0}, nil, all.Schema, opts, all)
		opts.Unordered = true
		unord := NewWithOptions(mem, Inner, evTypes, evTypes, []int{0}, []int{0}, nil, some.Schema, opts, some)
		var seen []row
		for st := 0; st < 120; st++ {
			var rows []row
			for range 1 + r.IntN(9) {
				rw := row{types.NewBigInt(int64(r.IntN(4))), types.NewBigInt(int64(r.IntN(4))), types.NewTimestamp(int64(st + r.IntN(6)))}
				if c.late && r.IntN(20) == 0 {
					rw[2] = types.NewTimestamp(int64(st - 10 - r.IntN(4))) // below the horizons
				}
				switch {
				case r.IntN(12) == 0:
					rw[0] = types.NewNull(evTypes[0])
				case r.IntN(12) == 0:
					rw[1] = types.NewNull(evTypes[1])
				case r.IntN(12) == 0:
					rw[2] = types.NewNull(evTypes[2])
				case len(seen) > 0 && r.IntN(5) == 0:
					rw = seen[r.IntN(len(seen))] // a duplicate
				}
				seen = append(seen, rw)
				rows = append(rows, rw)
			}
			for _, p := range []operators.Output{full.Self(), unord.Self()} {
				if err := optest.Feed(mem, p, evSchema, rows, nil, 0); err != nil {
					t.Fatal(err)
				}
				if timed && st%10 == 9 {
					if err := p.Push(operators.Watermark{Column: 2, Time: int64(st - 3)}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		// The plain join's pairs whose left value is below the right.
		left, right := 0, 1
		if output[0] == 4 {
			left, right = 1, 0
		}
		below := func(lines []string) []string {
			var out []string
			for _, l := range lines {
				f := strings.Split(strings.TrimPrefix(l, "insert "), ",")
				a, errA := strconv.Atoi(f[left])
				b, errB := strconv.Atoi(f[right])
				if errA == nil && errB == nil && a < b { // NULL does not parse
					out = append(out, l)
				}
			}
			return out
		}
		allLines, someLines := take(all), take(some)
		want, got := below(allLines), below(someLines)
		// Most chunks have no row below the horizons: their pairs
		// come once, not in both orders.
		if len(someLines) > len(allLines)*3/4 {
			t.Fatalf("timed=%v late=%v output=%v: %d pairs of %d: not once per unordered pair", timed, c.late, output, len(someLines), len(allLines))
		}
		slices.Sort(want)
		slices.Sort(got)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Fatalf("timed=%v late=%v output=%v: %d pairs, want %d\ngot  %v...\nwant %v...", timed, c.late, output, len(got), len(want), got[:min(10, len(got))], want[:min(10, len(want))])
		}
		for _, j := range []*HashJoin{full, unord} {
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSelfJoinOptionErrors checks a self-join of inputs that differ, or
// of an outer join, is refused.
func TestSelfJoinOptionErrors(t *testing.T) {
	mem := optest.CheckedMem(t)
	out := typesSchema(append(slices.Clone(evTypes), evTypes...))
	nop := operators.OutputFunc(func(operators.Message) error { return nil })
	other := []types.T{types.BigIntType, types.TextType, types.TimestampType(6)}
	for _, tc := range []struct {
		name   string
		kind   Kind
		rt     []types.T
		lk, rk []int
		opts   Options
		want   string
	}{
		{"outer", StreamingLeftOuter, evTypes, []int{0}, []int{0}, Options{Self: true}, "inner join"},
		{"types", Inner, other, []int{0}, []int{0}, Options{Self: true}, "different types"},
		{"keys", Inner, evTypes, []int{0}, []int{1}, Options{Self: true}, "different keys"},
		{"appendonly", Inner, evTypes, []int{0}, []int{0}, Options{Self: true, AppendOnly: [2]bool{true, false}}, "AppendOnly"},
		{"time", Inner, evTypes, []int{0}, []int{0}, Options{Self: true, Time: &TimeBound{LeftCol: 2, RightCol: 0}}, "time column"},
		{"output", StreamingLeftOuter, evTypes, []int{0}, []int{0}, Options{Output: []int{0}}, "narrows"},
		{"unordered", Inner, evTypes, []int{0}, []int{0}, Options{Self: true, Unordered: true}, "Unordered"},
		{"unordered column", Inner, evTypes, []int{0}, []int{0}, Options{Self: true, Unordered: true, Output: []int{1, 3}}, "Unordered"},
		{"unordered time", Inner, evTypes, []int{0}, []int{0}, Options{Self: true, Unordered: true, Output: []int{1, 4}, Time: &TimeBound{LeftCol: 2, RightCol: 2, Lo: -3, Hi: 4}}, "symmetric"},
	} {
		schema := out
		if tc.opts.Output != nil {
			schema = typesSchema(evTypes[:len(tc.opts.Output)])
		}
		j := NewWithOptions(mem, tc.kind, evTypes, tc.rt, tc.lk, tc.rk, nil, schema, tc.opts, nop)
		err := optest.Feed(mem, j.Left(), evSchema, []row{{types.NewBigInt(1), types.NewBigInt(1), types.NewTimestamp(1)}}, nil, 0)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one about %q", tc.name, err, tc.want)
		}
		j.Close()
	}
}
