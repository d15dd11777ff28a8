package agg

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// The differential test's input: two key columns and one value column of
// each family.
var (
	diffDec  = types.DecimalType(10, 2)
	diffTS   = types.TimestampType(6)
	diffCols = []types.Column{
		{Name: "k1", Type: types.IntType}, {Name: "k2", Type: types.TextType},
		{Name: "v", Type: types.BigIntType}, {Name: "d", Type: types.DoubleType},
		{Name: "x", Type: diffDec}, {Name: "s", Type: types.TextType}, {Name: "ts", Type: diffTS},
	}
)

func diffSpecs() []Spec {
	b, d := types.BigIntType, types.DoubleType
	sp := func(k Kind, arg int, res types.T) Spec {
		return Spec{Kind: k, Arg: arg, ArgType: diffCols[arg].Type, Result: res, Name: fmt.Sprintf("%s_%d", k, arg)}
	}
	return []Spec{
		{Kind: CountStar, Result: b, Name: "n"},
		sp(Count, 2, b), sp(CountDistinct, 2, b), sp(Sum, 2, b), sp(Avg, 2, d), sp(Min, 2, b), sp(Max, 2, b),
		sp(Count, 3, b), sp(CountDistinct, 3, b), sp(Sum, 3, d), sp(Avg, 3, d), sp(Min, 3, d), sp(Max, 3, d),
		sp(CountDistinct, 4, b), sp(Sum, 4, types.DecimalType(38, 2)), sp(Avg, 4, types.DecimalType(38, 6)), sp(Min, 4, diffDec), sp(Max, 4, diffDec),
		sp(CountDistinct, 5, b), sp(Min, 5, types.TextType), sp(Max, 5, types.TextType),
		sp(Min, 6, diffTS), sp(Max, 6, diffTS), sp(CountDistinct, 6, b),
	}
}

type diffGen struct{ r *rand.Rand }

func (g diffGen) maybeNull(t types.T, d types.Datum) types.Datum {
	if g.r.IntN(6) == 0 {
		return types.NewNull(t)
	}
	return d
}

func (g diffGen) row() []types.Datum {
	r := g.r
	v := int64(r.IntN(101) - 50)
	if r.IntN(20) == 0 {
		v = (int64(1) << 40) * int64(r.IntN(5)-2)
	}
	strs := []string{"", "a", "ab", "b", "zz", "Ä"}
	return []types.Datum{
		g.maybeNull(types.IntType, types.NewInt(int32(r.IntN(5)))),
		g.maybeNull(types.TextType, types.NewText(strs[r.IntN(3)])),
		g.maybeNull(types.BigIntType, types.NewBigInt(v)),
		g.maybeNull(types.DoubleType, types.NewDouble(float64(r.IntN(41)-20))),
		g.maybeNull(diffDec, types.NewDecimal(decimal128.FromI64(int64(r.IntN(1999)-999)), 2)),
		g.maybeNull(types.TextType, types.NewText(strs[r.IntN(len(strs))])),
		g.maybeNull(diffTS, types.NewTimestamp(int64(r.IntN(1000))*1_000_003)),
	}
}

// expected recomputes every aggregate from scratch over the live rows:
// key string → output row string.
func expected(live [][]types.Datum, groupCols []int, specs []Spec) map[string]string {
	groups := map[string][][]types.Datum{}
	keys := map[string][]types.Datum{}
	if len(groupCols) == 0 {
		groups[""] = nil
		keys[""] = nil
	}
	for _, r := range live {
		var k []types.Datum
		for _, c := range groupCols {
			k = append(k, r[c])
		}
		ks := optest.FormatRow(k)
		groups[ks] = append(groups[ks], r)
		keys[ks] = k
	}
	out := map[string]string{}
	for ks, rows := range groups {
		vals := append([]types.Datum{}, keys[ks]...)
		for _, s := range specs {
			vals = append(vals, refAgg(rows, s))
		}
		out[ks] = optest.FormatRow(vals)
	}
	return out
}

func cmpDatum(a, b types.Datum) int {
	switch a.Kind {
	case types.Varchar:
		switch {
		case a.S < b.S:
			return -1
		case a.S > b.S:
			return 1
		}
		return 0
	case types.Double:
		switch {
		case a.F < b.F:
			return -1
		case a.F > b.F:
			return 1
		}
		return 0
	case types.Decimal:
		return a.Dec.Cmp(b.Dec)
	}
	switch {
	case a.I < b.I:
		return -1
	case a.I > b.I:
		return 1
	}
	return 0
}

func refAgg(rows [][]types.Datum, s Spec) types.Datum {
	if s.Kind == CountStar {
		return types.NewBigInt(int64(len(rows)))
	}
	var vs []types.Datum
	for _, r := range rows {
		if !r[s.Arg].Null {
			vs = append(vs, r[s.Arg])
		}
	}
	n := int64(len(vs))
	switch s.Kind {
	case Count:
		return types.NewBigInt(n)
	case CountDistinct:
		seen := map[string]bool{}
		for _, v := range vs {
			seen[v.String()] = true
		}
		return types.NewBigInt(int64(len(seen)))
	}
	if n == 0 {
		return types.NewNull(s.Result)
	}
	switch s.Kind {
	case Sum, Avg:
		var si int64
		var sf float64
		for _, v := range vs {
			switch s.ArgType.Kind {
			case types.Double:
				sf += v.F
			case types.Decimal:
				si += int64(v.Dec.LowBits()) // the values fit an int64
			default:
				si += v.I
			}
		}
		switch s.ArgType.Kind {
		case types.Double:
			if s.Kind == Avg {
				return types.NewDouble(sf / float64(n))
			}
			return types.NewDouble(sf)
		case types.Decimal:
			if s.Kind == Sum {
				return types.NewDecimal(decimal128.FromI64(si), s.Result.Scale)
			}
			num := si * 10_000
			q, rem := num/n, num%n
			if rem < 0 {
				rem = -rem
			}
			if 2*rem >= n {
				if num < 0 {
					q--
				} else {
					q++
				}
			}
			return types.NewDecimal(decimal128.FromI64(q), s.Result.Scale)
		default:
			if s.Kind == Avg {
				return types.NewDouble(float64(si) / float64(n))
			}
			return types.NewBigInt(si)
		}
	case Min, Max:
		best := vs[0]
		for _, v := range vs[1:] {
			c := cmpDatum(v, best)
			if (s.Kind == Min && c < 0) || (s.Kind == Max && c > 0) {
				best = v
			}
		}
		return best
	}
	panic("unreachable")
}

// view folds an aggregate's changelog, checking it is well formed.
type view struct {
	t  *testing.T
	nk int
	m  map[string]string
}

func (v *view) apply(rows []optest.OutRow) {
	for i := 0; i < len(rows); i++ {
		r := rows[i]
		ks, rs := optest.FormatRow(r.Vals[:v.nk]), optest.FormatRow(r.Vals)
		cur, ok := v.m[ks]
		switch r.Op {
		case operators.Insert:
			if ok {
				v.t.Fatalf("Insert of key %q already present as %q", ks, cur)
			}
			v.m[ks] = rs
		case operators.Delete:
			if !ok || cur != rs {
				v.t.Fatalf("Delete of %q but view holds %q (present %v)", rs, cur, ok)
			}
			delete(v.m, ks)
		case operators.UpdateBefore:
			if !ok || cur != rs {
				v.t.Fatalf("UpdateBefore %q but view holds %q (present %v)", rs, cur, ok)
			}
			if i+1 >= len(rows) || rows[i+1].Op != operators.UpdateAfter || optest.FormatRow(rows[i+1].Vals[:v.nk]) != ks {
				v.t.Fatalf("UpdateBefore %q not followed by an UpdateAfter of the same key", rs)
			}
			v.m[ks] = optest.FormatRow(rows[i+1].Vals)
			i++
		default:
			v.t.Fatalf("unpaired %s of %q", r.Op, rs)
		}
	}
}

func TestDifferential(t *testing.T) {
	configs := []struct {
		name       string
		groupCols  []int
		appendOnly bool
	}{
		{"global", nil, false},
		{"intKey", []int{0}, false},
		{"varcharKey", []int{1}, false},
		{"multiKey", []int{0, 1}, false},
		{"multiKeyAppendOnly", []int{1, 0}, true},
		{"intKeyAppendOnly", []int{0}, true},
		{"intPairKey", []int{0, 6}, false},
		{"intPairKeyAppendOnly", []int{6, 2}, true},
	}
	for ci, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			specs := diffSpecs()
			f := newFixture(t, diffCols, cfg.groupCols, specs, cfg.appendOnly, 0)
			r := rand.New(rand.NewPCG(uint64(ci)+1, 42))
			gen := diffGen{r}
			v := &view{t: t, nk: len(cfg.groupCols), m: map[string]string{}}
			var live [][]types.Datum
			changes, barriers, vanished, draining := 0, 0, 0, false
			for changes < 12000 {
				// Alternate growing and draining phases so groups vanish and come back.
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
				size := 1 + r.IntN(40)
				if r.IntN(40) == 0 {
					size = 1 + r.IntN(1000)
				}
				var rows [][]types.Datum
				var ops []operators.Op
				for range size {
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
						nr = live[r.IntN(len(live))] // a duplicate row
					} else {
						nr = gen.row()
					}
					live = append(live, nr)
					rows = append(rows, nr)
					ops = append(ops, []operators.Op{operators.Insert, operators.UpdateAfter}[r.IntN(2)])
				}
				changes += len(rows)
				if r.IntN(4) == 0 || cfg.appendOnly {
					allAdd := true
					for _, op := range ops {
						allAdd = allAdd && !op.IsRetract()
					}
					if allAdd && r.IntN(2) == 0 {
						ops = nil // the append-only form of an all-additions chunk
					}
				}
				if err := f.Feed(rows, ops, 1+r.IntN(600)); err != nil {
					t.Fatalf("after %d changes: %v", changes, err)
				}
				if r.IntN(2) == 0 {
					f.Barrier()
					barriers++
					out := f.Out.LastEpoch()
					for _, o := range out {
						if o.Op == operators.Delete {
							vanished++
						}
					}
					v.apply(out)
					if cfg.appendOnly && len(live) > 2000 && r.IntN(10) != 0 {
						continue // recomputation over a large input: check a sample of barriers
					}
					want := expected(live, cfg.groupCols, specs)
					if len(want) != len(v.m) {
						t.Fatalf("barrier %d: view has %d groups, want %d", barriers, len(v.m), len(want))
					}
					for k, w := range want {
						if got := v.m[k]; got != w {
							t.Fatalf("barrier %d, group %q:\n got %s\nwant %s", barriers, k, got, w)
						}
					}
				}
			}
			if barriers < 50 {
				t.Fatalf("only %d barriers", barriers)
			}
			if len(cfg.groupCols) > 0 && !cfg.appendOnly && vanished < 10 {
				t.Fatalf("only %d groups vanished", vanished)
			}
			keys := make([]string, 0, len(v.m))
			for k := range v.m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Logf("%d changes, %d barriers, %d vanished, %d groups at the end", changes, barriers, vanished, len(keys))
		})
	}
}
