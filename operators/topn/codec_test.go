package topn

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/types"
)

// TestCodecOrderAndRoundTrip encodes random values of every type, in
// both directions and NULL placements, and checks that key order is the
// SQL order and that keys decode back to the values.
func TestCodecOrderAndRoundTrip(t *testing.T) {
	mem := optest.CheckedMem(t)
	rng := rand.New(rand.NewPCG(3, 4))
	gen := map[types.Kind]func() types.Datum{
		types.BigInt:    func() types.Datum { return bi(rng.Int64N(2000) - 1000) },
		types.Int:       func() types.Datum { return types.NewInt(int32(rng.IntN(2000) - 1000)) },
		types.Date:      func() types.Datum { return types.NewDate(int32(rng.IntN(2000) - 1000)) },
		types.Timestamp: func() types.Datum { return types.NewTimestamp(rng.Int64() - rng.Int64()) },
		types.Double: func() types.Datum {
			return dbl([]float64{-1e300, -2.5, -1, 0, 0.5, 3, 1e300}[rng.IntN(7)] * float64(rng.IntN(3)+1))
		},
		types.Decimal: func() types.Datum {
			return types.NewDecimal(decimal128.FromI64(rng.Int64N(1<<40)-(1<<39)), 2)
		},
		types.Boolean: func() types.Datum { return types.NewBool(rng.IntN(2) == 0) },
		types.Varchar: func() types.Datum {
			return txt([]string{"", "a", "a\x00", "a\x00b", "ab", "b", "\x00", "\xff", "zz"}[rng.IntN(9)])
		},
	}
	for kd, g := range gen {
		typ := types.T{Kind: kd}
		if kd == types.Decimal {
			typ = types.DecimalType(20, 2)
		}
		if kd == types.Timestamp {
			typ = types.TimestampType(6)
		}
		for _, desc := range []bool{false, true} {
			for _, nf := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/desc=%v/nullsfirst=%v", typ, desc, nf), func(t *testing.T) {
					var vals []types.Datum
					for range 200 {
						if rng.IntN(10) == 0 {
							vals = append(vals, types.NewNull(typ))
						} else {
							vals = append(vals, g())
						}
					}
					schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: typ.Arrow(), Nullable: true}}, nil)
					rec := optest.BuildRecord(mem, schema, slicesOfOne(vals))
					defer rec.Release()
					f := field{col: 0, desc: desc, nullsFirst: nf}
					f.kind, _ = kindOf(typ)
					var rd reader
					rd.reset(rec.Column(0))
					keys := make([][]byte, len(vals))
					for i := range vals {
						keys[i] = appendField(nil, &f, &rd, i)
					}
					for i := range vals {
						for j := range vals {
							want := refCompare(Spec{Order: []OrderKey{{Col: 0, Desc: desc, NullsFirst: nf}}}, 1, []types.Datum{vals[i]}, []types.Datum{vals[j]}, true)
							if got := bytes.Compare(keys[i], keys[j]); got != want {
								t.Fatalf("%v vs %v: key order %d, want %d", vals[i], vals[j], got, want)
							}
						}
					}
					b := array.NewBuilder(mem, typ.Arrow())
					defer b.Release()
					s := newSink(b)
					var scratch []byte
					for i := range vals {
						end, err := decodeField(keys[i], 0, &f, &s, &scratch)
						if err != nil || end != len(keys[i]) {
							t.Fatalf("decode %v: end %d of %d, %v", vals[i], end, len(keys[i]), err)
						}
					}
					arr := b.NewArray()
					defer arr.Release()
					for i, v := range vals {
						if got := types.DatumAt(arr, i, typ); got.String() != v.String() {
							t.Errorf("round trip %v: got %v", v, got)
						}
					}
				})
			}
		}
	}
}

func slicesOfOne(vals []types.Datum) [][]types.Datum {
	out := make([][]types.Datum, len(vals))
	for i, v := range vals {
		out[i] = []types.Datum{v}
	}
	return slices.Clip(out)
}
