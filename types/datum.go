package types

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// Datum is one SQL value. The zero Datum is NULL of unknown type.
//
// Which field holds the value depends on Kind: Boolean, Int, BigInt,
// Timestamp (microseconds) and Date (days) use I; Double uses F; Varchar
// uses S; Decimal uses Dec (scaled by the type's scale, kept in Scale);
// Interval uses I (microseconds), Months and Days.
type Datum struct {
	Kind   Kind
	Null   bool
	I      int64
	F      float64
	S      string
	Dec    decimal128.Num
	Scale  int32
	Months int32
	Days   int32
}

// NullDatum is the untyped NULL.
var NullDatum = Datum{Kind: Unknown, Null: true}

// NewNull returns a NULL of type t.
func NewNull(t T) Datum { return Datum{Kind: t.Kind, Null: true, Scale: t.Scale} }

// NewBool returns a BOOLEAN datum.
func NewBool(b bool) Datum {
	d := Datum{Kind: Boolean}
	if b {
		d.I = 1
	}
	return d
}

// NewInt returns an INT datum.
func NewInt(v int32) Datum { return Datum{Kind: Int, I: int64(v)} }

// NewBigInt returns a BIGINT datum.
func NewBigInt(v int64) Datum { return Datum{Kind: BigInt, I: v} }

// NewDouble returns a DOUBLE datum.
func NewDouble(v float64) Datum { return Datum{Kind: Double, F: v} }

// NewText returns a VARCHAR datum.
func NewText(s string) Datum { return Datum{Kind: Varchar, S: s} }

// NewDecimal returns a DECIMAL datum holding n scaled by scale.
func NewDecimal(n decimal128.Num, scale int32) Datum {
	return Datum{Kind: Decimal, Dec: n, Scale: scale}
}

// NewTimestamp returns a TIMESTAMP datum from microseconds since the epoch.
func NewTimestamp(us int64) Datum { return Datum{Kind: Timestamp, I: us} }

// NewDate returns a DATE datum from days since the epoch.
func NewDate(days int32) Datum { return Datum{Kind: Date, I: int64(days)} }

// NewInterval returns an INTERVAL datum.
func NewInterval(months, days int32, us int64) Datum {
	return Datum{Kind: Interval, Months: months, Days: days, I: us}
}

// Bool reports the truth of a BOOLEAN datum (NULL is false).
func (d Datum) Bool() bool { return !d.Null && d.I != 0 }

// Time returns a TIMESTAMP or DATE datum as a UTC time.
func (d Datum) Time() time.Time {
	if d.Kind == Date {
		return time.Unix(d.I*86400, 0).UTC()
	}
	return time.UnixMicro(d.I).UTC()
}

// Float returns the value of a numeric datum as a float64.
func (d Datum) Float() float64 {
	switch d.Kind {
	case Double:
		return d.F
	case Decimal:
		return d.Dec.ToFloat64(d.Scale)
	default:
		return float64(d.I)
	}
}

// String formats d as Postgres prints it in text format; NULL prints as "NULL".
func (d Datum) String() string {
	if d.Null {
		return "NULL"
	}
	return string(d.AppendText(nil))
}

// AppendText appends the Postgres text form of a non-NULL d to buf.
func (d Datum) AppendText(buf []byte) []byte {
	switch d.Kind {
	case Boolean:
		if d.I != 0 {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case Int, BigInt:
		return strconv.AppendInt(buf, d.I, 10)
	case Double:
		return AppendFloat(buf, d.F)
	case Decimal:
		return append(buf, FormatDecimal(d.Dec, d.Scale)...)
	case Varchar:
		return append(buf, d.S...)
	case Timestamp:
		return AppendTimestamp(buf, d.I)
	case Date:
		return AppendDate(buf, int32(d.I))
	case Interval:
		return append(buf, FormatInterval(d.Months, d.Days, d.I)...)
	}
	return buf
}

// AppendFloat formats a float64 the way Postgres 15 does (shortest exact form).
func AppendFloat(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e15) {
		b := strconv.AppendFloat(buf, f, 'e', -1, 64)
		// Postgres writes at least two exponent digits: 1e+20, 1e-05.
		return b
	}
	return strconv.AppendFloat(buf, f, 'f', -1, 64)
}

// FormatDecimal prints n scaled by scale with exactly scale fractional digits.
func FormatDecimal(n decimal128.Num, scale int32) string {
	neg := n.Sign() < 0
	if neg {
		n = n.Negate()
	}
	s := n.BigInt().String()
	if scale > 0 {
		if len(s) <= int(scale) {
			s = strings.Repeat("0", int(scale)-len(s)+1) + s
		}
		s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// AppendTimestamp formats microseconds since the epoch as
// "2006-01-02 15:04:05[.ffffff]", trailing zeros of the fraction dropped.
func AppendTimestamp(buf []byte, us int64) []byte {
	t := time.UnixMicro(us).UTC()
	buf = t.AppendFormat(buf, "2006-01-02 15:04:05")
	if frac := t.Nanosecond() / 1000; frac != 0 {
		f := strconv.Itoa(frac + 1000000)[1:]
		f = strings.TrimRight(f, "0")
		buf = append(buf, '.')
		buf = append(buf, f...)
	}
	return buf
}

// AppendDate formats days since the epoch as "2006-01-02".
func AppendDate(buf []byte, days int32) []byte {
	return time.Unix(int64(days)*86400, 0).UTC().AppendFormat(buf, "2006-01-02")
}

// FormatInterval prints an interval as Postgres does: "1 mon 2 days 03:04:05".
func FormatInterval(months, days int32, us int64) string {
	var parts []string
	if y := months / 12; y != 0 {
		parts = append(parts, plural(int64(y), "year"))
	}
	if m := months % 12; m != 0 {
		parts = append(parts, plural(int64(m), "mon"))
	}
	if days != 0 {
		parts = append(parts, plural(int64(days), "day"))
	}
	if us != 0 || len(parts) == 0 {
		neg := us < 0
		if neg {
			us = -us
		}
		h := us / 3600e6
		m := us / 60e6 % 60
		s := us / 1e6 % 60
		frac := us % 1e6
		t := pad2(h) + ":" + pad2(m) + ":" + pad2(s)
		if frac != 0 {
			t += "." + strings.TrimRight(strconv.FormatInt(frac+1e6, 10)[1:], "0")
		}
		if neg {
			t = "-" + t
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, " ")
}

func plural(n int64, unit string) string {
	s := strconv.FormatInt(n, 10) + " " + unit
	if n != 1 && n != -1 {
		s += "s"
	}
	return s
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}
