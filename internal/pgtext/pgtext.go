// Package pgtext holds the byte-level parsers of the text forms of
// BOOLEAN, DATE, TIMESTAMP, DECIMAL and DOUBLE PRECISION values, with
// PostgreSQL's input syntax. It is the one implementation behind both
// external input (connectors/format: COPY FROM and the Kafka/CSV/JSON event
// decoders) and CAST (operators/eval), so the two cannot accept different
// text.
//
// The parsers do not allocate, skip surrounding white space themselves, and
// report a Fault (or isNum/fits) rather than an error: each caller words the
// error its own way (SQLSTATE 22007 for a bad date or timestamp, 22008 for
// one outside the supported range, 22P02 for a bad boolean or number, 22003
// for a number out of range).
package pgtext

// Fault says why text is not a value of a type.
type Fault uint8

// The Fault values.
const (
	// OK means the text is a value.
	OK Fault = iota
	// Syntax means the text is not the syntax of the type, or names a
	// field that does not exist (February 30th, 25 o'clock, zone +16).
	Syntax
	// Range means a well-formed timestamp falls outside years 0001 to
	// 9999 once its zone offset is applied.
	Range
)

const (
	usPerSec = int64(1_000_000)
	usPerDay = 86400 * usPerSec
	// MinDay is 0001-01-01 and MaxDay 9999-12-31, in days since the Unix
	// epoch: the range of DATE and TIMESTAMP.
	MinDay = -719162
	MaxDay = 2932896
	// maxZoneHours bounds a numeric zone offset's hours: Postgres accepts
	// up to ±15:59:59.
	maxZoneHours = 15
)

// IsSpace reports whether c is white space in the C locale (space, \t,
// \n, \v, \f, \r): what Postgres skips around a number, boolean or
// date/time.
func IsSpace(c byte) bool { return c == ' ' || c-'\t' <= '\r'-'\t' }

// TrimSpace trims C-locale white space (IsSpace) from both ends of b.
func TrimSpace(b []byte) []byte {
	for len(b) > 0 && IsSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && IsSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// Bool parses a BOOLEAN as Postgres's boolin does: surrounding white space
// is ignored, and any case of true/false, yes/no, on/off, 1/0, or a prefix
// of true, false, yes or no ('t', 'fal', 'y'), or of off of at least two
// letters ('of'), is accepted.
func Bool(b []byte) (v, ok bool) {
	b = TrimSpace(b)
	if len(b) == 0 || len(b) > 5 {
		return false, false
	}
	var word string
	switch b[0] | 0x20 {
	case 't':
		word, v = "true", true
	case 'f':
		word = "false"
	case 'y':
		word, v = "yes", true
	case 'n':
		word = "no"
	case 'o':
		if len(b) < 2 {
			return false, false // 'o' could be on or off
		}
		switch b[1] | 0x20 {
		case 'n':
			word, v = "on", true
		case 'f':
			word = "off"
		default:
			return false, false
		}
	case '1', '0':
		return b[0] == '1', len(b) == 1
	default:
		return false, false
	}
	if len(b) > len(word) {
		return false, false
	}
	for i, c := range b {
		if c|0x20 != word[i] {
			return false, false
		}
	}
	return v, true
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

// DaysFromCivil converts a proleptic Gregorian date to days since
// 1970-01-01 (Howard Hinnant's algorithm).
func DaysFromCivil(y, m, d int64) int64 {
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

// DaysInMonth is the number of days in month m of year y.
func DaysInMonth(y, m int64) int64 {
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

// dateAt parses YYYY-M[M]-D[D] (year 0001 to 9999, a real day) at the
// start of b, returning the day number and the index after it.
func dateAt(b []byte) (days int64, next int, ok bool) {
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
	if !ok || m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m) {
		return 0, 0, false
	}
	return DaysFromCivil(y, m, d), i, true
}

// scan parses a date and an optional time of day and zone (the syntax
// Timestamp documents; b already trimmed), returning the day number, the
// time of day in microseconds (up to 24:00:00, or a minute's 60th second)
// and the zone's offset east of UTC in microseconds.
func scan(b []byte) (days, tod, off int64, ok bool) {
	days, i, ok := dateAt(b)
	if !ok {
		return 0, 0, 0, false
	}
	if i == len(b) {
		return days, 0, 0, true
	}
	switch {
	case b[i] == 'T' || b[i] == 't':
		i++
	case IsSpace(b[i]):
		for i++; i < len(b) && IsSpace(b[i]); i++ {
		}
	default:
		return 0, 0, 0, false
	}
	h, i, ok := digits12(b, i)
	if !ok || h > 24 || i >= len(b) || b[i] != ':' {
		return 0, 0, 0, false
	}
	mi, ok := digitsAt(b, i+1, 2)
	if !ok || mi > 59 {
		return 0, 0, 0, false
	}
	i += 3
	var sec, frac int64
	if i < len(b) && b[i] == ':' {
		sec, ok = digitsAt(b, i+1, 2)
		if !ok || sec > 60 { // Postgres takes a leap second, as the next minute
			return 0, 0, 0, false
		}
		i += 3
		if i < len(b) && b[i] == '.' {
			i++
			n := 0
			for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
				if n < 6 {
					frac = frac*10 + int64(b[i]-'0')
				} else if n == 6 && b[i] >= '5' {
					frac++ // digits past the sixth round half up
				}
				n++
			}
			if n == 0 {
				return 0, 0, 0, false
			}
			for k := n; k < 6; k++ {
				frac *= 10
			}
		}
	}
	tod = (h*3600+mi*60+sec)*usPerSec + frac
	if h == 24 && tod != usPerDay {
		return 0, 0, 0, false // only 24:00:00 itself, as in Postgres
	}
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	if i == len(b) {
		return days, tod, 0, true
	}
	switch b[i] {
	case 'Z', 'z':
		return days, tod, 0, i+1 == len(b)
	case '+', '-':
		off, ok = zone(b[i+1:])
		if !ok {
			return 0, 0, 0, false
		}
		if b[i] == '-' {
			off = -off
		}
		return days, tod, off, true
	}
	return 0, 0, 0, false
}

// zone parses a numeric zone offset after its sign, as Postgres does: H,
// HH, HMM, HHMM, H[H]:, H[H]:MM or H[H]:MM:SS, hours up to 15 (minutes and
// seconds take exactly two digits, where Postgres takes one too). It
// returns the offset's magnitude in microseconds.
func zone(b []byte) (int64, bool) {
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	var h, m, s int64
	switch {
	case n == len(b) && n >= 1 && n <= 2: // H, HH
		h, _ = digitsAt(b, 0, n)
	case n == len(b) && n >= 3 && n <= 4: // HMM, HHMM
		h, _ = digitsAt(b, 0, n-2)
		m, _ = digitsAt(b, n-2, 2)
	case n >= 1 && n <= 2 && b[n] == ':' && n+1 == len(b): // H[H]:
		h, _ = digitsAt(b, 0, n)
	case n >= 1 && n <= 2 && b[n] == ':': // H[H]:MM[:SS]
		h, _ = digitsAt(b, 0, n)
		var ok bool
		if m, ok = digitsAt(b, n+1, 2); !ok {
			return 0, false
		}
		switch j := n + 3; {
		case j == len(b):
		case b[j] == ':' && j+3 == len(b):
			if s, ok = digitsAt(b, j+1, 2); !ok {
				return 0, false
			}
		default:
			return 0, false
		}
	default:
		return 0, false
	}
	if h > maxZoneHours || m > 59 || s > 59 {
		return 0, false
	}
	return (h*3600 + m*60 + s) * usPerSec, true
}

// Timestamp parses a TIMESTAMP into microseconds since the Unix epoch, UTC.
// Accepted, with C-locale white space around it ignored: a date,
// YYYY-M[M]-D[D] (years 0001 to 9999), alone or followed by 'T' or white
// space and a time, H[H]:MM[:SS[.f...]] (24:00:00 is the next midnight and
// a 60th second the next minute, as in Postgres; digits past the sixth
// fractional one round half up), then optionally white space and a zone:
// Z, or ±H[H][[:]MM[:SS]] up to ±15:59:59, which is converted to UTC.
// A result outside years 0001 to 9999 is a Range fault.
func Timestamp(b []byte) (int64, Fault) {
	days, tod, off, ok := scan(TrimSpace(b))
	if !ok {
		return 0, Syntax
	}
	us := days*usPerDay + tod - off
	if us < MinDay*usPerDay || us >= (MaxDay+1)*usPerDay {
		return 0, Range
	}
	return us, OK
}

// Date parses a DATE into days since the Unix epoch. It takes what
// Timestamp takes and, as Postgres's date_in does, keeps only the date as
// written: the time and the zone must be valid but are ignored.
func Date(b []byte) (int32, Fault) {
	days, _, _, ok := scan(TrimSpace(b))
	if !ok {
		return 0, Syntax
	}
	return int32(days), OK
}

// RoundMicros rounds a timestamp in microseconds to TIMESTAMP(p)'s
// precision, p fractional digits, half up (toward +∞); p outside 0 to 5
// leaves it as it is.
func RoundMicros(us int64, p int32) int64 {
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
