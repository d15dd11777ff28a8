package join

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

var (
	leftTypes  = []types.T{types.BigIntType, types.TextType, types.BigIntType, types.DateType}
	rightTypes = []types.T{types.BigIntType, types.TextType, types.BigIntType, types.DoubleType}
)

type row = []types.Datum

func fmtRow(r row) string {
	parts := make([]string, len(r))
	for i, d := range r {
		parts[i] = d.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

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

func mkRec(t testing.TB, mem memory.Allocator, ts []types.T, rows []row) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(mem, typesSchema(ts))
	defer b.Release()
	for _, r := range rows {
		for i, d := range r {
			types.AppendDatum(b.Field(i), d)
		}
	}
	return b.NewRecordBatch()
}

// multiset is rows by their printed form with counts.
type multiset map[string]int

// sink folds a join's output into a multiset, checking its schema.
type sink struct {
	t      *testing.T
	ts     []types.T
	schema *arrow.Schema
	rows   multiset
	barr   int
}

func (s *sink) Push(m operators.Message) error {
	switch x := m.(type) {
	case *operators.Chunk:
		if !x.Rec.Schema().Equal(s.schema) {
			s.t.Fatalf("output schema %s, want %s", x.Rec.Schema(), s.schema)
		}
		if x.Len() == 0 {
			s.t.Fatal("empty output chunk")
		}
		if x.Ops != nil && len(x.Ops) != x.Len() {
			s.t.Fatalf("%d ops for %d rows", len(x.Ops), x.Len())
		}
		for i := 0; i < x.Len(); i++ {
			r := make(row, len(s.ts))
			for c, t := range s.ts {
				r[c] = types.DatumAt(x.Rec.Column(c), i, t)
			}
			k := fmtRow(r)
			s.rows[k] += int(x.Op(i).Sign())
			if s.rows[k] < 0 {
				s.t.Fatalf("output retracts %s more often than it inserted it", k)
			}
			if s.rows[k] == 0 {
				delete(s.rows, k)
			}
		}
	case operators.Barrier:
		s.barr++
	}
	return nil
}

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
func innerJoin(left, right []row, lk, rk []int) multiset {
	out := multiset{}
	for _, l := range left {
		for _, r := range right {
			if keysEqual(l, r, lk, rk) {
				out[fmtRow(append(slices.Clone(l), r...))]++
			}
		}
	}
	return out
}

func diff(got, want multiset) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			fmt.Fprintf(&b, "  %s: got %d, want %d\n", k, got[k], want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "  %s: got %d, want 0\n", k, got[k])
		}
	}
	return b.String()
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
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				r := rand.New(rand.NewPCG(seed, 42))
				outTypes := append(slices.Clone(leftTypes), rightTypes...)
				if kc.name == "date-bigint" {
					outTypes = append(slices.Clone(leftTypes), rightTypes...)
				}
				s := &sink{t: t, ts: outTypes, schema: typesSchema(outTypes), rows: multiset{}}
				lt, rt := leftTypes, rightTypes
				if kc.name == "date-bigint" {
					// Join a DATE with a DATE: make right column 0 a DATE.
					rt = []types.T{types.DateType, types.TextType, types.BigIntType, types.DoubleType}
					s.ts = append(slices.Clone(lt), rt...)
					s.schema = typesSchema(s.ts)
				}
				j := NewWithOptions(mem, Inner, lt, rt, kc.lk, kc.rk, nil, s.schema, Options{AppendOnly: [2]bool{leftAO, false}}, s)
				defer j.Close()
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
					rec := mkRec(t, mem, sideTypes[in], rows)
					port := j.Left()
					if in == 1 {
						port = j.Right()
					}
					err := port.Push(&operators.Chunk{Rec: rec, Ops: ops})
					rec.Release()
					if err != nil {
						t.Fatal(err)
					}
					if r.IntN(10) == 0 {
						if err := j.Left().Push(operators.Barrier{Epoch: uint64(step)}); err != nil {
							t.Fatal(err)
						}
						if err := j.Right().Push(operators.Barrier{Epoch: uint64(step)}); err != nil {
							t.Fatal(err)
						}
					}
					want := innerJoin(state[0], state[1], kc.lk, kc.rk)
					if d := diff(s.rows, want); d != "" {
						t.Fatalf("step %d (side %d, %d rows):\n%s", step, in, len(rows), d)
					}
				}
				if s.barr == 0 {
					t.Log("no barrier drawn")
				}
			})
		}
	}
}

// leftJoin is the reference left outer join with residual l.v < r.w
// (columns 2 of each side), NULL comparisons failing.
func leftJoin(left, right []row, lk, rk []int, residual bool, rtypes []types.T) multiset {
	out := multiset{}
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
			out[fmtRow(append(slices.Clone(l), r...))]++
		}
		if !matched {
			pad := slices.Clone(l)
			for _, t := range rtypes {
				pad = append(pad, types.NewNull(t))
			}
			out[fmtRow(pad)]++
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
					mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
					defer mem.AssertSize(t, 0)
					r := rand.New(rand.NewPCG(seed, 7))
					outTypes := append(slices.Clone(leftTypes), rightTypes...)
					s := &sink{t: t, ts: outTypes, schema: typesSchema(outTypes), rows: multiset{}}
					var residual expr.Expr
					if withResidual {
						residual = &expr.Call{Func: expr.Lt, T: types.BoolType, Args: []expr.Expr{
							&expr.ColumnRef{Index: 2, Name: "v", T: types.BigIntType},
							&expr.ColumnRef{Index: len(leftTypes) + 2, Name: "w", T: types.BigIntType},
						}}
					}
					j := New(mem, LeftOuter, leftTypes, rightTypes, kc.lk, kc.rk, residual, s.schema, s)
					defer j.Close()
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
						rec := mkRec(t, mem, ts[in], rows)
						port := j.Left()
						if in == 1 {
							port = j.Right()
						}
						err := port.Push(&operators.Chunk{Rec: rec, Ops: ops})
						rec.Release()
						if err != nil {
							t.Fatal(err)
						}
					}
					if len(s.rows) != 0 {
						t.Fatal("left outer join emitted before the barrier")
					}
					if err := j.Left().Push(operators.Barrier{Epoch: 1}); err != nil {
						t.Fatal(err)
					}
					if s.barr != 0 || len(s.rows) != 0 {
						t.Fatal("barrier forwarded before it arrived on both inputs")
					}
					if err := j.Right().Push(operators.Barrier{Epoch: 1}); err != nil {
						t.Fatal(err)
					}
					if s.barr != 1 {
						t.Fatalf("%d barriers forwarded", s.barr)
					}
					want := leftJoin(state[0], state[1], kc.lk, kc.rk, withResidual, rightTypes)
					if d := diff(s.rows, want); d != "" {
						t.Fatalf("left join:\n%s", d)
					}
				})
			}
		}
	}
}

// TestHashJoinPassThrough checks watermarks are dropped and a
// barrier is forwarded once both inputs delivered it.
func TestHashJoinPassThrough(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var got []operators.Message
	out := operators.OutputFunc(func(m operators.Message) error { got = append(got, m); return nil })
	j := New(mem, Inner, leftTypes, rightTypes, []int{0}, []int{0}, nil, outSchema(leftTypes, rightTypes), out)
	defer j.Close()
	_ = j.Left().Push(operators.Watermark{Column: 0, Time: 5})
	_ = j.Right().Push(operators.Barrier{Epoch: 3})
	if len(got) != 0 {
		t.Fatalf("forwarded %v", got)
	}
	_ = j.Left().Push(operators.Barrier{Epoch: 3})
	if len(got) != 1 || got[0] != (operators.Barrier{Epoch: 3}) {
		t.Fatalf("got %v", got)
	}
}

// TestHashJoinBadInput checks a chunk of the wrong shape is an error, not
// a panic.
func TestHashJoinBadInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	j := New(mem, Inner, leftTypes, rightTypes, []int{0}, []int{0}, nil, outSchema(leftTypes, rightTypes), operators.OutputFunc(func(operators.Message) error { return nil }))
	defer j.Close()
	rec := mkRec(t, mem, rightTypes[:2], []row{{types.NewBigInt(1), types.NewText("x")}})
	defer rec.Release()
	if err := j.Left().Push(&operators.Chunk{Rec: rec}); err == nil {
		t.Fatal("chunk with 2 columns accepted by a 4-column input")
	}
	rec2 := mkRec(t, mem, rightTypes, []row{{types.NewBigInt(1), types.NewText("x"), types.NewBigInt(1), types.NewDouble(1)}})
	defer rec2.Release()
	if err := j.Left().Push(&operators.Chunk{Rec: rec2}); err == nil {
		t.Fatal("chunk with a DOUBLE where a DATE is declared accepted")
	}
}

// TestHashJoinLargeFanout checks a chunk with more matches than one output
// chunk holds is split, and deletes retract every pair.
func TestHashJoinLargeFanout(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ts := []types.T{types.IntType, types.TextType}
	rs := []types.T{types.BigIntType}
	var chunks []int
	var sum int
	out := operators.OutputFunc(func(m operators.Message) error {
		if c, ok := m.(*operators.Chunk); ok {
			chunks = append(chunks, c.Len())
			for i := 0; i < c.Len(); i++ {
				sum += int(c.Op(i).Sign())
			}
		}
		return nil
	})
	// An INT key joins a BIGINT key.
	j := New(mem, Inner, ts, rs, []int{0}, []int{0}, nil, outSchema(ts, rs), out)
	defer j.Close()
	var left []row
	for i := range 100 {
		left = append(left, row{types.NewInt(7), types.NewText(fmt.Sprint(i % 10))})
	}
	var right []row
	for range 50 {
		right = append(right, row{types.NewBigInt(7)})
	}
	push := func(p operators.Output, ts []types.T, rows []row, op operators.Op) {
		t.Helper()
		ops := make([]operators.Op, len(rows))
		for i := range ops {
			ops[i] = op
		}
		rec := mkRec(t, mem, ts, rows)
		defer rec.Release()
		if err := p.Push(&operators.Chunk{Rec: rec, Ops: ops}); err != nil {
			t.Fatal(err)
		}
	}
	push(j.Left(), ts, left, operators.Insert)
	push(j.Right(), rs, right, operators.Insert)
	if sum != 5000 || len(chunks) != 2 || chunks[0] != maxOut {
		t.Fatalf("%d rows in chunks %v", sum, chunks)
	}
	push(j.Left(), ts, left, operators.Delete)
	if sum != 0 {
		t.Fatalf("%d rows left after deleting every left row", sum)
	}
	push(j.Right(), rs, right, operators.Delete)
	rec := mkRec(t, mem, rs, right[:1])
	defer rec.Release()
	err := j.Right().Push(&operators.Chunk{Rec: rec, Ops: []operators.Op{operators.Delete}})
	if err == nil || !strings.Contains(err.Error(), "right input: delete of a row that is not present: (7)") {
		t.Fatalf("deleting more copies than inserted: %v", err)
	}
}

// TestHashJoinKeyTypeMismatch checks keys that can never be equal are
// refused with an error at the first push.
func TestHashJoinKeyTypeMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	lt := []types.T{types.IntType, types.TextType}
	rt := []types.T{types.BigIntType, types.TextType}
	j := New(mem, Inner, lt, rt, []int{0, 1}, []int{0, 1}, nil, outSchema(lt, rt), operators.OutputFunc(func(operators.Message) error { return nil }))
	defer j.Close()
	rec := mkRec(t, mem, lt, []row{{types.NewInt(1), types.NewText("a")}})
	defer rec.Release()
	err := j.Left().Push(&operators.Chunk{Rec: rec})
	if err == nil || !strings.Contains(err.Error(), "cannot match INT with BIGINT") {
		t.Fatalf("error %v", err)
	}
}
