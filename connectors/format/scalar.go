package format

import (
	"math"
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

// parseFloat parses a floating-point number that fits in a float64, by
// Postgres's rules (pgtext.Float64, as COPY and CAST).
func parseFloat(b []byte) (float64, bool) {
	f, isNum, fits := pgtext.Float64(b)
	return f, isNum && fits
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
