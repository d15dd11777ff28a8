package eval

import (
	"strings"
	"unsafe"

	"github.com/sluicedb/sluice/internal/pgtext"

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

// textBytes views s as bytes without copying, for the read-only parsers
// of internal/pgtext; the bytes must not be written or retained.
func textBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// ParseDate parses a DATE literal into days since the Unix epoch with
// pgtext.Date, the parser COPY and the event decoders use too:
// YYYY-M[M]-D[D] (surrounding white space allowed), optionally followed by
// a time and zone that must be valid but are ignored, as in Postgres. A
// bad date is a *sqlerr.Error with Postgres's code: 22007 for text that is
// not the syntax, 22008 for a field out of range (2021-02-29, 25:00), 22009
// for a zone offset out of range (+16).
func ParseDate(s string) (int32, error) {
	d, f := pgtext.Date(textBytes(s))
	if f != pgtext.OK {
		return 0, errDateTimeFault(f, "date", s)
	}
	return d, nil
}

// ParseTimestamp parses a TIMESTAMP literal into microseconds since the
// Unix epoch (UTC) with pgtext.Timestamp, the parser COPY and the event
// decoders use too: 'YYYY-MM-DD', or that, 'T' or white space, and
// 'HH:MM[:SS[.f]]' (24:00:00 and a 60th second roll over as in Postgres),
// then an optional zone 'Z' or ±HH[[:]MM[:SS]] up to ±15:59:59, converted
// to UTC. More than six fractional digits are rounded to microseconds. A
// bad value is a *sqlerr.Error with Postgres's code: 22007 for text that
// is not the syntax, 22008 for a field out of range (2021-02-29, 25:00) or
// a value outside years 0001 to 9999 once converted to UTC, 22009 for a
// zone offset out of range (+16).
func ParseTimestamp(s string) (int64, error) { return parseTimestamp(s, 6) }

// parseTimestamp is ParseTimestamp for TIMESTAMP(p): the value is rounded
// to p fractional digits before its range is checked.
func parseTimestamp(s string, p int32) (int64, error) {
	us, f := pgtext.Timestamp(textBytes(s), p)
	if f != pgtext.OK {
		return 0, errDateTimeFault(f, "timestamp", s)
	}
	return us, nil
}

// errDateTimeFault is Postgres's error for fault f of s read as the date
// or time type what ("date" or "timestamp").
func errDateTimeFault(f pgtext.Fault, what, s string) error {
	switch f {
	case pgtext.Range:
		return sqlerr.Execf(sqlerr.DatetimeOverflow, "%s out of range: %q", what, s)
	case pgtext.FieldRange:
		return sqlerr.Execf(sqlerr.DatetimeOverflow, "date/time field value out of range: %q", s)
	case pgtext.ZoneRange:
		return sqlerr.Execf(sqlerr.InvalidZoneDisplacement, "time zone displacement out of range: %q", s)
	}
	return errDatetime(what, s)
}

// timestampOf returns the microseconds of a TIMESTAMP or DATE datum.
func timestampOf(d types.Datum) int64 {
	if d.Kind == types.Date {
		return d.I * usPerDay
	}
	return d.I
}
