package eval

import (
	"strings"

	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

const (
	usPerSec = int64(1_000_000)
	usPerDay = 86400 * usPerSec
	// Dates and timestamps are limited to years 1..9999 as in MySQL.
	minDay = -719162 // 0001-01-01
	maxDay = 2932896 // 9999-12-31
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// daysFromCivil returns days since 1970-01-01 of the proleptic Gregorian
// date y-m-d (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInMonth(y, m int64) int64 {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// addMonths adds n calendar months to a day number, clamping the day of
// month to the end of the target month ('2026-01-31' + 1 month = '2026-02-28').
func addMonths(day int64, n int64) int64 {
	if n == 0 {
		return day
	}
	y, m, d := civilFromDays(day)
	total := y*12 + (m - 1) + n
	ny := floorDiv(total, 12)
	nm := total - ny*12 + 1
	if dm := daysInMonth(ny, nm); d > dm {
		d = dm
	}
	return daysFromCivil(ny, nm, d)
}

// addInterval adds an interval to a timestamp in microseconds. ok is false
// when the result falls outside years 1..9999 (MySQL then gives NULL).
func addInterval(us int64, months, days int32, ivUs int64) (int64, bool) {
	if months > 200000 || months < -200000 || days > 5000000 || days < -5000000 ||
		ivUs > 5000000*usPerDay || ivUs < -5000000*usPerDay {
		return 0, false
	}
	day := floorDiv(us, usPerDay)
	tod := us - day*usPerDay
	day = addMonths(day, int64(months)) + int64(days)
	r := day*usPerDay + tod + ivUs
	if r < minDay*usPerDay || r >= (maxDay+1)*usPerDay {
		return 0, false
	}
	return r, true
}

// dateAddInterval adds the month and day parts of an interval to a date.
func dateAddInterval(day int64, months, days int32) (int64, bool) {
	r, ok := addInterval(day*usPerDay, months, days, 0)
	return floorDiv(r, usPerDay), ok
}

// timeUnit is a unit of EXTRACT or DATE_TRUNC.
type timeUnit uint8

const (
	unitNone timeUnit = iota
	unitYear
	unitQuarter
	unitMonth
	unitWeek
	unitDay
	unitHour
	unitMinute
	unitSecond
	unitMicrosecond
	unitDow
	unitDoy
	unitEpoch
)

var unitNames = map[string]timeUnit{
	"YEAR": unitYear, "QUARTER": unitQuarter, "MONTH": unitMonth, "WEEK": unitWeek,
	"DAY": unitDay, "HOUR": unitHour, "MINUTE": unitMinute, "SECOND": unitSecond,
	"MICROSECOND": unitMicrosecond, "DOW": unitDow, "DOY": unitDoy, "EPOCH": unitEpoch,
}

func parseUnit(s string, trunc bool) (timeUnit, error) {
	u := unitNames[strings.ToUpper(strings.TrimSpace(s))]
	if trunc && u > unitSecond {
		u = unitNone
	}
	if u == unitNone {
		fn := "EXTRACT"
		if trunc {
			fn = "DATE_TRUNC"
		}
		return unitNone, sqlerr.Execf(sqlerr.InvalidParameter, "%s unit %q is not supported", fn, s)
	}
	return u, nil
}

// isoWeekday returns 1 (Monday) .. 7 (Sunday) of a day number.
func isoWeekday(day int64) int64 { return floorMod(day+3, 7) + 1 }

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// extract returns the field u of the timestamp us (microseconds).
func extract(u timeUnit, us int64) int64 {
	day := floorDiv(us, usPerDay)
	tod := us - day*usPerDay
	switch u {
	case unitYear, unitQuarter, unitMonth, unitDay, unitDoy:
		y, m, d := civilFromDays(day)
		switch u {
		case unitYear:
			return y
		case unitQuarter:
			return (m-1)/3 + 1
		case unitMonth:
			return m
		case unitDay:
			return d
		default:
			return day - daysFromCivil(y, 1, 1) + 1
		}
	case unitWeek:
		th := day - isoWeekday(day) + 4 // Thursday of this ISO week
		y, _, _ := civilFromDays(th)
		return (th-daysFromCivil(y, 1, 1))/7 + 1
	case unitHour:
		return tod / (3600 * usPerSec)
	case unitMinute:
		return tod / (60 * usPerSec) % 60
	case unitSecond:
		return tod / usPerSec % 60
	case unitMicrosecond:
		return tod % usPerSec
	case unitDow:
		return floorMod(day+4, 7) // 0 = Sunday
	case unitEpoch:
		return floorDiv(us, usPerSec)
	}
	return 0
}

// dateTrunc truncates the timestamp us to unit u.
func dateTrunc(u timeUnit, us int64) int64 {
	day := floorDiv(us, usPerDay)
	switch u {
	case unitYear, unitQuarter, unitMonth:
		y, m, _ := civilFromDays(day)
		switch u {
		case unitYear:
			m = 1
		case unitQuarter:
			m = (m-1)/3*3 + 1
		}
		return daysFromCivil(y, m, 1) * usPerDay
	case unitWeek:
		return (day - isoWeekday(day) + 1) * usPerDay
	case unitDay:
		return day * usPerDay
	case unitHour:
		return floorDiv(us, 3600*usPerSec) * 3600 * usPerSec
	case unitMinute:
		return floorDiv(us, 60*usPerSec) * 60 * usPerSec
	case unitSecond:
		return floorDiv(us, usPerSec) * usPerSec
	}
	return us
}

// roundTimestamp rounds microseconds to p fractional digits (0..6), half up.
func roundTimestamp(us int64, p int32) int64 {
	if p >= 6 || p < 0 {
		return us
	}
	unit := int64(1)
	for i := p; i < 6; i++ {
		unit *= 10
	}
	return floorDiv(us+unit/2, unit) * unit
}

func digits(s string, i, min, max int) (int64, int, bool) {
	v := int64(0)
	j := i
	for j < len(s) && j-i < max && s[j] >= '0' && s[j] <= '9' {
		v = v*10 + int64(s[j]-'0')
		j++
	}
	return v, j, j-i >= min
}

// parseDatePart parses YYYY-MM-DD at the start of s, returning the day
// number and the index after it.
func parseDatePart(s string) (int64, int, bool) {
	y, i, ok := digits(s, 0, 4, 4)
	if !ok || i >= len(s) || s[i] != '-' {
		return 0, 0, false
	}
	m, i, ok := digits(s, i+1, 1, 2)
	if !ok || i >= len(s) || s[i] != '-' {
		return 0, 0, false
	}
	d, i, ok := digits(s, i+1, 1, 2)
	if !ok || y < 1 || m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m) {
		return 0, 0, false
	}
	return daysFromCivil(y, m, d), i, true
}

// ParseDate parses a DATE literal 'YYYY-MM-DD' (surrounding spaces
// allowed) into days since the Unix epoch. A malformed or impossible date is
// a *sqlerr.Error with code 22007.
func ParseDate(s string) (int32, error) {
	t := strings.TrimSpace(s)
	day, i, ok := parseDatePart(t)
	if !ok || i != len(t) {
		return 0, errDatetime("date", s)
	}
	return int32(day), nil
}

// ParseTimestamp parses a TIMESTAMP literal into microseconds since the
// Unix epoch (UTC). Accepted forms: 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM[:SS[.f]]'
// with ' ' or 'T' between date and time, and an optional zone suffix 'Z' or
// '+HH[:MM]' / '-HH[:MM]' that is converted to UTC. More than six
// fractional digits are rounded to microseconds. A malformed value is a
// *sqlerr.Error with code 22007.
func ParseTimestamp(s string) (int64, error) {
	t := strings.TrimSpace(s)
	day, i, ok := parseDatePart(t)
	if !ok {
		return 0, errDatetime("timestamp", s)
	}
	us := day * usPerDay
	if i == len(t) {
		return us, nil
	}
	if t[i] != ' ' && t[i] != 'T' && t[i] != 't' {
		return 0, errDatetime("timestamp", s)
	}
	i++
	h, i, ok := digits(t, i, 1, 2)
	if !ok || i >= len(t) || t[i] != ':' || h > 23 {
		return 0, errDatetime("timestamp", s)
	}
	mi, i, ok := digits(t, i+1, 2, 2)
	if !ok || mi > 59 {
		return 0, errDatetime("timestamp", s)
	}
	var sec, frac int64
	if i < len(t) && t[i] == ':' {
		sec, i, ok = digits(t, i+1, 2, 2)
		if !ok || sec > 59 {
			return 0, errDatetime("timestamp", s)
		}
		if i < len(t) && t[i] == '.' {
			j := i + 1
			n := 0
			for j < len(t) && t[j] >= '0' && t[j] <= '9' {
				if n < 6 {
					frac = frac*10 + int64(t[j]-'0')
				} else if n == 6 && t[j] >= '5' {
					frac++ // round the 7th digit
				}
				n++
				j++
			}
			if n == 0 {
				return 0, errDatetime("timestamp", s)
			}
			for k := min(n, 6); k < 6; k++ {
				frac *= 10
			}
			i = j
		}
	}
	us += h*3600*usPerSec + mi*60*usPerSec + sec*usPerSec + frac
	if i < len(t) {
		z := t[i:]
		switch {
		case z == "Z" || z == "z":
		case z[0] == '+' || z[0] == '-':
			oh, j, ok := digits(z, 1, 2, 2)
			if !ok || oh > 14 {
				return 0, errDatetime("timestamp", s)
			}
			var om int64
			if j < len(z) && z[j] == ':' {
				j++
			}
			if j < len(z) {
				om, j, ok = digits(z, j, 2, 2)
				if !ok || om > 59 {
					return 0, errDatetime("timestamp", s)
				}
			}
			if j != len(z) {
				return 0, errDatetime("timestamp", s)
			}
			off := (oh*3600 + om*60) * usPerSec
			if z[0] == '+' {
				us -= off
			} else {
				us += off
			}
		default:
			return 0, errDatetime("timestamp", s)
		}
	}
	return us, nil
}

// timestampOf returns the microseconds of a TIMESTAMP or DATE datum.
func timestampOf(d types.Datum) int64 {
	if d.Kind == types.Date {
		return d.I * usPerDay
	}
	return d.I
}
