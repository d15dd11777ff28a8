package pgtext

import "github.com/apache/arrow-go/v18/arrow/decimal128"

var (
	numTen        = decimal128.FromU64(10)
	decimalDigits [10]decimal128.Num
)

func init() {
	for i := range decimalDigits {
		decimalDigits[i] = decimal128.FromU64(uint64(i))
	}
}

// maxDecimalExponent bounds a decimal's exponent; Postgres rejects a
// larger one as bad syntax.
const maxDecimalExponent = 1000

// Decimal parses a DECIMAL(prec,scale) as Postgres's numeric_in does:
// surrounding white space ignored, an optional sign, digits with an
// optional point (at least one digit), and an optional exponent of at most
// 1000 either way. The value is rounded half away from zero to scale
// fractional digits and returned unscaled (times 10^scale). isNum reports
// whether the text is a number (a Syntax fault if not), fits whether the
// value fits in prec digits (Postgres's numeric field overflow if not).
func Decimal(b []byte, prec, scale int32) (n decimal128.Num, isNum, fits bool) {
	b = TrimSpace(b)
	i := 0
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	intStart := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(b) && b[i] == '.' {
		i++
		fracStart = i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		fracEnd = i
	}
	if intEnd == intStart && fracEnd == fracStart {
		return n, false, false
	}
	exp := int64(0)
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			eneg = b[i] == '-'
			i++
		}
		if i == len(b) {
			return n, false, false
		}
		for ; i < len(b); i++ {
			if b[i] < '0' || b[i] > '9' {
				return n, false, false
			}
			if exp <= maxDecimalExponent {
				exp = exp*10 + int64(b[i]-'0')
			}
		}
		if exp > maxDecimalExponent {
			return n, false, false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(b) {
		return n, false, false
	}
	nInt, nFrac := intEnd-intStart, fracEnd-fracStart
	digit := func(k int) byte { // k-th digit of int digits followed by fraction digits
		if k < nInt {
			return b[intStart+k]
		}
		return b[fracStart+k-nInt]
	}
	total := nInt + nFrac
	// Keep the digits before position keep = nInt + exp + scale.
	keep := int64(nInt) + exp + int64(scale)
	if keep > int64(total)+int64(prec) {
		for k := 0; k < total; k++ {
			if digit(k) != '0' {
				return n, true, false
			}
		}
		return n, true, true // zero, however large the exponent
	}
	sig := int32(0)
	for k := int64(0); k < keep; k++ {
		d := byte('0')
		if k < int64(total) {
			d = digit(int(k))
		}
		if sig == 0 && d == '0' {
			continue
		}
		sig++
		if sig > prec {
			return n, true, false
		}
		n = n.Mul(numTen).Add(decimalDigits[d-'0'])
	}
	if keep >= 0 && keep < int64(total) && digit(int(keep)) >= '5' {
		n = n.Add(decimalDigits[1])
		if !n.FitsInPrecision(prec) {
			return n, true, false
		}
	}
	if neg {
		n = n.Negate()
	}
	return n, true, true
}
