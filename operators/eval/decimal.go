package eval

import (
	"math"
	"math/big"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/internal/pgtext"
	"github.com/sluicedb/sluice/types"
)

// Decimal arithmetic goes through math/big: it is exact, the overflow check
// is simple, and decimals are not on the int/float hot paths.

var (
	bigPow10   [80]*big.Int
	maxDec38   *big.Int // 10^38
	bigOne     = big.NewInt(1)
	bigTwo     = big.NewInt(2)
	bigMinI64  = big.NewInt(math.MinInt64)
	bigMaxI64  = big.NewInt(math.MaxInt64)
	bigZeroVal = big.NewInt(0)
)

func init() {
	p := big.NewInt(1)
	for i := range bigPow10 {
		bigPow10[i] = new(big.Int).Set(p)
		p.Mul(p, big.NewInt(10))
	}
	maxDec38 = bigPow10[38]
}

func pow10Big(n int32) *big.Int {
	if n < int32(len(bigPow10)) {
		return bigPow10[n]
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// bigOf returns the unscaled value and scale of a numeric datum (BIGINT,
// INT, BOOLEAN as scale 0; DECIMAL as is). DOUBLE is not handled here.
func bigOf(d types.Datum) (*big.Int, int32) {
	if d.Kind == types.Decimal {
		return d.Dec.BigInt(), d.Scale
	}
	return big.NewInt(d.I), 0
}

// rescaleBig changes the scale of v from `from` to `to`, rounding half away
// from zero when digits are dropped. v is not modified.
func rescaleBig(v *big.Int, from, to int32) *big.Int {
	switch {
	case to == from:
		return new(big.Int).Set(v)
	case to > from:
		return new(big.Int).Mul(v, pow10Big(to-from))
	default:
		return divRound(v, pow10Big(from-to))
	}
}

// divRound returns num/den rounded half away from zero (den != 0).
func divRound(num, den *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() == 0 {
		return q
	}
	r2 := new(big.Int).Abs(r)
	r2.Mul(r2, bigTwo)
	if r2.CmpAbs(den) >= 0 {
		if (num.Sign() < 0) != (den.Sign() < 0) {
			q.Sub(q, bigOne)
		} else {
			q.Add(q, bigOne)
		}
	}
	return q
}

// decFromBig converts an unscaled big value to a DECIMAL datum of scale
// s, failing with 22003 when it exceeds 38 digits.
func decFromBig(v *big.Int, s int32) (types.Datum, error) {
	if v.CmpAbs(maxDec38) >= 0 {
		return types.Datum{}, errDecRange
	}
	return types.NewDecimal(decimal128.FromBigInt(v), s), nil
}

// decToScale returns d (numeric, non-double) as a decimal of scale s.
func decToScale(d types.Datum, s int32) (types.Datum, error) {
	if d.Kind == types.Decimal && d.Scale == s {
		return d, nil
	}
	v, from := bigOf(d)
	return decFromBig(rescaleBig(v, from, s), s)
}

// decFromFloat converts f to a decimal of scale s. Like MySQL and
// Postgres it starts from the shortest decimal text of f (so 1.005 is
// 1.005, not 1.00499999...), then rounds half away from zero.
func decFromFloat(f float64, s int32) (types.Datum, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return types.Datum{}, errDecRange
	}
	var buf [32]byte
	n, isNum, fits := pgtext.Decimal(strconv.AppendFloat(buf[:0], f, 'e', -1, 64), types.MaxDecimalPrecision, s)
	if !isNum || !fits {
		return types.Datum{}, errDecRange
	}
	return types.NewDecimal(n, s), nil
}

// cmpDec compares two non-double numeric datums exactly.
func cmpDec(a, b types.Datum) int {
	if a.Kind == types.Decimal && b.Kind == types.Decimal && a.Scale == b.Scale {
		return a.Dec.Cmp(b.Dec)
	}
	av, as := bigOf(a)
	bv, bs := bigOf(b)
	s := max(as, bs)
	return rescaleBig(av, as, s).Cmp(rescaleBig(bv, bs, s))
}

// bigToInt64 converts v to int64 or reports 22003.
func bigToInt64(v *big.Int) (int64, error) {
	if v.Cmp(bigMinI64) < 0 || v.Cmp(bigMaxI64) > 0 {
		return 0, errBigIntRange
	}
	return v.Int64(), nil
}
