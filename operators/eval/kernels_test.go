package eval

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sluicedb/sluice/expr"
)

// TestCmpKernels checks every comparison kernel against the plain
// operator at every length around the 8-row unrolling.
func TestCmpKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 70; n++ {
		a := make([]int64, n)
		b := make([]int64, n)
		for i := range a {
			a[i], b[i] = r.Int64N(5), r.Int64N(5)
		}
		c := r.Int64N(5)
		for _, op := range cmpFuncs {
			vs := make([]byte, (n+7)/8)
			vv := make([]byte, (n+7)/8)
			cmpVS(op, a, c, vs)
			cmpVV(op, a, b, vv)
			for i := 0; i < n; i++ {
				if got, want := vs[i>>3]&(1<<(i&7)) != 0, cmpResult(op, cmpInt(a[i], c)); got != want {
					t.Fatalf("cmpVS %s n=%d i=%d: %d vs %d got %v", op, n, i, a[i], c, got)
				}
				if got, want := vv[i>>3]&(1<<(i&7)) != 0, cmpResult(op, cmpInt(a[i], b[i])); got != want {
					t.Fatalf("cmpVV %s n=%d i=%d: %d vs %d got %v", op, n, i, a[i], b[i], got)
				}
			}
		}
	}
}

// TestArithKernels checks the BIGINT kernels' values and overflow flags.
func TestArithKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vals := []int64{0, 1, -1, 2, 3, math.MaxInt64, math.MinInt64, 1 << 32, -(1 << 31), 1 << 62}
	for it := 0; it < 2000; it++ {
		n := 1 + r.IntN(20)
		a := make([]int64, n)
		b := make([]int64, n)
		for i := range a {
			a[i], b[i] = vals[r.IntN(len(vals))], vals[r.IntN(len(vals))]
		}
		out := make([]int64, n)
		for _, f := range []expr.Func{expr.Add, expr.Sub, expr.Mul} {
			var ovf bool
			switch f {
			case expr.Add:
				ovf = addVV(a, b, out)
			case expr.Sub:
				ovf = subVV(a, b, out)
			case expr.Mul:
				ovf = mulVV(a, b, out)
			}
			wantOvf := false
			for i := range a {
				v, _, o := intArith(f, a[i], b[i])
				wantOvf = wantOvf || o
				if !o && v != out[i] {
					t.Fatalf("%s(%d, %d) = %d, want %d", f, a[i], b[i], out[i], v)
				}
			}
			if ovf != wantOvf {
				t.Fatalf("%s %v %v: overflow %v, want %v", f, a, b, ovf, wantOvf)
			}
		}
		// Scalar checks of the overflow predicate itself, against big math.
		for i := range a {
			x, y := a[i], b[i]
			s := float64(x) + float64(y)
			_, _, o := intArith(expr.Add, x, y)
			if o != (s >= 9.3e18 || s < -9.3e18) && math.Abs(s) < 9.2e18 {
				t.Fatalf("add overflow predicate wrong for %d + %d", x, y)
			}
			p := float64(x) * float64(y)
			_, _, o = intArith(expr.Mul, x, y)
			if math.Abs(p) < 9e18 && o || math.Abs(p) > 9.3e18 && !o {
				t.Fatalf("mul overflow predicate wrong for %d * %d", x, y)
			}
		}
	}
}
