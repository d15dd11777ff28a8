package format

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/internal/pgtext"
)

// bstr views b as a string without copying; the string must not outlive
// b's contents or be retained.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// trimSpace trims C-locale white space, what Postgres skips around a
// number, boolean or date/time.
func trimSpace(b []byte) []byte { return pgtext.TrimSpace(b) }

// parseInt parses an optionally signed decimal integer that fits in int64.
func parseInt(b []byte) (int64, bool) {
	v, isNum, fits := parseInt64(b)
	return v, isNum && fits
}

// parseInt64 parses an optionally signed decimal integer. isNum says b is
// one; fits says it is within int64 (v is 0 when it is not).
func parseInt64(b []byte) (v int64, isNum, fits bool) {
	if len(b) == 0 {
		return 0, false, false
	}
	neg := false
	switch b[0] {
	case '-':
		neg = true
		b = b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false, false
	}
	if len(b) > 19 {
		// 19 digits can overflow; more always do unless leading zeros.
		for len(b) > 19 && b[0] == '0' {
			b = b[1:]
		}
		if len(b) > 19 {
			for _, c := range b {
				if c < '0' || c > '9' {
					return 0, false, false
				}
			}
			return 0, true, false
		}
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, true, false
		}
		return -int64(u), true, true
	}
	if u > math.MaxInt64 {
		return 0, true, false
	}
	return int64(u), true, true
}

var pow10f = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat parses a floating-point number that fits in a float64.
func parseFloat(b []byte) (float64, bool) {
	f, isNum, fits := parseFloat64(b)
	return f, isNum && fits
}

// parseFloat64 parses a floating-point number: isNum says b is one, fits
// that it is representable: not too large for a float64, and not a
// nonzero value that rounds to zero (Postgres refuses both; a subnormal
// result is kept). Plain decimals with at most 15
// significant digits take an exact fast path; the rest go to strconv, so
// NaN, [+-]Inf and [+-]Infinity (any case), exponents, hex floats and '_'
// between digits are accepted as Go's syntax has them.
func parseFloat64(b []byte) (f float64, isNum, fits bool) {
	i := 0
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	var m uint64
	nd, frac := 0, 0
	start := i
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		m = m*10 + uint64(b[i]-'0')
		nd++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			m = m*10 + uint64(b[i]-'0')
			nd++
			frac++
		}
	}
	if i == len(b) && nd > 0 && nd <= 15 && i > start {
		f = float64(m)
		if frac > 0 {
			f /= pow10f[frac]
		}
		if neg {
			f = -f
		}
		return f, true, true
	}
	f, err := strconv.ParseFloat(bstr(b), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, true, false // overflow (strconv reports no underflow)
		}
		return 0, false, false
	}
	if f == 0 && nonzeroMantissa(b) {
		return 0, true, false // underflow: Postgres refuses it too
	}
	return f, true, true
}

// nonzeroMantissa reports whether the number spelled by b (accepted by
// strconv.ParseFloat) has a nonzero digit before its exponent.
func nonzeroMantissa(b []byte) bool {
	b = trimSpace(b)
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	hex := len(b) > 1 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X')
	if hex {
		b = b[2:]
	}
	for _, c := range b {
		switch {
		case hex && (c == 'p' || c == 'P'), !hex && (c == 'e' || c == 'E'):
			return false
		case c >= '1' && c <= '9', hex && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'):
			return true
		}
	}
	return false
}

// parseDecimal parses a decimal number into a DECIMAL(p,s) value with
// pgtext.Decimal, the parser CAST uses too.
func parseDecimal(b []byte, prec, scale int32) (n decimal128.Num, isNum, fits bool) {
	return pgtext.Decimal(b, prec, scale)
}

// msToMicros converts epoch milliseconds to microseconds, checking range.
func msToMicros(ms int64) (int64, bool) {
	const lim = math.MaxInt64 / 1000
	if ms > lim || ms < -lim {
		return 0, false
	}
	return ms * 1000, true
}
