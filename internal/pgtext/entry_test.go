package pgtext_test

import (
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/sluicedb/sluice/connectors/format"
	"github.com/sluicedb/sluice/internal/pgtext"
	"github.com/sluicedb/sluice/operators/eval"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// entryCase is one text input for a type: the value it reads as (shown by
// show), or the SQLSTATE of its error.
type entryCase struct {
	in   string
	want string // the value, when code is ""
	code string
	// field marks a 22008 for a date/time field out of range (pgtext's
	// FieldRange), not a timestamp outside the supported years (Range).
	field bool
}

func okc(in, want string) entryCase  { return entryCase{in: in, want: want} }
func badc(in, code string) entryCase { return entryCase{in: in, code: code} }

// fieldc is a date/time with a field out of range: 22008, Postgres's
// datetime_field_overflow.
func fieldc(in string) entryCase { return entryCase{in: in, code: codeOverflow, field: true} }

// zonec is a date/time with a zone offset out of range: 22009, Postgres's
// invalid_time_zone_displacement_value.
func zonec(in string) entryCase { return entryCase{in: in, code: codeZone} }

// The SQLSTATEs the entry points report.
const (
	codeDatetime = sqlerr.InvalidDatetime   // 22007
	codeOverflow = "22008"                  // datetime_field_overflow
	codeZone     = "22009"                  // invalid_time_zone_displacement_value
	codeSyntax   = sqlerr.InvalidTextRep    // 22P02
	codeNumRange = sqlerr.NumericOutOfRange // 22003
)

// wantMsg is the message Postgres gives for bad date/time case c of type t,
// or "" where the test does not check it.
func wantMsg(t types.T, c entryCase) string {
	if t.Kind != types.Timestamp && t.Kind != types.Date {
		return ""
	}
	name := "timestamp"
	if t.Kind == types.Date {
		name = "date"
	}
	switch {
	case c.code == codeDatetime:
		return "invalid input syntax for type " + name + ": " + strconv.Quote(c.in)
	case c.code == codeOverflow && c.field:
		return "date/time field value out of range: " + strconv.Quote(c.in)
	case c.code == codeOverflow:
		return name + " out of range: " + strconv.Quote(c.in)
	case c.code == codeZone:
		return "time zone displacement out of range: " + strconv.Quote(c.in)
	}
	return ""
}

// entryCases are the edge cases of the text forms pgtext parses, with what
// Postgres does for each (except where noted), checked against every entry
// point by TestEntryPointsAgree.
var entryCases = []struct {
	t     types.T
	cases []entryCase
}{
	{types.TimestampType(6), []entryCase{
		// Numeric zone offsets: Postgres takes up to ±15:59:59.
		okc("2020-01-01 00:00+15", "2019-12-31 09:00:00"),
		okc("2020-01-01 00:00-15", "2020-01-01 15:00:00"),
		okc("2020-01-01 00:00+14", "2019-12-31 10:00:00"),
		okc("2020-01-01 00:00+15:59", "2019-12-31 08:01:00"),
		okc("2020-01-01 00:00-15:59", "2020-01-01 15:59:00"),
		okc("2020-01-01 00:00-15:59:59", "2020-01-01 15:59:59"),
		okc("2020-01-01 00:00+1559", "2019-12-31 08:01:00"),
		okc("2020-01-01 00:00+5", "2019-12-31 19:00:00"),
		okc("2020-01-01 00:00+530", "2019-12-31 18:30:00"),
		okc("2020-01-01 00:00+05:30", "2019-12-31 18:30:00"),
		okc("2020-01-01 00:00+05:", "2019-12-31 19:00:00"),
		okc("2020-01-01 00:00-00", "2020-01-01 00:00:00"),
		// Past that the zone is out of range (22009), not bad syntax.
		zonec("2020-01-01 00:00+16"),
		zonec("2020-01-01 00:00-16"),
		zonec("2020-01-01 00:00+16:00"),
		zonec("2020-01-01 00:00-16:00"),
		zonec("2020-01-01 00:00+1600"),
		zonec("2020-01-01 00:00+15:60"),
		zonec("2020-01-01 00:00-0060"),
		zonec("2020-01-01 00:00+15:59:60"),
		zonec("2020-01-01 00:00 +99"),
		zonec("2020-01-01T00:00:00.5+24:00"),
		badc("2020-01-01 00:00+", codeDatetime),
		zonec("2020-01-01 00:00+16:"),
		badc("2020-01-01 00:00+16:x", codeDatetime),
		badc("2020-01-01 00:00+1a", codeDatetime),
		// Fractional seconds: microseconds, the seventh digit rounding half up.
		okc("2020-01-01 10:00:00.5", "2020-01-01 10:00:00.5"),
		okc("2020-01-01 10:00:00.123456", "2020-01-01 10:00:00.123456"),
		okc("2020-01-01 10:00:00.1234565", "2020-01-01 10:00:00.123457"),
		okc("2020-01-01 10:00:00.1234564", "2020-01-01 10:00:00.123456"),
		okc("2020-01-01 23:59:59.9999995", "2020-01-02 00:00:00"),
		okc("1969-12-31 23:59:59.999999", "1969-12-31 23:59:59.999999"),
		badc("2020-01-01 10:00:00.", codeDatetime),
		// 24:00:00 is the next midnight, a 60th second the next minute.
		okc("2020-01-01 24:00", "2020-01-02 00:00:00"),
		okc("2020-12-31 24:00:00", "2021-01-01 00:00:00"),
		okc("2020-01-01 24:00:00.0000004", "2020-01-02 00:00:00"),
		okc("2020-12-31 23:59:60", "2021-01-01 00:00:00"),
		okc("2020-01-01 10:00:60.5", "2020-01-01 10:01:00.5"),
		// Past that a time of day is out of range (22008), not bad syntax.
		fieldc("2020-01-01 24:00:00.000001"),
		fieldc("2020-01-01 24:01"),
		fieldc("2020-01-01 24:00:01"),
		fieldc("2020-01-01 24:00:60"),
		fieldc("2020-01-01 25:00"),
		fieldc("2020-01-01T99:00Z"),
		fieldc("2020-01-01 10:00:61"),
		fieldc("2020-01-01 10:00:99.5"),
		fieldc("2020-01-01 10:60"),
		fieldc("2020-01-01 0:99:00"),
		// Leap days, and days and months that do not exist (22008).
		okc("2024-02-29 12:00", "2024-02-29 12:00:00"),
		okc("2000-02-29", "2000-02-29 00:00:00"),
		okc("2024-2-29T1:02:03Z", "2024-02-29 01:02:03"),
		fieldc("2023-02-29 12:00"),
		fieldc("2021-02-29"),
		fieldc("1900-02-29"),
		fieldc("2024-02-30"),
		fieldc("2020-04-31 10:00"),
		fieldc("2020-01-32"),
		fieldc("2020-1-32"),
		fieldc("2020-01-00"),
		fieldc("2020-13-01"),
		fieldc("2020-13-1 10:00"),
		fieldc("2020-00-10"),
		fieldc("0000-01-01"),
		fieldc(" 2020-99-99T10:00:00.5Z "),
		// A field out of range in text that is not the syntax is bad
		// syntax (22007); as in Postgres, a time of day out of range comes
		// before a zone out of range, and that before a day that does not
		// exist (Postgres checks the date last).
		badc("2020-13-01 nonsense", codeDatetime),
		badc("2020-02-30 25:00+", codeDatetime),
		badc("2020-02-30X10:00", codeDatetime),
		badc("2020-13", codeDatetime),
		fieldc("2020-01-01 25:00+16"),
		fieldc("2020-01-01 10:00:61 +16:00"),
		zonec("2020-02-30 10:00+16"),
		zonec("2020-13-01 10:00-15:60"),
		fieldc("2020-02-30 10:00+15"),
		// White space: C-locale, around the value, between date and time,
		// before the zone.
		okc(" \t2020-01-01 10:00\n\r", "2020-01-01 10:00:00"),
		okc("\v2020-01-01\f", "2020-01-01 00:00:00"),
		okc("2020-01-01   10:00", "2020-01-01 10:00:00"),
		okc("2020-01-01\t10:00", "2020-01-01 10:00:00"),
		okc("2020-01-01 10:00 +05", "2020-01-01 05:00:00"),
		okc("2020-01-01 10:00:00 Z", "2020-01-01 10:00:00"),
		okc("2020-01-01T10:00z", "2020-01-01 10:00:00"),
		badc("\u00a02020-01-01", codeDatetime), // no-break space is not white space to Postgres
		badc("", codeDatetime),
		badc("   ", codeDatetime),
		// BC dates and years outside 0001 to 9999 are not supported (Postgres
		// takes them); once converted to UTC the result must be within range,
		// with Postgres's "timestamp out of range" code.
		okc("0001-01-01 00:00", "0001-01-01 00:00:00"),
		okc("0001-01-01 00:00-01", "0001-01-01 01:00:00"),
		okc("9999-12-31 23:59:59.999999", "9999-12-31 23:59:59.999999"),
		badc("0001-01-01 BC", codeDatetime),
		badc("2020-01-01 10:00 BC", codeDatetime),
		badc("10000-01-01", codeDatetime),
		badc("0001-01-01 00:00+01", codeOverflow),
		badc("9999-12-31 23:00-01", codeOverflow),
		badc("9999-12-31 24:00", codeOverflow),
		badc("9999-12-31 23:59:60", codeOverflow),
		// Stricter than Postgres: zone names, one-digit minutes and seconds,
		// MM:SS.f, three-digit hours and a run-together zone of five or more
		// digits (Postgres reads +053045 as hour 530, out of range, 22009)
		// are not supported, and so are bad syntax (22007).
		badc("2020-01-01 10:00 UTC", codeDatetime),
		badc("2020-01-01 10:5", codeDatetime),
		badc("2020-01-01 10:00:5", codeDatetime),
		badc("2020-01-01 00:00+05:3", codeDatetime),
		badc("2020-01-01 10:00.5", codeDatetime),
		badc("2020-01-01 100:00", codeDatetime),
		badc("2020-01-01 00:00+053045", codeDatetime),
		badc("2020-01-01 00:00+160:00", codeDatetime),
	}},
	{types.TimestampType(0), []entryCase{
		okc("2020-01-01 10:00:00.5", "2020-01-01 10:00:01"),
		okc("1969-12-31 23:59:59.5", "1970-01-01 00:00:00"),
		okc("2020-01-01 10:00:00.49+15:59", "2019-12-31 18:01:00"),
		// Rounding comes before the range check.
		badc("9999-12-31 23:59:59.6", codeOverflow),
		okc("9999-12-31 23:59:59.4", "9999-12-31 23:59:59"),
	}},
	{types.DateType, []entryCase{
		okc("2024-02-29", "2024-02-29"),
		okc(" 2020-1-5\n", "2020-01-05"),
		// A time and zone are checked and ignored, as by Postgres's date_in.
		okc("2020-01-01 23:00-05", "2020-01-01"),
		okc("2020-01-01 00:30+15:59", "2020-01-01"),
		okc("2020-01-01 24:00", "2020-01-01"),
		okc("2020-01-01T10:00:00.5Z", "2020-01-01"),
		okc("9999-12-31 23:00-01", "9999-12-31"),
		// Its faults are TIMESTAMP's, but a date near the ends of the range
		// is not out of range once the zone is applied.
		fieldc("2020-01-01 25:00"),
		fieldc("2020-01-01 24:00:01"),
		fieldc("2020-01-01 10:60"),
		fieldc("2023-02-29"),
		fieldc("2021-02-29 10:00+05"),
		fieldc("2020-13-01"),
		fieldc("2020-06-31"),
		fieldc("0000-12-31"),
		zonec("2020-01-01 10:00+16"),
		zonec("2020-01-01 10:00-15:60"),
		zonec("2021-02-29 10:00+16"),
		fieldc("2020-01-01 25:00+16"),
		okc("0001-01-01 00:00+01", "0001-01-01"),
		badc("2021-02-29 junk", codeDatetime),
		badc("0001-01-01 BC", codeDatetime),
		badc("2020-01", codeDatetime),
		badc("", codeDatetime),
	}},
	{types.BoolType, []entryCase{
		okc("true", "true"), okc("tru", "true"), okc("T", "true"), okc(" YES\t", "true"), okc("ye", "true"),
		okc("on", "true"), okc("1", "true"), okc("false", "false"), okc("FaL", "false"), okc("n", "false"),
		okc("of", "false"), okc("off", "false"), okc("0", "false"),
		badc("o", codeSyntax), badc("onn", codeSyntax), badc("truee", codeSyntax), badc("yess", codeSyntax),
		badc("10", codeSyntax), badc("2", codeSyntax), badc("", codeSyntax), badc("t rue", codeSyntax),
	}},
	{types.DoubleType, []entryCase{
		okc("1.5", "1.5"), okc(" -2.5e3 ", "-2500"), okc("1.", "1"), okc(".5", "0.5"), okc("+3", "3"),
		okc("0.1", "0.1"), okc("1E2", "100"), okc("1e+2", "100"), okc("-0", "-0"), okc("007", "7"),
		// Past 15 digits (and with an exponent) the value is still correctly rounded.
		okc("0.30000000000000004", "0.30000000000000004"), okc("123456789012345678", "1.2345678901234568e+17"),
		okc("1.7976931348623157e308", "1.7976931348623157e+308"), okc("9007199254740993", "9.007199254740992e+15"),
		okc("3650238426039.2323", "3.6502384260392324e+12"), okc("46397.0396455549399", "46397.03964555494"),
		okc("-2843383954.0762985", "-2.8433839540762987e+09"),
		// A subnormal is kept; zero with any exponent is zero.
		okc("4e-320", "4e-320"), okc("0e-400", "0"), okc("-0.000e99999", "-0"),
		// NaN and [+-]Inf[inity], in any case and with white space around.
		okc("NaN", "NaN"), okc("nan", "NaN"), okc(" nAN\n", "NaN"),
		okc("Infinity", "+Inf"), okc("-Infinity", "-Inf"), okc("+Infinity", "+Inf"), okc("infinity", "+Inf"),
		okc("inf", "+Inf"), okc("+inf", "+Inf"), okc("-inf", "-Inf"), okc("-INF", "-Inf"), okc("iNfInItY", "+Inf"),
		okc(" \tInfinity\n", "+Inf"), okc("\v-inf\f", "-Inf"),
		// Too large, or nonzero and too small: out of range.
		badc("1e400", codeNumRange), badc("-1e400", codeNumRange), badc("1.8e308", codeNumRange),
		badc("1e-400", codeNumRange), badc("-1e-400", codeNumRange), badc(" 1e-400 ", codeNumRange),
		badc("1e99999999999999999999", codeNumRange), badc("0.1e-99999999999999999999", codeNumRange),
		// Go's float syntax beyond Postgres's: hex floats, '_' between digits.
		badc("0x10", codeSyntax), badc("0x1p4", codeSyntax), badc("0x1p-2000", codeSyntax), badc("1_000", codeSyntax),
		badc("1_000.5", codeSyntax), badc("0b101", codeSyntax), badc("0o17", codeSyntax),
		// Not numbers.
		badc("", codeSyntax), badc("   ", codeSyntax), badc(".", codeSyntax), badc("-", codeSyntax), badc("+", codeSyntax),
		badc("1e", codeSyntax), badc("1e+", codeSyntax), badc("e5", codeSyntax), badc("1.2.3", codeSyntax),
		badc("1e5.5", codeSyntax), badc("1 000", codeSyntax), badc("- 1", codeSyntax), badc("--1", codeSyntax),
		badc("1f", codeSyntax), badc("1d", codeSyntax), badc("\u00a01", codeSyntax), badc("abc", codeSyntax),
		badc("in", codeSyntax), badc("infinit", codeSyntax), badc("infinityy", codeSyntax), badc("infinity1", codeSyntax),
		badc("Inf inity", codeSyntax), badc("+-inf", codeSyntax), badc("nana", codeSyntax),
		// Stricter than Postgres built on glibc, whose strtod also takes a
		// signed NaN and NaN(chars) (and hex floats): Postgres's own
		// fallback, for platforms without them, does not.
		badc("-NaN", codeSyntax), badc("+nan", codeSyntax), badc("nan(1)", codeSyntax),
	}},
	{types.DecimalType(6, 2), []entryCase{
		okc("1.25", "1.25"), okc(" -3\n", "-3.00"), okc("0.005", "0.01"), okc("-0.005", "-0.01"), okc("0.004", "0.00"),
		okc("+.5", "0.50"), okc("5.", "5.00"), okc("1.5e2", "150.00"), okc("15E-1", "1.50"), okc("9999.994", "9999.99"),
		okc("0e1000", "0.00"), okc("1e-1000", "0.00"), okc("1e-500", "0.00"), okc("0000000000000000000000000000000000000000001", "1.00"),
		badc("10000", codeNumRange), badc("9999.995", codeNumRange), badc("-12345", codeNumRange),
		badc("1e500", codeNumRange), badc("1e1000", codeNumRange),
		badc("1e1001", codeSyntax), badc("1e-1001", codeSyntax), badc(".", codeSyntax), badc("1e", codeSyntax),
		badc("NaN", codeSyntax), badc("Infinity", codeSyntax), badc("1 000", codeSyntax), badc("1_000", codeSyntax),
		badc("0x10", codeSyntax), badc("", codeSyntax),
	}},
	{types.DecimalType(38, 0), []entryCase{
		okc("99999999999999999999999999999999999999", "99999999999999999999999999999999999999"),
		okc("-1.5", "-2"), okc("1e37", "10000000000000000000000000000000000000"),
		badc("1e38", codeNumRange), badc("1e100", codeNumRange), badc("99999999999999999999999999999999999999.5", codeNumRange),
	}},
}

// show renders a value of type t stored as i (or f for a DOUBLE, dec for
// a DECIMAL).
func show(t types.T, i int64, f float64, dec decimal128.Num) string {
	switch t.Kind {
	case types.Double:
		return strconv.FormatFloat(f, 'g', -1, 64)
	case types.Boolean:
		return strconv.FormatBool(i != 0)
	case types.Decimal:
		return types.FormatDecimal(dec, t.Scale)
	}
	return types.Datum{Kind: t.Kind, I: i}.String()
}

// codeOf is err's SQLSTATE, or a note that it has none.
func codeOf(err error) string {
	if e, ok := sqlerr.As(err); ok {
		return e.Code
	}
	return "not a *sqlerr.Error: " + err.Error()
}

// TestEntryPointsAgree runs every case through each way text becomes a
// value: COPY and the event decoders (format.ParseText) and CAST
// (eval.CastDatum), so that they cannot drift apart again.
func TestEntryPointsAgree(t *testing.T) {
	entries := []struct {
		name  string
		parse func(in string, t types.T) (string, error)
	}{
		{"format.ParseText", func(in string, t types.T) (string, error) {
			var v format.Value
			err := format.ParseText(&v, []byte(in), t)
			return show(t, v.I, v.F, v.Dec), err
		}},
		{"eval.CastDatum", func(in string, t types.T) (string, error) {
			d, err := eval.CastDatum(types.NewText(in), t)
			return show(t, d.I, d.F, d.Dec), err
		}},
	}
	for _, tc := range entryCases {
		for _, c := range tc.cases {
			for _, e := range entries {
				got, err := e.parse(c.in, tc.t)
				switch {
				case c.code == "" && err != nil:
					t.Errorf("%s(%q, %s): %v, want %s", e.name, c.in, tc.t, err, c.want)
				case c.code == "" && got != c.want:
					t.Errorf("%s(%q, %s) = %s, want %s", e.name, c.in, tc.t, got, c.want)
				case c.code != "" && err == nil:
					t.Errorf("%s(%q, %s) = %s, want error %s", e.name, c.in, tc.t, got, c.code)
				case c.code != "" && codeOf(err) != c.code:
					t.Errorf("%s(%q, %s): error %v (%s), want %s", e.name, c.in, tc.t, err, codeOf(err), c.code)
				case c.code != "" && wantMsg(tc.t, c) != "" && err.Error() != wantMsg(tc.t, c):
					t.Errorf("%s(%q, %s): error %q, want %q", e.name, c.in, tc.t, err, wantMsg(tc.t, c))
				}
			}
		}
	}
}

// TestParsersDirect checks the pgtext parsers themselves on the same cases:
// the Fault each gives and, for TIMESTAMP(6), DATE and BOOLEAN, the value.
func TestParsersDirect(t *testing.T) {
	for _, tc := range entryCases {
		for _, c := range tc.cases {
			var got int64
			var dec decimal128.Num
			var fl float64
			var f pgtext.Fault
			switch tc.t.Kind {
			case types.Double:
				var isNum, fits bool
				fl, isNum, fits = pgtext.Float64([]byte(c.in))
				switch {
				case !isNum:
					f = pgtext.Syntax
				case !fits:
					f = pgtext.Range
				}
			case types.Decimal:
				var isNum, fits bool
				dec, isNum, fits = pgtext.Decimal([]byte(c.in), tc.t.Precision, tc.t.Scale)
				switch {
				case !isNum:
					f = pgtext.Syntax
				case !fits:
					f = pgtext.Range
				}
			case types.Timestamp:
				got, f = pgtext.Timestamp([]byte(c.in), tc.t.Precision)
			case types.Date:
				var d int32
				d, f = pgtext.Date([]byte(c.in))
				got = int64(d)
			case types.Boolean:
				v, ok := pgtext.Bool([]byte(c.in))
				if v {
					got = 1
				}
				if !ok {
					f = pgtext.Syntax
				}
			}
			want := pgtext.OK
			switch c.code {
			case codeOverflow:
				want = pgtext.Range
				if c.field {
					want = pgtext.FieldRange
				}
			case codeZone:
				want = pgtext.ZoneRange
			case codeNumRange:
				want = pgtext.Range
			case codeDatetime, codeSyntax:
				want = pgtext.Syntax
			}
			if f != want || (want == pgtext.OK && show(tc.t, got, fl, dec) != c.want) {
				t.Errorf("pgtext %s %q = %s, fault %d; want %q, fault %d", tc.t, c.in, show(tc.t, got, fl, dec), f, c.want, want)
			}
		}
	}
}

// TestRoundMicros checks rounding to TIMESTAMP(p), half toward +∞ on
// either side of the epoch.
func TestRoundMicros(t *testing.T) {
	for _, c := range []struct {
		us   int64
		p    int32
		want int64
	}{
		{-1500, 3, -1000}, {-1501, 3, -2000}, {1500, 3, 2000}, {1499, 3, 1000},
		{-500_000, 0, 0}, {-500_001, 0, -1_000_000}, {123_456, 5, 123_460}, {123_456, 6, 123_456},
		{123_456, -1, 123_456}, {123_456, 7, 123_456},
	} {
		if got := pgtext.RoundMicros(c.us, c.p); got != c.want {
			t.Errorf("RoundMicros(%d, %d) = %d, want %d", c.us, c.p, got, c.want)
		}
	}
}
