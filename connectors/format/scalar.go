package format

import (
	"math"

	"github.com/sluicedb/sluice/internal/pgtext"
)

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

// msToMicros converts epoch milliseconds to microseconds, checking range.
func msToMicros(ms int64) (int64, bool) {
	const lim = math.MaxInt64 / 1000
	if ms > lim || ms < -lim {
		return 0, false
	}
	return ms * 1000, true
}
