// Package pgtext holds the byte-level parsers of the text forms of
// BOOLEAN, DATE, TIMESTAMP, DECIMAL and DOUBLE PRECISION values, with
// PostgreSQL's input syntax. It is the one implementation behind both
// external input (connectors/format: COPY FROM and the Kafka/CSV/JSON event
// decoders) and CAST (operators/eval), so the two cannot accept different
// text.
//
// The parsers do not allocate, skip surrounding white space themselves, and
// report a Fault (or isNum/fits) rather than an error: each caller words the
// error its own way, with Postgres's SQLSTATEs: 22007 for a date or timestamp
// that is not the syntax (Syntax), 22008 for one with a field out of range
// (FieldRange) or outside the supported years (Range), 22009 for a zone
// offset out of range (ZoneRange), 22P02 for a bad boolean or number, 22003
// for a number out of range.
package pgtext

// Fault says why text is not a value of a type.
type Fault uint8

// The Fault values.
const (
	// OK means the text is a value.
	OK Fault = iota
	// Syntax means the text is not the syntax of the type.
	Syntax
	// Range means a well-formed timestamp falls outside years 0001 to
	// 9999 once its zone offset is applied.
	Range
	// FieldRange means a date or timestamp has the syntax but a field out
	// of range: year 0000, month 13, February 30th, hour 25, minute 60,
	// second 61, or 24:00 with anything after it.
	FieldRange
	// ZoneRange means a date or timestamp has the syntax but its zone
	// offset is out of range: hours past 15, minutes or seconds past 59.
	ZoneRange
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

// dateAt parses YYYY-M[M]-D[D] at the start of b, returning the day number
// and the index after it; f is Syntax if b does not start with that,
// FieldRange if it is not a real day (year 0000 included).
func dateAt(b []byte) (days int64, next int, f Fault) {
	y, ok := digitsAt(b, 0, 4)
	if !ok || len(b) < 5 || b[4] != '-' {
		return 0, 0, Syntax
	}
	// The usual YYYY-MM-DD first, then one-digit months and days.
	m, ok1 := digitsAt(b, 5, 2)
	d, ok2 := digitsAt(b, 8, 2)
	i := 10
	if !ok1 || !ok2 || b[7] != '-' {
		m, i, ok = digits12(b, 5)
		if !ok || i >= len(b) || b[i] != '-' {
			return 0, 0, Syntax
		}
		if d, i, ok = digits12(b, i+1); !ok {
			return 0, 0, Syntax
		}
	}
	if y < 1 || m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m) {
		return 0, i, FieldRange
	}
	return DaysFromCivil(y, m, d), i, OK
}

// scan parses a date and an optional time of day and zone (the syntax
// Timestamp documents; b already trimmed), returning the day number, the
// time of day in microseconds (up to 24:00:00, or a minute's 60th second)
// and the zone's offset east of UTC in microseconds. A field out of range
// does not stop the scan: text that is not the syntax is a Syntax fault
// wherever it is; then, in the order Postgres checks them, a time of day
// out of range is a FieldRange fault, a zone out of range a ZoneRange one,
// and a date that does not exist a FieldRange one.
func scan(b []byte) (days, tod, off int64, f Fault) {
	days, i, f := dateAt(b)
	if f == Syntax {
		return 0, 0, 0, Syntax
	}
	if i == len(b) {
		return days, 0, 0, f
	}
	switch {
	case b[i] == 'T' || b[i] == 't':
		i++
	case IsSpace(b[i]):
		for i++; i < len(b) && IsSpace(b[i]); i++ {
		}
	default:
		return 0, 0, 0, Syntax
	}
	h, i, ok := digits12(b, i)
	if !ok || i >= len(b) || b[i] != ':' {
		return 0, 0, 0, Syntax
	}
	mi, ok := digitsAt(b, i+1, 2)
	if !ok {
		return 0, 0, 0, Syntax
	}
	timeBad := h > 24 || mi > 59
	i += 3
	var sec, frac int64
	if i < len(b) && b[i] == ':' {
		if sec, ok = digitsAt(b, i+1, 2); !ok {
			return 0, 0, 0, Syntax
		}
		timeBad = timeBad || sec > 60 // Postgres takes a leap second, as the next minute
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
				return 0, 0, 0, Syntax
			}
			for k := n; k < 6; k++ {
				frac *= 10
			}
		}
	}
	tod = (h*3600+mi*60+sec)*usPerSec + frac
	if timeBad || (h == 24 && tod != usPerDay) { // only 24:00:00 itself, as in Postgres
		timeBad, f = true, FieldRange
	}
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	if i == len(b) {
		return days, tod, 0, f
	}
	switch b[i] {
	case 'Z', 'z':
		if i+1 != len(b) {
			return 0, 0, 0, Syntax
		}
		return days, tod, 0, f
	case '+', '-':
		var zf Fault
		if off, zf = zone(b[i+1:]); zf == Syntax || (zf == ZoneRange && !timeBad) {
			return 0, 0, 0, zf
		}
		if b[i] == '-' {
			off = -off
		}
		return days, tod, off, f
	}
	return 0, 0, 0, Syntax
}

// zone parses a numeric zone offset after its sign, as Postgres does: H,
// HH, HMM, HHMM, H[H]:, H[H]:MM or H[H]:MM:SS, hours up to 15 (minutes and
// seconds take exactly two digits, where Postgres takes one too). It
// returns the offset's magnitude in microseconds, or a Syntax or ZoneRange
// fault.
func zone(b []byte) (int64, Fault) {
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
			return 0, Syntax
		}
		switch j := n + 3; {
		case j == len(b):
		case b[j] == ':' && j+3 == len(b):
			if s, ok = digitsAt(b, j+1, 2); !ok {
				return 0, Syntax
			}
		default:
			return 0, Syntax
		}
	default:
		return 0, Syntax
	}
	if h > maxZoneHours || m > 59 || s > 59 {
		return 0, ZoneRange
	}
	return (h*3600 + m*60 + s) * usPerSec, OK
}

// Timestamp parses a TIMESTAMP into microseconds since the Unix epoch, UTC.
// Accepted, with C-locale white space around it ignored: a date,
// YYYY-M[M]-D[D] (years 0001 to 9999), alone or followed by 'T' or white
// space and a time, H[H]:MM[:SS[.f...]] (24:00:00 is the next midnight and
// a 60th second the next minute, as in Postgres; digits past the sixth
// fractional one round half up), then optionally white space and a zone:
// Z, or ±H[H][[:]MM[:SS]] up to ±15:59:59, which is converted to UTC.
// Text of that form with a field out of range (2021-02-29, 25:00, 10:60)
// is a FieldRange fault, with a zone out of range (+16, +15:60) a
// ZoneRange one. The value is rounded to TIMESTAMP(p)'s p fractional
// digits (RoundMicros) before its range is checked: a result outside years
// 0001 to 9999 is a Range fault.
func Timestamp(b []byte, p int32) (int64, Fault) {
	days, tod, off, f := scan(TrimSpace(b))
	if f != OK {
		return 0, f
	}
	us := RoundMicros(days*usPerDay+tod-off, p)
	if us < MinDay*usPerDay || us >= (MaxDay+1)*usPerDay {
		return 0, Range
	}
	return us, OK
}

// Date parses a DATE into days since the Unix epoch. It takes what
// Timestamp takes and, as Postgres's date_in does, keeps only the date as
// written: the time and the zone must be valid but are ignored. Its
// faults are Timestamp's but Range.
func Date(b []byte) (int32, Fault) {
	days, _, _, f := scan(TrimSpace(b))
	if f != OK {
		return 0, f
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
