package format

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// showValue renders v as a value of type t, with Go's own formatting (not
// Sluice's), for comparing with the expected text.
func showValue(v *Value, t types.T) string {
	switch t.Kind {
	case types.Boolean:
		return strconv.FormatBool(v.I != 0)
	case types.Int, types.BigInt:
		return strconv.FormatInt(v.I, 10)
	case types.Double:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case types.Decimal:
		return types.FormatDecimal(v.Dec, t.Scale)
	case types.Varchar:
		return string(v.S)
	case types.Timestamp:
		return time.UnixMicro(v.I).UTC().Format("2006-01-02 15:04:05.999999")
	case types.Date:
		return time.Unix(v.I*86400, 0).UTC().Format("2006-01-02")
	}
	return "?"
}

// textCase is one ParseText input: the value it parses to, or the
// SQLSTATE and message of its error.
type textCase struct {
	in   string
	want string // the parsed value shown by showValue, when code is ""
	code string
	msg  string
}

func ok(in, want string) textCase       { return textCase{in: in, want: want} }
func bad(in, code, msg string) textCase { return textCase{in: in, code: code, msg: msg} }

// syntax is the 22P02 case of in for a type named name.
func syntax(name, in string) textCase {
	return bad(in, sqlerr.InvalidTextRep, "invalid input syntax for type "+name+": "+strconv.Quote(in))
}

// datetime is the 22007 case of in for a type named name.
func datetime(name, in string) textCase {
	return bad(in, sqlerr.InvalidDatetime, "invalid input syntax for type "+name+": "+strconv.Quote(in))
}

// field is the 22008 case of in, a date/time with a field out of range.
func field(in string) textCase {
	return bad(in, sqlerr.DatetimeOverflow, "date/time field value out of range: "+strconv.Quote(in))
}

// zoneRange is the 22009 case of in, a date/time with a zone offset out of
// range.
func zoneRange(in string) textCase {
	return bad(in, sqlerr.InvalidZoneDisplacement, "time zone displacement out of range: "+strconv.Quote(in))
}

func TestParseText(t *testing.T) {
	const numOverflow = "numeric field overflow"
	for _, tc := range []struct {
		t     types.T
		cases []textCase
	}{
		{types.BoolType, []textCase{
			ok("true", "true"), ok("TRUE", "true"), ok("t", "true"), ok("T", "true"), ok("yes", "true"), ok("Y", "true"),
			ok("on", "true"), ok("On", "true"), ok("1", "true"), ok(" true\n", "true"),
			ok("false", "false"), ok("f", "false"), ok("No", "false"), ok("n", "false"), ok("off", "false"), ok("0", "false"),
			ok("\tOFF\r", "false"),
			syntax("boolean", "maybe"), syntax("boolean", ""), ok("tru", "true"), ok("FAL", "false"), ok("ye", "true"), ok("of", "false"), syntax("boolean", "o"), syntax("boolean", "onn"), syntax("boolean", "2"),
			syntax("boolean", "truee"), syntax("boolean", "falsey"), syntax("boolean", "t rue"),
		}},
		{types.IntType, []textCase{
			ok("0", "0"), ok("-7", "-7"), ok(" +42 ", "42"), ok("\n12\r", "12"), ok("2147483647", "2147483647"),
			ok("-2147483648", "-2147483648"), ok("000000000000000000000000000001", "1"),
			bad("2147483648", sqlerr.NumericOutOfRange, `value "2147483648" is out of range for type integer`),
			bad(" -2147483649", sqlerr.NumericOutOfRange, `value " -2147483649" is out of range for type integer`),
			bad("99999999999999999999", sqlerr.NumericOutOfRange, `value "99999999999999999999" is out of range for type integer`),
			syntax("integer", "abc"), syntax("integer", ""), syntax("integer", "1.0"), syntax("integer", "1e3"),
			syntax("integer", "- 1"), syntax("integer", "12a"), syntax("integer", "+"), syntax("integer", "1 2"),
		}},
		{types.BigIntType, []textCase{
			ok("9223372036854775807", "9223372036854775807"), ok("-9223372036854775808", "-9223372036854775808"),
			ok("+00000000000000000000012", "12"),
			bad("9223372036854775808", sqlerr.NumericOutOfRange, `value "9223372036854775808" is out of range for type bigint`),
			bad("-9223372036854775809", sqlerr.NumericOutOfRange, `value "-9223372036854775809" is out of range for type bigint`),
			bad("123456789012345678901234", sqlerr.NumericOutOfRange, `value "123456789012345678901234" is out of range for type bigint`),
			syntax("bigint", "three"), syntax("bigint", "12x34567890123456789012"), syntax("bigint", "-"),
		}},
		{types.DoubleType, []textCase{
			ok("1.5", "1.5"), ok(" -2.5e3 ", "-2500"), ok("0.1", "0.1"), ok("1.", "1"), ok(".5", "0.5"), ok("+3", "3"),
			ok("123456789012345678", "1.2345678901234568e+17"), ok("0e-400", "0"), ok("-0.0", "-0"), ok("4e-320", "4e-320"),
			ok("NaN", "NaN"), ok("nan", "NaN"), ok("Infinity", "+Inf"), ok("-Infinity", "-Inf"), ok("inf", "+Inf"),
			ok("-INF", "-Inf"), ok("+inf", "+Inf"),
			bad("1e400", sqlerr.NumericOutOfRange, `"1e400" is out of range for type double precision`),
			bad("-1e400", sqlerr.NumericOutOfRange, `"-1e400" is out of range for type double precision`),
			bad("1e-400", sqlerr.NumericOutOfRange, `"1e-400" is out of range for type double precision`),
			bad(" 1e-400\t", sqlerr.NumericOutOfRange, `" 1e-400\t" is out of range for type double precision`),
			syntax("double precision", "0x1p4"), syntax("double precision", "0x1p-2000"), syntax("double precision", "1_000"),
			syntax("double precision", "abc"), syntax("double precision", ""), syntax("double precision", "1.2.3"),
			syntax("double precision", "infinit"), syntax("double precision", "1e"), syntax("double precision", "."),
		}},
		{types.DecimalType(6, 2), []textCase{
			ok("1.25", "1.25"), ok("-3", "-3.00"), ok("0.005", "0.01"), ok("-0.005", "-0.01"), ok("0.004", "0.00"),
			ok("1.5e2", "150.00"), ok("15E-1", "1.50"), ok(" 7\t", "7.00"), ok("+.5", "0.50"), ok("5.", "5.00"),
			ok("1e-500", "0.00"), ok("0e1000", "0.00"), ok("1e-1000", "0.00"), ok("9999.994", "9999.99"), ok("-9999.99", "-9999.99"),
			ok("0000000000000000000000000000000000000000001", "1.00"),
			bad("10000", sqlerr.NumericOutOfRange, numOverflow), bad("9999.995", sqlerr.NumericOutOfRange, numOverflow),
			bad("1e500", sqlerr.NumericOutOfRange, numOverflow), bad("-12345", sqlerr.NumericOutOfRange, numOverflow),
			bad("1e1000", sqlerr.NumericOutOfRange, numOverflow), syntax("numeric", "0e1001"), syntax("numeric", "1e-1001"),
			syntax("numeric", "abc"), syntax("numeric", "1e"), syntax("numeric", "."), syntax("numeric", "NaN"),
			syntax("numeric", "1 000"), syntax("numeric", "1.2.3"), syntax("numeric", "e5"), syntax("numeric", ""),
		}},
		{types.DecimalType(2, 2), []textCase{
			ok("0.99", "0.99"), ok("-.5", "-0.50"),
			bad("1", sqlerr.NumericOutOfRange, numOverflow), bad("0.996", sqlerr.NumericOutOfRange, numOverflow),
		}},
		{types.T{Kind: types.Varchar, Width: 3}, []textCase{
			ok("abc", "abc"), ok("ééé", "ééé"), ok("", ""), ok("  a", "  a"), ok("😀😀😀", "😀😀😀"),
			bad("abcd", sqlerr.StringTooLong, "value too long for type character varying(3)"),
			bad("éééé", sqlerr.StringTooLong, "value too long for type character varying(3)"),
			bad("\xff", codeBadEncoding, `invalid byte sequence for encoding "UTF8": 0xff`),
			bad("ab\xc3", codeBadEncoding, `invalid byte sequence for encoding "UTF8": 0xc3`),
			bad("a\xed\xa0\x80", codeBadEncoding, `invalid byte sequence for encoding "UTF8": 0xed`),
		}},
		{types.TextType, []textCase{
			ok(strings.Repeat("x", 1000), strings.Repeat("x", 1000)), ok(" 1 ", " 1 "),
		}},
		{types.DateType, []textCase{
			ok("2026-11-25", "2026-11-25"), ok("2026-1-5", "2026-01-05"), ok("2026-11-5", "2026-11-05"), ok("2026-1-25", "2026-01-25"),
			ok("2026-01-5", "2026-01-05"), ok("2026-1-05", "2026-01-05"), ok(" 2000-02-29\n", "2000-02-29"),
			ok("0001-01-01", "0001-01-01"), ok("9999-12-31", "9999-12-31"), ok("1969-12-31", "1969-12-31"),
			field("2026-02-29"), field("2026-13-01"), field("2026-00-10"),
			field("2026-11-0"), field("2026-04-31"), field("0000-01-01"),
			datetime("date", "26-11-25"), datetime("date", "20261-01-01"), datetime("date", "2026/11/25"),
			datetime("date", "2026-11-255"), datetime("date", "2026-011-25"), ok("2026-11-25 10:00", "2026-11-25"), ok("2026-11-25 23:00-05", "2026-11-25"), field("2026-11-25 25:00"),
			datetime("date", "2026-11"), datetime("date", ""), datetime("date", "today"),
		}},
		{types.TimestampType(6), []textCase{
			ok("2026-11-25 10:00:00.123456", "2026-11-25 10:00:00.123456"), ok("2026-11-25", "2026-11-25 00:00:00"),
			ok("2026-11-25T10:00:00Z", "2026-11-25 10:00:00"), ok("2026-11-25t10:00", "2026-11-25 10:00:00"),
			ok("2026-11-25 23:59:59.999999z", "2026-11-25 23:59:59.999999"), ok("2026-11-25 9:05", "2026-11-25 09:05:00"),
			ok("2026-1-5 09:05:07", "2026-01-05 09:05:07"), ok("2026-11-5 10:00", "2026-11-05 10:00:00"),
			ok("2026-11-5T1:00", "2026-11-05 01:00:00"), ok(" 2026-11-25 10:00:00.5\r\n", "2026-11-25 10:00:00.5"),
			ok("2026-11-25 10:00:00+05", "2026-11-25 05:00:00"), ok("2026-11-25 10:00:00-02:30", "2026-11-25 12:30:00"),
			ok("2026-11-25T10:00:00+0530", "2026-11-25 04:30:00"), ok("2026-11-25 10:00+05:", "2026-11-25 05:00:00"),
			ok("2026-11-25 10:00:00+15:59", "2026-11-24 18:01:00"), ok("2026-11-25 10:00:00.1234567", "2026-11-25 10:00:00.123457"),
			ok("1969-12-31 23:59:59.9999995", "1970-01-01 00:00:00"), ok("2000-02-29 00:00:00.000001", "2000-02-29 00:00:00.000001"),
			datetime("timestamp", "yesterday"), ok("2026-11-25 24:00", "2026-11-26 00:00:00"), field("2026-11-25 24:00:00.000001"), field("2026-11-25 10:60"),
			ok("2026-11-25 10:00:60", "2026-11-25 10:01:00"), field("2026-11-25 10:00:61"), datetime("timestamp", "2026-11-25 10:00:00."),
			datetime("timestamp", "2026-11-25 10"), datetime("timestamp", "2026-11-25 10:0"), datetime("timestamp", "2026-11-25 100:00"),
			datetime("timestamp", "2026-11-25 10:00:0"), zoneRange("2026-11-25 10:00:00+16"),
			ok("2026-11-25 10:00:00+5", "2026-11-25 05:00:00"), datetime("timestamp", "2026-11-25 10:00:00+05:3"),
			zoneRange("2026-11-25 10:00:00+05:60"), ok("2026-11-25 10:00:00+05:30:15", "2026-11-25 04:29:45"),
			ok("2026-11-25 10:00:00 Z", "2026-11-25 10:00:00"), datetime("timestamp", "2026-11-25 10:00:00ZZ"),
			datetime("timestamp", "2026-11-25X10:00"), field("2026-02-30 10:00"), datetime("timestamp", "2026-11-25T"),
			datetime("timestamp", "1764064800"), datetime("timestamp", ""),
		}},
		{types.TimestampType(3), []textCase{
			ok("2026-11-25 10:00:00.1235", "2026-11-25 10:00:00.124"), ok("2026-11-25 10:00:00.1234", "2026-11-25 10:00:00.123"),
			ok("2026-11-25 10:00:00.9996", "2026-11-25 10:00:01"),
		}},
		{types.TimestampType(0), []textCase{
			ok("2026-11-25 10:00:00.5", "2026-11-25 10:00:01"), ok("1969-12-31 23:59:59.5", "1970-01-01 00:00:00"),
			ok("1969-12-31 23:59:59.4", "1969-12-31 23:59:59"),
		}},
		{types.T{Kind: types.Interval}, []textCase{
			bad("1 day", sqlerr.FeatureNotSupported, "type INTERVAL cannot be read from text"),
		}},
	} {
		for _, c := range tc.cases {
			var v Value
			err := ParseText(&v, []byte(c.in), tc.t)
			if c.code == "" {
				if err != nil {
					t.Errorf("%s %q: %v", tc.t, c.in, err)
				} else if got := showValue(&v, tc.t); got != c.want {
					t.Errorf("%s %q = %s, want %s", tc.t, c.in, got, c.want)
				}
				continue
			}
			e, isSQL := sqlerr.As(err)
			switch {
			case err == nil:
				t.Errorf("%s %q = %s, want error %s", tc.t, c.in, showValue(&v, tc.t), c.code)
			case !isSQL:
				t.Errorf("%s %q: error %v is not a *sqlerr.Error", tc.t, c.in, err)
			case e.Code != c.code || e.Msg != c.msg:
				t.Errorf("%s %q: error %s %q, want %s %q", tc.t, c.in, e.Code, e.Msg, c.code, c.msg)
			}
		}
	}
}

// TestParseTextNumericDetail checks the DETAIL of a DECIMAL overflow.
func TestParseTextNumericDetail(t *testing.T) {
	for _, c := range []struct {
		t      types.T
		in     string
		detail string
	}{
		{types.DecimalType(6, 2), "10000", "A field with precision 6, scale 2 must round to an absolute value less than 10^4."},
		{types.DecimalType(2, 2), "1", "A field with precision 2, scale 2 must round to an absolute value less than 1."},
	} {
		var v Value
		e, _ := sqlerr.As(ParseText(&v, []byte(c.in), c.t))
		if e == nil || e.Detail != c.detail {
			t.Errorf("%s %q: error %v, want detail %q", c.t, c.in, e, c.detail)
		}
	}
}

// TestDecoderTextErrors checks the decoders' wording of the ParseText
// errors, per kind of error.
func TestDecoderTextErrors(t *testing.T) {
	schema := types.Schema{
		{Name: "i", Type: types.IntType},
		{Name: "d", Type: types.DoubleType},
		{Name: "n", Type: types.DecimalType(4, 1)},
		{Name: "s", Type: types.T{Kind: types.Varchar, Width: 3}},
		{Name: "ts", Type: types.TimestampType(6)},
	}
	cases := []struct{ in, reason string }{
		{"x,1,1,a,2026-11-25", `column i: cannot read "x" as INT`},
		{" 3000000000 ,1,1,a,2026-11-25", `column i: "3000000000" is out of range for INT`},
		{"1,1e400,1,a,2026-11-25", `column d: "1e400" is out of range for DOUBLE`},
		{"1,1,1000,a,2026-11-25", `column n: "1000" is out of range for DECIMAL(4,1)`},
		{"1,1,1,abcd,2026-11-25", "column s: value too long for VARCHAR(3) (4 characters)"},
		{"1,1,1,\xff,2026-11-25", "column s: value is not valid UTF-8"},
		{"1,1,1,a,2026-11-25 25:00", `column ts: cannot read "2026-11-25 25:00" as TIMESTAMP(6)`},
	}
	var in []string
	for _, c := range cases {
		in = append(in, c.in)
	}
	_, errs := decodeAll(t, "csv", schema, in...)
	for i, c := range cases {
		if errs[i] == nil || errs[i].Error() != c.reason {
			t.Errorf("%q: error %v, want %q", c.in, errs[i], c.reason)
		}
	}
}

// TestParseTextNoAlloc checks that parsing a good value does not allocate.
func TestParseTextNoAlloc(t *testing.T) {
	for _, c := range benchText {
		b := []byte(c.in)
		var v Value
		if n := testing.AllocsPerRun(100, func() {
			if err := ParseText(&v, b, c.t); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("ParseText(%q, %s) allocates %v times", c.in, c.t, n)
		}
	}
}

var benchText = []struct {
	name, in string
	t        types.T
}{
	{"bool", "true", types.BoolType},
	{"bigint", "1234567", types.BigIntType},
	{"double", "19.99", types.DoubleType},
	{"double_long", "-1.2345678901234567e-5", types.DoubleType},
	{"decimal", "12345.678", types.DecimalType(12, 2)},
	{"varchar", "click", types.T{Kind: types.Varchar, Width: 10}},
	{"date", "2026-11-25", types.DateType},
	{"timestamp", "2026-11-25 10:00:00.123", types.TimestampType(3)},
}

// BenchmarkParseText parses one value of each type.
func BenchmarkParseText(b *testing.B) {
	for _, c := range benchText {
		in := []byte(c.in)
		b.Run(c.name, func(b *testing.B) {
			var v Value
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := ParseText(&v, in, c.t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzParseText checks that ParseText never panics, that every error is a
// *sqlerr.Error, and that what it accepts as VARCHAR is the input itself.
func FuzzParseText(f *testing.F) {
	for _, c := range benchText {
		f.Add(c.in)
	}
	for _, s := range []string{"2026-11-25T10:00:00.1234567+05:30", "-Infinity", "1e-1000", " 0x1p4 ", "\xff", "2026-1-5 9:05+15:"} {
		f.Add(s)
	}
	tys := []types.T{types.BoolType, types.IntType, types.BigIntType, types.DoubleType, types.DecimalType(6, 2),
		types.DecimalType(38, 0), types.T{Kind: types.Varchar, Width: 3}, types.TimestampType(0), types.TimestampType(6), types.DateType}
	f.Fuzz(func(t *testing.T, in string) {
		for _, ty := range tys {
			var v Value
			err := ParseText(&v, []byte(in), ty)
			if err != nil {
				if _, ok := sqlerr.As(err); !ok {
					t.Fatalf("%s %q: error %v is not a *sqlerr.Error", ty, in, err)
				}
				continue
			}
			if ty.Kind == types.Varchar && string(v.S) != in {
				t.Fatalf("%s %q = %q", ty, in, v.S)
			}
		}
	})
}
