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

var (
	leftTypes  = []types.T{types.BigIntType, types.TextType, types.BigIntType, types.DateType}
	rightTypes = []types.T{types.BigIntType, types.TextType, types.BigIntType, types.DoubleType}
)

type row = []types.Datum

// randRow draws a row with small domains (duplicates and shared keys are
// common) and NULLs, also in key columns.
func randRow(r *rand.Rand, ts []types.T) row {
	out := make(row, len(ts))
	for i, t := range ts {
		if r.IntN(7) == 0 {
			out[i] = types.NewNull(t)
			continue
		}
		v := r.IntN(4)
		switch t.Kind {
		case types.BigInt:
			out[i] = types.NewBigInt(int64(v))
		case types.Varchar:
			out[i] = types.NewText([]string{"", "a", "bb", "é"}[v])
		case types.Date:
			out[i] = types.NewDate(int32(v))
		case types.Double:
			out[i] = types.NewDouble(float64(v) / 2)
		}
	}
	return out
}

// newCollector returns a collector of a join's output rows of types ts:
// it checks the operator contract (optest.Collector, with chunks of at
// most maxOut rows) and keeps the net output (Net).
func newCollector(t testing.TB, ts []types.T) *optest.Collector {
	c := optest.NewCollector(t, typesSchema(ts), ts)
	c.MaxChunkRows = maxOut
	c.Net = optest.Fold{}
	return c
}

// checkNet fails t when the net output c collected is not want.
func checkNet(t testing.TB, c *optest.Collector, want optest.Fold, format string, args ...any) {
	t.Helper()
	if d := optest.DiffLines(c.Net.Lines(), want.Lines()); d != "" {
		t.Fatalf("%s: net output %s", fmt.Sprintf(format, args...), d)
	}
}

// closeFunc adapts a func to the Close of optest.CloseAtEnd, for a join
// variable that a test replaces (by restoring a checkpoint).
type closeFunc func() error

func (f closeFunc) Close() error { return f() }

// joined is the line of the pair (l, r) in a Fold.
func joined(l, r row) string { return optest.FormatRow(append(slices.Clone(l), r...)) }

func keysEqual(l, r row, lk, rk []int) bool {
	for i := range lk {
		a, b := l[lk[i]], r[rk[i]]
		if a.Null || b.Null || types.Compare(a, b) != 0 {
			return false
		}
	}
	return true
}

// innerJoin is the reference: a nested loop over the current multisets.
func innerJoin(left, right []row, lk, rk []int) optest.Fold {
	out := optest.Fold{}
	for _, l := range left {
		for _, r := range right {
			if keysEqual(l, r, lk, rk) {
				out[joined(l, r)]++
			}
		}
	}
	return out
}

var keyConfigs = []struct {
	name   string
	lk, rk []int
}{
	{"bigint", []int{0}, []int{2}},
	{"text", []int{1}, []int{1}},
	{"bigint-text", []int{0, 1}, []int{2, 1}},
	{"date-bigint", []int{3, 2}, []int{0, 2}},
}

// TestHashJoinInnerDifferential feeds random inserts and deletes (of rows
// present) to both sides in random interleavings and chunk sizes, folds
// the output changelog, and compares it after every chunk with a nested
// loop join of the current inputs. With seeds 3 and 4 the left input is
// append-only (inserts only, declared in Options.AppendOnly).
func TestHashJoinInnerDifferential(t *testing.T) {
	for _, kc := range keyConfigs {
		for seed := uint64(1); seed <= 4; seed++ {
			leftAO := seed >= 3
			t.Run(fmt.Sprintf("%s/leftappendonly=%v/seed%d", kc.name, leftAO, seed), func(t *testing.T) {
				mem := optest.CheckedMem(t)
				r := rand.New(rand.NewPCG(seed, 42))
				lt, rt := leftTypes, rightTypes
				if kc.name == "date-bigint" {
					// Join a DATE with a DATE: make right column 0 a DATE.
					rt = []types.T{types.DateType, types.TextType, types.BigIntType, types.DoubleType}
				}
				c := newCollector(t, append(slices.Clone(lt), rt...))
				j := NewWithOptions(mem, Inner, lt, rt, kc.lk, kc.rk, nil, c.Schema, Options{AppendOnly: [2]bool{leftAO, false}}, c)
				optest.CloseAtEnd(t, j, mem)
				var state [2][]row
				sideTypes := [2][]types.T{lt, rt}
				for step := 0; step < 150; step++ {
					in := r.IntN(2)
					n := 1 + r.IntN(6)
					if r.IntN(10) == 0 {
						n = 40
					}
					var rows []row
					var ops []operators.Op
					deletes := false
					for range n {
						cur := state[in]
						if len(cur) > 0 && r.IntN(3) == 0 && !(leftAO && in == 0) {
							i := r.IntN(len(cur))
							rows = append(rows, cur[i])
							state[in] = slices.Delete(cur, i, i+1)
							op := operators.Delete
							if r.IntN(2) == 0 {
								op = operators.UpdateBefore
							}
							ops = append(ops, op)
							deletes = true
							continue
						}
						nr := randRow(r, sideTypes[in])
						if len(cur) > 0 && r.IntN(4) == 0 {
							nr = slices.Clone(cur[r.IntN(len(cur))]) // an exact duplicate
						}
						rows = append(rows, nr)
						state[in] = append(state[in], nr)
						op := operators.Insert
						if r.IntN(3) == 0 {
							op = operators.UpdateAfter
						}
						ops = append(ops, op)
					}
					if !deletes && r.IntN(2) == 0 {
						ops = nil
					}
					port := j.Left()
					if in == 1 {
						port = j.Right()
					}
					if err := optest.Feed(mem, port, typesSchema(sideTypes[in]), rows, ops, 0); err != nil {
						t.Fatal(err)
					}
					if r.IntN(10) == 0 {
						if err := j.Left().Push(operators.Barrier{Epoch: uint64(step + 1)}); err != nil {
							t.Fatal(err)
						}
						if err := j.Right().Push(operators.Barrier{Epoch: uint64(step + 1)}); err != nil {
							t.Fatal(err)
						}
					}
					checkNet(t, c, innerJoin(state[0], state[1], kc.lk, kc.rk), "step %d (side %d, %d rows)", step, in, len(rows))
				}
				if len(c.Epochs) == 0 {
					t.Log("no barrier drawn")
				}
			})
		}
	}
}

// leftJoin is the reference left outer join with residual l.v < r.w
// (columns 2 of each side), NULL comparisons failing.
func leftJoin(left, right []row, lk, rk []int, residual bool, rtypes []types.T) optest.Fold {
	out := optest.Fold{}
	for _, l := range left {
		matched := false
		for _, r := range right {
			if !keysEqual(l, r, lk, rk) {
				continue
			}
			if residual && (l[2].Null || r[2].Null || l[2].I >= r[2].I) {
				continue
			}
			matched = true
			out[joined(l, r)]++
		}
		if !matched {
			pad := slices.Clone(l)
			for _, t := range rtypes {
				pad = append(pad, types.NewNull(t))
			}
			out[optest.FormatRow(pad)]++
		}
	}
	return out
}

// TestHashJoinLeftOuter compares the bounded left outer join, with and
// without a residual predicate, with a reference left join.
func TestHashJoinLeftOuter(t *testing.T) {
	for _, kc := range keyConfigs[:3] {
		for _, withResidual := range []bool{false, true} {
			for seed := uint64(1); seed <= 3; seed++ {
				t.Run(fmt.Sprintf("%s/residual=%v/seed%d", kc.name, withResidual, seed), func(t *testing.T) {
					mem := optest.CheckedMem(t)
					r := rand.New(rand.NewPCG(seed, 7))
					c := newCollector(t, append(slices.Clone(leftTypes), rightTypes...))
					var residual expr.Expr
					if withResidual {
						residual = ltResidual()
					}
					j := New(mem, LeftOuter, leftTypes, rightTypes, kc.lk, kc.rk, residual, c.Schema, c)
					optest.CloseAtEnd(t, j, mem)
					var state [2][]row
					ts := [2][]types.T{leftTypes, rightTypes}
					for range 12 {
						in := r.IntN(2)
						rows := make([]row, 1+r.IntN(8))
						var ops []operators.Op
						for i := range rows {
							if cur := state[in]; len(cur) > 0 && r.IntN(5) == 0 {
								// Buffered rows may be retracted too.
								k := r.IntN(len(cur))
								rows[i] = cur[k]
								state[in] = slices.Delete(cur, k, k+1)
								ops = append(ops, operators.Delete)
								continue
							}
							rows[i] = randRow(r, ts[in])
							state[in] = append(state[in], rows[i])
							ops = append(ops, operators.Insert)
						}
						port := j.Left()
						if in == 1 {
							port = j.Right()
						}
						if err := optest.Feed(mem, port, typesSchema(ts[in]), rows, ops, 0); err != nil {
							t.Fatal(err)
						}
					}
					if c.Chunks != 0 {
						t.Fatal("left outer join emitted before the barrier")
					}
					if err := j.Left().Push(operators.Barrier{Epoch: 1}); err != nil {
						t.Fatal(err)
					}
					if len(c.Epochs) != 0 || c.Chunks != 0 {
						t.Fatal("barrier forwarded before it arrived on both inputs")
					}
					if err := j.Right().Push(operators.Barrier{Epoch: 1}); err != nil {
						t.Fatal(err)
					}
					if len(c.Epochs) != 1 {
						t.Fatalf("%d barriers forwarded", len(c.Epochs))
					}
					checkNet(t, c, leftJoin(state[0], state[1], kc.lk, kc.rk, withResidual, rightTypes), "left join")
				})
			}
		}
	}
}

// TestHashJoinPassThrough checks watermarks are dropped and a
// barrier is forwarded once both inputs delivered it.
func TestHashJoinPassThrough(t *testing.T) {
	mem := optest.CheckedMem(t)
	out := &optest.Recorder{T: t, Types: append(slices.Clone(leftTypes), rightTypes...)}
	var barriers []operators.Barrier // as forwarded, Now included
	tap := operators.OutputFunc(func(m operators.Message) error {
		if b, ok := m.(operators.Barrier); ok {
			barriers = append(barriers, b)
		}
		return out.Push(m)
	})
	j := New(mem, Inner, leftTypes, rightTypes, []int{0}, []int{0}, nil, outSchema(leftTypes, rightTypes), tap)
	optest.CloseAtEnd(t, j, mem)
	if err := j.Left().Push(operators.Watermark{Column: 0, Time: 5}); err != nil {
		t.Fatal(err)
	}
	if err := j.Right().Push(operators.Barrier{Epoch: 3, Now: 7}); err != nil {
		t.Fatal(err)
	}
	if len(out.Log) != 0 || len(barriers) != 0 {
		t.Fatalf("forwarded %q", out.Log)
	}
	if err := j.Left().Push(operators.Barrier{Epoch: 3, Now: 7}); err != nil {
		t.Fatal(err)
	}
	// The Recorder logs a forwarded watermark before the barrier.
	optest.CheckLines(t, "forwarded", out.Log, "barrier 3")
	if !slices.Equal(barriers, []operators.Barrier{{Epoch: 3, Now: 7}}) {
		t.Fatalf("forwarded barriers %v", barriers)
	}
}

// TestHashJoinBadInput checks a chunk of the wrong shape is an error, not
// a panic.
func TestHashJoinBadInput(t *testing.T) {
	mem := optest.CheckedMem(t)
	c := newCollector(t, append(slices.Clone(leftTypes), rightTypes...))
	j := New(mem, Inner, leftTypes, rightTypes, []int{0}, []int{0}, nil, c.Schema, c)
	optest.CloseAtEnd(t, j, mem)
	err := optest.Feed(mem, j.Left(), typesSchema(rightTypes[:2]), []row{{types.NewBigInt(1), types.NewText("x")}}, nil, 0)
	if err == nil {
		t.Fatal("chunk with 2 columns accepted by a 4-column input")
	}
	err = optest.Feed(mem, j.Left(), typesSchema(rightTypes), []row{{types.NewBigInt(1), types.NewText("x"), types.NewBigInt(1), types.NewDouble(1)}}, nil, 0)
	if err == nil {
		t.Fatal("chunk with a DOUBLE where a DATE is declared accepted")
	}
	if c.Chunks != 0 {
		t.Fatalf("%d chunks emitted for bad input", c.Chunks)
	}
}

// TestHashJoinLargeFanout checks a chunk with more matches than one output
// chunk holds is split, and deletes retract every pair.
func TestHashJoinLargeFanout(t *testing.T) {
	mem := optest.CheckedMem(t)
	ts := []types.T{types.IntType, types.TextType}
	rs := []types.T{types.BigIntType}
	c := newCollector(t, append(slices.Clone(ts), rs...))
	tr := &optest.Transcript{Next: c, Types: c.Types, ChunkEnds: true}
	// An INT key joins a BIGINT key.
	j := New(mem, Inner, ts, rs, []int{0}, []int{0}, nil, c.Schema, tr)
	optest.CloseAtEnd(t, j, mem)
	var left []row
	for i := range 100 {
		left = append(left, row{types.NewInt(7), types.NewText(fmt.Sprint(i % 10))})
	}
	var right []row
	for range 50 {
		right = append(right, row{types.NewBigInt(7)})
	}
	lh := &optest.Harness{T: t, Mem: mem, Input: j.Left(), InSchema: typesSchema(ts), Out: c}
	rh := &optest.Harness{T: t, Mem: mem, Input: j.Right(), InSchema: typesSchema(rs), Out: c}
	// Explicit ops, Insert included: not append-only chunks.
	ops := func(op operators.Op, n int) []operators.Op { return slices.Repeat([]operators.Op{op}, n) }
	lh.PushOps(ops(operators.Insert, len(left)), left...)
	rh.PushOps(ops(operators.Insert, len(right)), right...)
	if n, first := len(c.Net.Lines()), slices.Index(tr.Lines, "|"); n != 5000 || c.Chunks != 2 || first != maxOut {
		t.Fatalf("%d rows in %d chunks, the first of %d", n, c.Chunks, first)
	}
	lh.PushOps(ops(operators.Delete, len(left)), left...)
	if n := len(c.Net.Lines()); n != 0 {
		t.Fatalf("%d rows left after deleting every left row", n)
	}
	rh.PushOps(ops(operators.Delete, len(right)), right...)
	err := optest.Feed(mem, j.Right(), rh.InSchema, right[:1], ops(operators.Delete, 1), 0)
	if err == nil || !strings.Contains(err.Error(), "right input: delete of a row that is not present: (7)") {
		t.Fatalf("deleting more copies than inserted: %v", err)
	}
}

// TestHashJoinKeyTypeMismatch checks keys that can never be equal are
// refused with an error at the first push.
func TestHashJoinKeyTypeMismatch(t *testing.T) {
	mem := optest.CheckedMem(t)
	lt := []types.T{types.IntType, types.TextType}
	rt := []types.T{types.BigIntType, types.TextType}
	c := newCollector(t, append(slices.Clone(lt), rt...))
	j := New(mem, Inner, lt, rt, []int{0, 1}, []int{0, 1}, nil, c.Schema, c)
	optest.CloseAtEnd(t, j, mem)
	err := optest.Feed(mem, j.Left(), typesSchema(lt), []row{{types.NewInt(1), types.NewText("a")}}, nil, 0)
	if err == nil || !strings.Contains(err.Error(), "cannot match INT with BIGINT") {
		t.Fatalf("error %v", err)
	}
}
