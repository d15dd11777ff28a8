package format

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// bstr views b as a string without copying; the string must not outlive
// b's contents or be retained.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// isSpace reports whether c is white space in the C locale (space, \t,
// \n, \v, \f, \r): what Postgres skips around a number, boolean or
// date/time.
func isSpace(c byte) bool { return c == ' ' || c-'\t' <= '\r'-'\t' }

// trimSpace trims ASCII white space (isSpace).
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

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

// parseDecimal parses a decimal number (optional sign, digits, point,
// exponent of at most 1000 either way) into a DECIMAL(p,s) value, rounding
// half away from zero to s fractional digits. It reports whether the text
// is a number and whether the value fits in p digits.
func parseDecimal(b []byte, prec, scale int32) (n decimal128.Num, isNum, fits bool) {
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

// parseBool accepts true/false, t/f, 1/0, yes/no and on/off, any case.
func parseBool(b []byte) (bool, bool) {
	var buf [5]byte
	if len(b) > len(buf) {
		return false, false
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(b)]) {
	case "true", "t", "1", "yes", "y", "on":
		return true, true
	case "false", "f", "0", "no", "n", "off":
		return false, true
	}
	return false, false
}

// digitsAt reads exactly n digits at b[i:].
func digitsAt(b []byte, i, n int) (int64, bool) {
	if i+n > len(b) {
		return 0, false
	}
	v := int64(0)
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// digits12 reads one or two digits at b[i:], returning their value and the
// index after them.
func digits12(b []byte, i int) (v int64, next int, ok bool) {
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		return 0, i, false
	}
	v, i = int64(b[i]-'0'), i+1
	if i < len(b) && b[i] >= '0' && b[i] <= '9' {
		v, i = v*10+int64(b[i]-'0'), i+1
	}
	return v, i, true
}

// daysFromCivil converts a proleptic Gregorian date to days since 1970-01-01.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDateAt parses YYYY-M[M]-D[D] (year 0001 to 9999, a real day) at the
// start of b, returning the day number and the index after it.
func parseDateAt(b []byte) (days int64, next int, ok bool) {
	y, ok := digitsAt(b, 0, 4)
	if !ok || y < 1 || len(b) < 5 || b[4] != '-' {
		return 0, 0, false
	}
	// The usual YYYY-MM-DD first, then one-digit months and days.
	m, ok1 := digitsAt(b, 5, 2)
	d, ok2 := digitsAt(b, 8, 2)
	i := 10
	if !ok1 || !ok2 || b[7] != '-' {
		m, i, ok = digits12(b, 5)
		if !ok || i >= len(b) || b[i] != '-' {
			return 0, 0, false
		}
		d, i, ok = digits12(b, i+1)
	}
	if !ok || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, 0, false
	}
	return daysFromCivil(y, m, d), i, true
}

// parseDate parses a date, YYYY-M[M]-D[D], into days since the epoch.
func parseDate(b []byte) (int32, bool) {
	days, n, ok := parseDateAt(b)
	if !ok || n != len(b) {
		return 0, false
	}
	return int32(days), true
}

// maxZoneHours bounds a zone offset's hours, as Postgres does.
const maxZoneHours = 15

// parseTimestamp parses a date alone or a date, ' ' or 'T', and
// H[H]:MM[:SS[.f...]], then an optional zone, 'Z' or ±HH[[:]MM] (hours up
// to 15), which is converted to UTC, into microseconds since the epoch.
// Digits past the sixth fractional one round half up.
func parseTimestamp(b []byte) (int64, bool) {
	days, i, ok := parseDateAt(b)
	if !ok {
		return 0, false
	}
	us := days * 86400e6
	if i == len(b) {
		return us, true
	}
	if b[i] != ' ' && b[i] != 'T' && b[i] != 't' {
		return 0, false
	}
	h, i, ok := digits12(b, i+1)
	if !ok || h > 23 || i >= len(b) || b[i] != ':' {
		return 0, false
	}
	mi, ok := digitsAt(b, i+1, 2)
	if !ok || mi > 59 {
		return 0, false
	}
	i += 3
	var sec, frac int64
	if i < len(b) && b[i] == ':' {
		sec, ok = digitsAt(b, i+1, 2)
		if !ok || sec > 59 {
			return 0, false
		}
		i += 3
		if i < len(b) && b[i] == '.' {
			i++
			n := 0
			for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
				if n < 6 {
					frac = frac*10 + int64(b[i]-'0')
				} else if n == 6 && b[i] >= '5' {
					frac++
				}
				n++
			}
			if n == 0 {
				return 0, false
			}
			for k := n; k < 6; k++ {
				frac *= 10
			}
		}
	}
	us += (h*3600+mi*60+sec)*1e6 + frac
	if i == len(b) {
		return us, true
	}
	switch b[i] {
	case 'Z', 'z':
		return us, i+1 == len(b)
	case '+', '-':
		sign := int64(1)
		if b[i] == '-' {
			sign = -1
		}
		oh, ok := digitsAt(b, i+1, 2)
		if !ok || oh > maxZoneHours {
			return 0, false
		}
		j := i + 3
		if j < len(b) && b[j] == ':' {
			j++
		}
		var om int64
		if j < len(b) {
			om, ok = digitsAt(b, j, 2)
			if !ok || om > 59 || j+2 != len(b) {
				return 0, false
			}
		}
		return us - sign*(oh*3600+om*60)*1e6, true
	}
	return 0, false
}

// roundMicros rounds a timestamp to TIMESTAMP(p)'s precision, half up.
func roundMicros(us int64, p int32) int64 {
	switch p { // constant divisors compile to multiplies
	case 0:
		return roundTo(us, 1e6)
	case 1:
		return roundTo(us, 1e5)
	case 2:
		return roundTo(us, 1e4)
	case 3:
		return roundTo(us, 1e3)
	case 4:
		return roundTo(us, 1e2)
	case 5:
		return roundTo(us, 1e1)
	}
	return us
}

// roundTo rounds v half up to a multiple of unit.
func roundTo(v, unit int64) int64 {
	h := v + unit/2
	q := h / unit
	if h%unit < 0 {
		q--
	}
	return q * unit
}

// msToMicros converts epoch milliseconds to microseconds, checking range.
func msToMicros(ms int64) (int64, bool) {
	const lim = math.MaxInt64 / 1000
	if ms > lim || ms < -lim {
		return 0, false
	}
	return ms * 1000, true
}
