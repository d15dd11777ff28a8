package join

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// ltResidual is l.v < r.w (column 2 of each side), the residual leftJoin
// applies when asked.
func ltResidual() expr.Expr {
	return &expr.Call{Func: expr.Lt, T: types.BoolType, Args: []expr.Expr{
		&expr.ColumnRef{Index: 2, Name: "v", T: types.BigIntType},
		&expr.ColumnRef{Index: len(leftTypes) + 2, Name: "w", T: types.BigIntType},
	}}
}

// TestStreamingLeftOuterDifferential feeds random inserts, deletes and
// update pairs (with exact duplicates and NULL keys) to both inputs of the
// streaming left outer join, folds its changelog, and compares it after
// every chunk with a reference left join recomputed from the current
// inputs, with and without a residual.
func TestStreamingLeftOuterDifferential(t *testing.T) {
	for _, kc := range keyConfigs[:3] {
		for _, withResidual := range []bool{false, true} {
			for seed := uint64(1); seed <= 4; seed++ {
				t.Run(fmt.Sprintf("%s/residual=%v/seed%d", kc.name, withResidual, seed), func(t *testing.T) {
					mem := optest.CheckedMem(t)
					r := rand.New(rand.NewPCG(seed, 99))
					c := newCollector(t, append(slices.Clone(leftTypes), rightTypes...))
					var residual expr.Expr
					if withResidual {
						residual = ltResidual()
					}
					j := New(mem, StreamingLeftOuter, leftTypes, rightTypes, kc.lk, kc.rk, residual, c.Schema, c)
					optest.CloseAtEnd(t, j, mem)
					var cur [2][]row
					sideTypes := [2][]types.T{leftTypes, rightTypes}
					for step := 0; step < 150; step++ {
						in := r.IntN(2)
						rows, ops := randChanges(r, &cur[in], sideTypes[in])
						port := j.Left()
						if in == 1 {
							port = j.Right()
						}
						if err := optest.Feed(mem, port, typesSchema(sideTypes[in]), rows, ops, 0); err != nil {
							t.Fatal(err)
						}
						if r.IntN(10) == 0 {
							if err := j.Right().Push(operators.Barrier{Epoch: uint64(step + 1)}); err != nil {
								t.Fatal(err)
							}
							if err := j.Left().Push(operators.Barrier{Epoch: uint64(step + 1)}); err != nil {
								t.Fatal(err)
							}
						}
						want := leftJoin(cur[0], cur[1], kc.lk, kc.rk, withResidual, rightTypes)
						checkNet(t, c, want, "step %d (side %d, %d rows)", step, in, len(rows))
					}
					// Retract everything: the output must become empty.
					for in := range 2 {
						if len(cur[in]) == 0 {
							continue
						}
						port := j.Left()
						if in == 1 {
							port = j.Right()
						}
						ops := optest.OpsOf(operators.Delete, len(cur[in]))
						if err := optest.Feed(mem, port, typesSchema(sideTypes[in]), cur[in], ops, 0); err != nil {
							t.Fatal(err)
						}
						cur[in] = nil
						checkNet(t, c, leftJoin(cur[0], cur[1], kc.lk, kc.rk, withResidual, rightTypes), "after deleting side %d", in)
					}
					if j.StateRows() != 0 {
						t.Fatalf("%d rows held after every row was deleted", j.StateRows())
					}
				})
			}
		}
	}
}

// randChanges draws a chunk of changes to *cur: inserts of new rows and of
// exact duplicates, deletes of present rows, and adjacent update pairs.
// ops is nil for an all-insert chunk about half the time.
func randChanges(r *rand.Rand, cur *[]row, ts []types.T) ([]row, []operators.Op) {
	n := 1 + r.IntN(6)
	if r.IntN(10) == 0 {
		n = 40
	}
	var rows []row
	var ops []operators.Op
	retracts := false
	for range n {
		switch k := r.IntN(4); {
		case len(*cur) > 0 && k == 0:
			i := r.IntN(len(*cur))
			rows = append(rows, (*cur)[i])
			*cur = slices.Delete(*cur, i, i+1)
			ops = append(ops, operators.Delete)
			retracts = true
		case len(*cur) > 0 && k == 1:
			i := r.IntN(len(*cur))
			old := (*cur)[i]
			nw := slices.Clone(old)
			c := r.IntN(len(ts))
			nw[c] = randRow(r, ts)[c]
			(*cur)[i] = nw
			rows = append(rows, old, nw)
			ops = append(ops, operators.UpdateBefore, operators.UpdateAfter)
			retracts = true
		default:
			nr := randRow(r, ts)
			if len(*cur) > 0 && r.IntN(4) == 0 {
				nr = slices.Clone((*cur)[r.IntN(len(*cur))])
			}
			rows = append(rows, nr)
			*cur = append(*cur, nr)
			ops = append(ops, operators.Insert)
		}
	}
	if !retracts && r.IntN(2) == 0 {
		ops = nil
	}
	return rows, ops
}

// TestStreamingLeftOuterPadding walks one left row through its padded
// row appearing, disappearing on its first match and reappearing when the
// last match leaves, with the exact ops emitted, in order.
func TestStreamingLeftOuterPadding(t *testing.T) {
	mem := optest.CheckedMem(t)
	lt := []types.T{types.BigIntType, types.TextType}
	rt := []types.T{types.BigIntType, types.BigIntType}
	c := newCollector(t, append(slices.Clone(lt), rt...))
	tr := &optest.Transcript{Next: c, Types: c.Types}
	j := New(mem, StreamingLeftOuter, lt, rt, []int{0}, []int{0}, nil, c.Schema, tr)
	optest.CloseAtEnd(t, j, mem)
	lh := &optest.Harness{T: t, Mem: mem, Input: j.Left(), InSchema: typesSchema(lt), Out: c}
	rh := &optest.Harness{T: t, Mem: mem, Input: j.Right(), InSchema: typesSchema(rt), Out: c}
	push := func(h *optest.Harness, rw row, op operators.Op) {
		t.Helper()
		h.PushOps([]operators.Op{op}, rw)
	}
	expect := func(want ...string) {
		t.Helper()
		if !slices.Equal(tr.Lines, want) {
			t.Fatalf("got %q, want %q", tr.Lines, want)
		}
		tr.Lines = nil
	}
	l := row{types.NewBigInt(1), types.NewText("a")}
	r1 := row{types.NewBigInt(1), types.NewBigInt(10)}
	r2 := row{types.NewBigInt(1), types.NewBigInt(20)}
	push(lh, l, operators.Insert)
	expect("insert 1,a,NULL,NULL")
	push(rh, r1, operators.Insert)
	expect("insert 1,a,1,10", "delete 1,a,NULL,NULL")
	push(rh, r2, operators.Insert)
	expect("insert 1,a,1,20")
	push(rh, r1, operators.Delete)
	expect("delete 1,a,1,10")
	push(rh, r2, operators.Delete)
	expect("delete 1,a,1,20", "insert 1,a,NULL,NULL")
	push(lh, l, operators.Delete)
	expect("delete 1,a,NULL,NULL")
	nk := row{types.NewNull(types.BigIntType), types.NewText("n")}
	push(lh, nk, operators.Insert)
	expect("insert NULL,n,NULL,NULL")
	if j.StateRows() != 0 {
		t.Fatalf("%d rows held; a NULL-keyed left row needs no state", j.StateRows())
	}
}
