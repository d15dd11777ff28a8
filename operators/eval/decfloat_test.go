package eval

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/sluicedb/sluice/types"
)

// TestDecFromFloat checks the double to DECIMAL conversion at its edges:
// it starts from the shortest decimal text of the double, rounds half away
// from zero, and fails (22003) for a value of more than 38 digits, NaN or
// an infinity.
func TestDecFromFloat(t *testing.T) {
	for _, c := range []struct {
		f    float64
		s    int32
		want string // "" for an error
	}{
		{1.005, 2, "1.01"}, {-1.005, 2, "-1.01"}, {2.5, 0, "3"}, {-2.5, 0, "-3"}, {0.5, 0, "1"},
		{0.49999999999999994, 0, "0"}, {5e-11, 10, "0.0000000001"}, {4e-11, 10, "0.0000000000"},
		{1e-300, 10, "0.0000000000"}, {5e-324, 38, "0.00000000000000000000000000000000000000"},
		{math.Copysign(0, -1), 2, "0.00"}, {123.456, 1, "123.5"},
		{1e37, 0, "10000000000000000000000000000000000000"},
		{9.999999999999998e37, 0, "99999999999999980000000000000000000000"},
		{0.1, 37, "0.1000000000000000000000000000000000000"},
		{1e38, 0, ""}, {-1e38, 0, ""}, {1, 38, ""}, {9.9999999999999999e37, 0, ""},
		{1.7976931348623157e308, 0, ""}, {math.NaN(), 2, ""}, {math.Inf(1), 2, ""}, {math.Inf(-1), 2, ""},
	} {
		d, err := decFromFloat(c.f, c.s)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("decFromFloat(%v, %d) = %s, want an error", c.f, c.s, types.FormatDecimal(d.Dec, c.s))
		case c.want == "":
		case err != nil:
			t.Errorf("decFromFloat(%v, %d): %v, want %s", c.f, c.s, err, c.want)
		case types.FormatDecimal(d.Dec, c.s) != c.want || d.Scale != c.s:
			t.Errorf("decFromFloat(%v, %d) = %s (scale %d), want %s", c.f, c.s, types.FormatDecimal(d.Dec, d.Scale), d.Scale, c.want)
		}
	}
}

// TestDecFromFloatOracle compares decFromFloat with exact rational
// arithmetic on the double's shortest text, over doubles of many
// magnitudes and scales.
func TestDecFromFloatOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil)
	for range 20000 {
		f := (r.Float64()*2 - 1) * math.Pow(10, float64(r.IntN(60)-20))
		s := int32(r.IntN(39))
		// want: round half away from zero of shortest(f) * 10^s.
		q, _ := new(big.Rat).SetString(strconv.FormatFloat(f, 'e', -1, 64))
		q.Mul(q, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil)))
		num, den := new(big.Int).Abs(q.Num()), q.Denom()
		w, rem := new(big.Int).QuoRem(num, den, new(big.Int))
		if rem.Lsh(rem, 1).Cmp(den) >= 0 {
			w.Add(w, big.NewInt(1))
		}
		if q.Sign() < 0 {
			w.Neg(w)
		}
		d, err := decFromFloat(f, s)
		if fits := new(big.Int).Abs(w).Cmp(limit) < 0; !fits {
			if err == nil {
				t.Fatalf("decFromFloat(%v, %d) = %s, want an error", f, s, types.FormatDecimal(d.Dec, s))
			}
			continue
		}
		if err != nil {
			t.Fatalf("decFromFloat(%v, %d): %v, want unscaled %s", f, s, err, w)
		}
		if got := d.Dec.BigInt(); got.Cmp(w) != 0 || d.Scale != s {
			t.Fatalf("decFromFloat(%v, %d) = unscaled %s scale %d, want %s", f, s, got, d.Scale, w)
		}
	}
}
