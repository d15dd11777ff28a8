package pgtext

import (
	"math"
	"strconv"
	"unsafe"
)

// pow10f holds the powers of ten a float64 represents exactly.
var pow10f = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// Float64 parses a DOUBLE PRECISION as Postgres's float8in does: surrounding
// white space ignored, then either an optionally signed decimal number
// (digits with an optional point, at least one digit, and an optional
// exponent e[sign]digits), or NaN, or an optionally signed Inf or Infinity,
// the words in any case. Hex floats, '_' between digits and a signed NaN
// are not numbers (Go's syntax takes some of these; Postgres's portable
// one does not). isNum reports whether the text is a number (a Syntax fault
// if not), fits whether it is representable: not too large for a float64,
// and not a nonzero value that rounds to zero (Postgres's "out of range"
// for both; a subnormal result is kept). The value is correctly rounded.
func Float64(b []byte) (f float64, isNum, fits bool) {
	b = TrimSpace(b)
	i := 0
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	// Plain decimals of at most 15 digits are exact: the digits fit in the
	// 53-bit mantissa and the power of ten is exact, so one correctly
	// rounded division gives the correctly rounded value.
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
	if i == len(b) && nd > 0 && nd <= 15 {
		f = float64(m)
		if frac > 0 {
			f /= pow10f[frac]
		}
		if neg {
			f = -f
		}
		return f, true, true
	}
	if nd == 0 {
		w := b[start:]
		switch {
		case equalFold(w, "inf"), equalFold(w, "infinity"):
			if neg {
				return math.Inf(-1), true, true
			}
			return math.Inf(1), true, true
		case start == 0 && equalFold(w, "nan"):
			return math.NaN(), true, true
		}
		return 0, false, false
	}
	mantEnd := i
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			i++
		}
		expStart := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == expStart {
			return 0, false, false
		}
	}
	if i != len(b) {
		return 0, false, false
	}
	// b is now in the syntax above, which strconv reads the same way.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil {
		// Only overflow is left (strconv reports ErrRange with ±Inf).
		return 0, true, false
	}
	if f == 0 {
		for _, c := range b[start:mantEnd] {
			if c >= '1' && c <= '9' {
				return 0, true, false // underflow: Postgres refuses it
			}
		}
	}
	return f, true, true
}

// equalFold reports whether b is word (lower-case ASCII) in any case.
func equalFold(b []byte, word string) bool {
	if len(b) != len(word) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != word[i] {
			return false
		}
	}
	return true
}
