package state

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/types"
)

// keyEqual is the key identity the encoding must implement: NULL equals
// NULL, -0 equals 0, NaN equals NaN.
func keyEqual(a, b types.Datum) bool {
	if a.Null || b.Null {
		return a.Null == b.Null
	}
	if a.Kind == types.Double {
		return a.F == b.F || (a.F != a.F && b.F != b.F)
	}
	if a.Kind == types.Interval {
		return a.Months == b.Months && a.Days == b.Days && a.I == b.I
	}
	return types.Compare(a, b) == 0
}

// TestKeyEncodingProperty checks, for every key type, that encoding a
// value from an Arrow array (KeyEncoder.Append, also on a sliced array)
// gives the same bytes as encoding it from a Datum (AppendDatum), and that
// two values encode equal exactly when they are equal as keys.
func TestKeyEncodingProperty(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(3, 4))
	schema := append(types.Schema{}, allTypes...)
	schema = append(schema, types.Column{Name: "ivl", Type: types.IntervalType})
	for _, col := range schema {
		t.Run(col.Type.String(), func(t *testing.T) {
			const n = 300
			vals := make([]types.Datum, n)
			b := array.NewBuilder(mem, col.Type.Arrow())
			defer b.Release()
			for i := range vals {
				if col.Type.Kind == types.Interval {
					vals[i] = types.NewInterval(int32(r.IntN(3)), int32(r.IntN(3)), int64(r.IntN(3)))
					if r.IntN(8) == 0 {
						vals[i] = types.NewNull(col.Type)
					}
				} else {
					vals[i] = randDatum(r, col.Type, 0.1, 9)
				}
				types.AppendDatum(b, vals[i])
			}
			arr := b.NewArray()
			defer arr.Release()
			sliced := array.NewSlice(arr, 7, n)
			defer sliced.Release()
			var e, es KeyEncoder
			e.Reset(arr)
			es.Reset(sliced)
			enc := make([][]byte, n)
			for i := range vals {
				fromArrow := e.Append(nil, i)
				fromDatum := AppendDatum(nil, vals[i], col.Type)
				fromRead := AppendDatum(nil, types.DatumAt(arr, i, col.Type), col.Type)
				if !bytes.Equal(fromArrow, fromDatum) || !bytes.Equal(fromArrow, fromRead) {
					t.Fatalf("value %v: arrow %x, datum %x, read back %x", vals[i], fromArrow, fromDatum, fromRead)
				}
				if e.IsNull(i) != vals[i].Null {
					t.Fatalf("IsNull(%d) = %v for %v", i, e.IsNull(i), vals[i])
				}
				if i >= 7 {
					if got := es.Append(nil, i-7); !bytes.Equal(got, fromArrow) {
						t.Fatalf("sliced array: %x, want %x", got, fromArrow)
					}
				}
				enc[i] = fromArrow
			}
			for i := range vals {
				for j := range vals {
					if eq := bytes.Equal(enc[i], enc[j]); eq != keyEqual(vals[i], vals[j]) {
						t.Fatalf("%v vs %v: bytes equal %v, keys equal %v", vals[i], vals[j], eq, !eq)
					}
				}
			}
		})
	}
}

// TestKeyEncodingComposite checks composite keys do not collide across
// column boundaries (strings are length-prefixed, NULL is flagged).
func TestKeyEncodingComposite(t *testing.T) {
	tt := types.TextType
	pairs := [][2][]types.Datum{
		{{types.NewText("ab"), types.NewText("c")}, {types.NewText("a"), types.NewText("bc")}},
		{{types.NewText(""), types.NewNull(tt)}, {types.NewNull(tt), types.NewText("")}},
		{{types.NewText("\x00"), types.NewText("")}, {types.NewText(""), types.NewText("\x00")}},
	}
	for _, p := range pairs {
		a := AppendDatum(AppendDatum(nil, p[0][0], tt), p[0][1], tt)
		b := AppendDatum(AppendDatum(nil, p[1][0], tt), p[1][1], tt)
		if bytes.Equal(a, b) {
			t.Fatalf("%v and %v encode equal", p[0], p[1])
		}
	}
	if !bytes.Equal(AppendDatum(nil, types.NewDouble(math.Copysign(0, -1)), types.DoubleType), AppendDatum(nil, types.NewDouble(0), types.DoubleType)) {
		t.Fatal("-0 and 0 differ")
	}
}
