package format

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/internal/pgtext"
	"github.com/sluicedb/sluice/types"
)

var allTypes = types.Schema{
	{Name: "b", Type: types.BoolType},
	{Name: "i", Type: types.IntType},
	{Name: "big", Type: types.BigIntType},
	{Name: "d", Type: types.DoubleType},
	{Name: "dec", Type: types.DecimalType(10, 2)},
	{Name: "s", Type: types.TextType},
	{Name: "ts", Type: types.TimestampType(6)},
	{Name: "day", Type: types.DateType},
}

func ts(s string) int64 {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func day(s string) int64 {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t.Unix() / 86400
}

func dec(v int64) types.Datum { return types.NewDecimal(decimal128.FromI64(v), 2) }

// decodeAll decodes events into one record and returns its rows as datums
// (nil for an event that failed) and the errors.
func decodeAll(t *testing.T, format string, schema types.Schema, events ...string) ([][]types.Datum, []error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d, err := NewDecoder(format, schema)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch(mem, schema)
	defer b.Release()
	errs := make([]error, len(events))
	ok := make([]bool, len(events))
	for i, e := range events {
		before := b.Len()
		errs[i] = d.Decode(b, []byte(e), &Meta{Key: []byte("k"), Partition: 2, Offset: int64(100 + i), Timestamp: ts("2026-11-25 10:00:00.123456")})
		ok[i] = errs[i] == nil
		if want := before + map[bool]int{true: 1, false: 0}[ok[i]]; b.Len() != want {
			t.Fatalf("event %d: batch has %d rows, want %d", i, b.Len(), want)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := checkRecord(rec); err != nil { // no half-appended rows
		t.Fatalf("invalid record: %v", err)
	}
	rows := make([][]types.Datum, len(events))
	r := 0
	for i := range events {
		if !ok[i] {
			continue
		}
		row := make([]types.Datum, len(schema))
		for c := range schema {
			row[c] = types.DatumAt(rec.Column(c), r, schema[c].Type)
		}
		rows[i] = row
		r++
	}
	if int64(r) != rec.NumRows() {
		t.Fatalf("record has %d rows, want %d", rec.NumRows(), r)
	}
	return rows, errs
}

// checkRecord checks that every column has the record's length and that
// variable-length columns are well formed.
func checkRecord(rec arrow.RecordBatch) error {
	for i, c := range rec.Columns() {
		if int64(c.Len()) != rec.NumRows() {
			return fmt.Errorf("column %d has %d rows, record %d", i, c.Len(), rec.NumRows())
		}
		if v, ok := c.(interface{ ValidateFull() error }); ok {
			if err := v.ValidateFull(); err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
	}
	return nil
}

func sameRow(t *testing.T, what string, got, want []types.Datum) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Null != w.Null || (!g.Null && types.Compare(g, w) != 0) {
			t.Errorf("%s: column %d = %v, want %v", what, i, g, w)
		}
	}
}

func TestJSONAllTypes(t *testing.T) {
	events := []string{
		`{"b":true,"i":-7,"big":9007199254740993,"d":1.25,"dec":12.345,"s":"héllo \"q\" \u00e9\ud83d\ude00","ts":"2026-11-25 10:00:00.123","day":"2026-11-25"}`,
		`{"b":"false","i":"42","big":" -3 ","d":"1e3","dec":"-0.5","s":12.5,"ts":1764064800123,"day":null}`,
		`{"day":"2000-02-29","ts":"2026-11-25T10:00:00+01:00","s":true,"dec":1e2,"d":-0.001,"big":-9223372036854775808,"i":2147483647,"b":false}`,
		` { } `,
		`{"B":true,"I":1,"EXTRA":{"a":[1,2,{"x":null}],"b":"\n"},"Big":5,"big":6}`,
		`{"ts":"2026-11-25T10:00:00.5Z","d":123456789012345678901234567890,"s":""}`,
	}
	rows, errs := decodeAll(t, "json", allTypes, events...)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	null := func(t types.T) types.Datum { return types.NewNull(t) }
	sameRow(t, "row 0", rows[0], []types.Datum{types.NewBool(true), types.NewInt(-7), types.NewBigInt(9007199254740993),
		types.NewDouble(1.25), dec(1235), types.NewText("héllo \"q\" é😀"), types.NewTimestamp(ts("2026-11-25 10:00:00.123")), types.NewDate(int32(day("2026-11-25")))})
	sameRow(t, "row 1", rows[1], []types.Datum{types.NewBool(false), types.NewInt(42), types.NewBigInt(-3),
		types.NewDouble(1000), dec(-50), types.NewText("12.5"), types.NewTimestamp(1764064800123000), null(types.DateType)})
	sameRow(t, "row 2", rows[2], []types.Datum{types.NewBool(false), types.NewInt(2147483647), types.NewBigInt(-9223372036854775808),
		types.NewDouble(-0.001), dec(10000), types.NewText("true"), types.NewTimestamp(ts("2026-11-25 09:00:00")), types.NewDate(int32(day("2000-02-29")))})
	for c := range allTypes {
		if !rows[3][c].Null {
			t.Errorf("empty object: column %d = %v, want NULL", c, rows[3][c])
		}
	}
	// Exact names win over case-insensitive ones, whatever their order.
	sameRow(t, "row 4", rows[4], []types.Datum{types.NewBool(true), types.NewInt(1), types.NewBigInt(6),
		null(types.DoubleType), null(allTypes[4].Type), null(types.TextType), null(allTypes[6].Type), null(types.DateType)})
	if got := rows[5][6].I; got != ts("2026-11-25 10:00:00.5") {
		t.Errorf("RFC 3339 timestamp = %v", rows[5][6])
	}
	if got := rows[5][3].F; got != 1.2345678901234568e29 {
		t.Errorf("long double = %v", got)
	}
	if rows[5][5].Null || rows[5][5].S != "" {
		t.Errorf("empty string = %v", rows[5][5])
	}
}

func TestJSONMalformed(t *testing.T) {
	cases := []struct{ in, reason string }{
		{``, "empty message"},
		{`   `, "empty message"},
		{`[1,2]`, "expected a JSON object, got an array"},
		{`"x"`, "expected a JSON object, got a string"},
		{`42`, "expected a JSON object, got a number"},
		{`{"big":1`, "unexpected end of input"},
		{`{"big":`, "unexpected end of input"},
		{`{"s":"abc`, "unexpected end of input"},
		{`{"s":"a\qb"}`, `invalid escape \q`},
		{`{"s":"a\u12G4"}`, `invalid \u escape`},
		{`{"x":"a\qb"}`, `invalid escape \q`},
		{"{\"s\":\"a\x01b\"}", "control character 0x01"},
		{`{"big":"abc"}`, `column big: cannot read "abc" as BIGINT`},
		{`{"big":{"v":1}}`, "column big: expected BIGINT, got an object"},
		{`{"d":[1]}`, "column d: expected DOUBLE, got an array"},
		{`{"big":1.5}`, `column big: "1.5" is not an integer`},
		{`{"i":3000000000}`, "out of range for INT"},
		{`{"big":99999999999999999999}`, "out of range for BIGINT"},
		{`{"dec":123456789.5}`, "out of range for DECIMAL(10,2)"},
		{`{"d":1e400}`, `column d: "1e400" is out of range for DOUBLE`},
		{`{"d":"-1e400"}`, `column d: "-1e400" is out of range for DOUBLE`},
		{`{"dec":"1e2000"}`, `column dec: cannot read "1e2000" as DECIMAL(10,2)`},
		{`{"big":"99999999999999999999"}`, `column big: "99999999999999999999" is out of range for BIGINT`},
		{`{"day":"0000-01-01"}`, `cannot read "0000-01-01" as DATE`},
		{`{"ts":"2026-11-25 10:00+16"}`, `cannot read "2026-11-25 10:00+16" as TIMESTAMP(6)`},
		{`{"b":1}`, "column b: expected BOOLEAN, got a number"},
		{`{"day":"2026-02-30"}`, `cannot read "2026-02-30" as DATE`},
		{`{"ts":"yesterday"}`, `cannot read "yesterday" as TIMESTAMP(6)`},
		{`{"ts":true}`, "expected TIMESTAMP(6), got true"},
		{`{"big":tru}`, "invalid literal"},
		{`{"big":01}`, "expected ',' or '}'"},
		{`{"big":-}`, "invalid number"},
		{`{"d":1.}`, "no digits after '.'"},
		{`{"big":1} x`, "unexpected data after the object"},
		{`{"big" 1}`, "expected ':'"},
		{`{big:1}`, "expected a field name"},
		{`{"big":1,}`, "expected a field name"},
		{`{"x":[1,2}`, "expected ',' or ']'"},
		{"{\"s\":\"\xff\"}", "not valid UTF-8"},
		{`{"x":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`, "nested too deeply"},
	}
	events := []string{`{"big":1}`}
	for _, c := range cases {
		events = append(events, c.in, `{"big":1}`) // good events between bad ones
	}
	rows, errs := decodeAll(t, "json", allTypes, events...)
	for i, c := range cases {
		err := errs[1+2*i]
		if err == nil {
			t.Errorf("%q: no error", c.in)
			continue
		}
		if !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%q: error %q, want it to contain %q", c.in, err, c.reason)
		}
	}
	for i := 0; i < len(events); i += 2 {
		if errs[i] != nil || rows[i][2].I != 1 {
			t.Fatalf("good event %d: %v %v", i, errs[i], rows[i])
		}
	}
}

func TestMetaColumns(t *testing.T) {
	schema := types.Schema{
		{Name: "_key", Type: types.TextType},
		{Name: "v", Type: types.BigIntType},
		{Name: "_partition", Type: types.IntType},
		{Name: "_offset", Type: types.BigIntType},
		{Name: "_timestamp", Type: types.TimestampType(3)},
	}
	for _, f := range []string{"json", "csv"} {
		ev := `{"v":5,"_key":"payload key ignored"}`
		if f == "csv" {
			ev = "5\n"
		}
		rows, errs := decodeAll(t, f, schema, ev)
		if errs[0] != nil {
			t.Fatalf("%s: %v", f, errs[0])
		}
		sameRow(t, f, rows[0], []types.Datum{types.NewText("k"), types.NewBigInt(5), types.NewInt(2), types.NewBigInt(100),
			types.NewTimestamp(ts("2026-11-25 10:00:00.123"))}) // rounded to TIMESTAMP(3)
	}
	if _, err := MetaFields(types.Schema{{Name: "_offset", Type: types.TextType}}); err == nil || !strings.Contains(err.Error(), "must be BIGINT") {
		t.Errorf("bad metadata type: %v", err)
	}
}

func TestCSV(t *testing.T) {
	events := []string{
		"true,-7,9007199254740993,1.25,12.345,\"a,\"\"b\"\"\nc\",2026-11-25 10:00:00.123,2026-11-25\r\n",
		"f,,,,,,,",
		`1,1,1,1,1,"",1764064800,"2026-01-01"`,
		" yes , 3 , 4 ,0.5,-1, x ,2026-11-25T10:00:00Z,2026-11-25",
	}
	rows, errs := decodeAll(t, "csv", allTypes, events...)
	for i, err := range errs[:3] {
		if err != nil && i != 2 {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	sameRow(t, "row 0", rows[0], []types.Datum{types.NewBool(true), types.NewInt(-7), types.NewBigInt(9007199254740993),
		types.NewDouble(1.25), dec(1235), types.NewText("a,\"b\"\nc"), types.NewTimestamp(ts("2026-11-25 10:00:00.123")), types.NewDate(int32(day("2026-11-25")))})
	sameRow(t, "row 1", rows[1][:1], []types.Datum{types.NewBool(false)})
	for c := 1; c < len(allTypes); c++ {
		if !rows[1][c].Null {
			t.Errorf("empty field %d = %v, want NULL", c, rows[1][c])
		}
	}
	// A timestamp column does not take epoch numbers in CSV.
	if errs[2] == nil || !strings.Contains(errs[2].Error(), `cannot read "1764064800" as TIMESTAMP(6)`) {
		t.Errorf("epoch in CSV: %v", errs[2])
	}
	if errs[3] != nil {
		t.Fatal(errs[3])
	}
	if rows[3][5].S != " x " || rows[3][1].I != 3 || !rows[3][0].Bool() {
		t.Errorf("spaces: %v", rows[3])
	}

	bad := []struct{ in, reason string }{
		{"1,2", "expected 8 fields, got 2"},
		{"1,2,3,4,5,6,7,8,9", "expected 8 fields, got 9"},
		{`t,1,1,1,1,"abc,x,x`, "unterminated quoted field"},
		{`t,1,1,1,1,"abc"x,2026-11-25,2026-11-25`, "unexpected 'x' after closing quote"},
		{`t,1,1,1,1,ab"c,2026-11-25,2026-11-25`, "quote inside an unquoted field"},
		{"t,1,1,1,1,a\nb,2026-11-25,2026-11-25", "line break outside quotes"},
		{"t,x,1,1,1,a,2026-11-25,2026-11-25", `column i: cannot read "x" as INT`},
		{"maybe,1,1,1,1,a,2026-11-25,2026-11-25", `column b: cannot read "maybe" as BOOLEAN`},
	}
	var in []string
	for _, b := range bad {
		in = append(in, b.in)
	}
	_, errs = decodeAll(t, "csv", allTypes, in...)
	for i, b := range bad {
		if errs[i] == nil || !strings.Contains(errs[i].Error(), b.reason) {
			t.Errorf("%q: error %v, want %q", b.in, errs[i], b.reason)
		}
	}
}

func TestVarcharWidth(t *testing.T) {
	schema := types.Schema{{Name: "s", Type: types.T{Kind: types.Varchar, Width: 3}}}
	_, errs := decodeAll(t, "json", schema, `{"s":"abc"}`, `{"s":"ééé"}`, `{"s":"abcd"}`)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs[0], errs[1])
	}
	if errs[2] == nil || !strings.Contains(errs[2].Error(), "too long for VARCHAR(3)") {
		t.Errorf("width: %v", errs[2])
	}
}

func TestScalarParsers(t *testing.T) {
	for _, c := range []struct {
		in   string
		p, s int32
		want string
		ok   bool
	}{
		{"1.005", 10, 2, "1.01", true},
		{"-1.005", 10, 2, "-1.01", true},
		{"0.004", 10, 2, "0.00", true},
		{"12345678.99", 10, 2, "12345678.99", true},
		{"99999999.995", 10, 2, "", false},
		{"1.5e-3", 10, 4, "0.0015", true},
		{"0e1000", 10, 2, "0.00", true},
		{"1e1000", 10, 2, "", false},
		{"1e-1000", 10, 2, "0.00", true},
		{".5", 10, 1, "0.5", true},
		{"5.", 10, 0, "5", true},
		{"00000000000000000000000000000000000000000001", 38, 0, "1", true},
	} {
		n, isNum, fits := pgtext.Decimal([]byte(c.in), c.p, c.s)
		if !isNum || fits != c.ok {
			t.Errorf("pgtext.Decimal(%q) isNum=%v fits=%v", c.in, isNum, fits)
			continue
		}
		if c.ok {
			if got := types.FormatDecimal(n, c.s); got != c.want {
				t.Errorf("pgtext.Decimal(%q) = %s, want %s", c.in, got, c.want)
			}
		}
	}
	for _, in := range []string{"", "-", "1.2.3", "1e", "e5", "abc", "0e1001", "1e-1001", "1e999999"} {
		if _, isNum, _ := pgtext.Decimal([]byte(in), 10, 2); isNum {
			t.Errorf("pgtext.Decimal(%q) accepted", in)
		}
	}
	for in, want := range map[string]int64{"9223372036854775807": 9223372036854775807, "-9223372036854775808": -9223372036854775808, "+00000000000000000000012": 12} {
		if got, ok := parseInt([]byte(in)); !ok || got != want {
			t.Errorf("parseInt(%q) = %d, %v", in, got, ok)
		}
	}
	for _, in := range []string{"9223372036854775808", "-9223372036854775809", "", "-", "1x", "1.0", "1e400"} {
		if _, ok := parseInt([]byte(in)); ok {
			t.Errorf("parseInt(%q) accepted", in)
		}
	}
	for _, in := range []string{"1e400", "-1e400", "abc", "", "+nan"} {
		if f, ok := parseFloat([]byte(in)); ok {
			t.Errorf("parseFloat(%q) = %v, want an error", in, f)
		}
	}
	for in, want := range map[string]float64{"0.1": 0.1, "-2.5": -2.5, "123456789012345": 123456789012345, "1.7976931348623157e308": 1.7976931348623157e308, "0.30000000000000004": 0.30000000000000004} {
		if got, ok := parseFloat([]byte(in)); !ok || got != want {
			t.Errorf("parseFloat(%q) = %v, %v", in, got, ok)
		}
	}
	for in, want := range map[string]string{
		"1969-12-31 23:59:59.9999995": "1970-01-01 00:00:00",
		"2026-11-25 10:00":            "2026-11-25 10:00:00",
		"2026-11-25":                  "2026-11-25 00:00:00",
		"2026-11-25T10:00:00-0230":    "2026-11-25 12:30:00",
		"2026-11-25 10:00:00+05":      "2026-11-25 05:00:00",
	} {
		us, f := pgtext.Timestamp([]byte(in), 6)
		if f != pgtext.OK || types.NewTimestamp(us).String() != want {
			t.Errorf("pgtext.Timestamp(%q) = %v, %v; want %s", in, types.NewTimestamp(us), f, want)
		}
	}
	if got := pgtext.RoundMicros(-1500, 3); got != -1000 {
		t.Errorf("pgtext.RoundMicros(-1500, 3) = %d", got)
	}
	if got := pgtext.RoundMicros(-1501, 3); got != -2000 {
		t.Errorf("pgtext.RoundMicros(-1501, 3) = %d", got)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	row := []types.Datum{types.NewBool(true), types.NewInt(-7), types.NewBigInt(1 << 60), types.NewDouble(0.1),
		dec(-1234), types.NewText("quote\" back\\ nl\n tab\t \x01 é"), types.NewTimestamp(ts("2026-11-25 10:00:00.123")),
		types.NewDate(int32(day("2026-11-25")))}
	enc := NewJSONEncoder(allTypes)
	out := enc.AppendRow(nil, row)
	want := `{"b":true,"i":-7,"big":1152921504606846976,"d":0.1,"dec":-12.34,"s":"quote\" back\\ nl\n tab\t \u0001 é","ts":"2026-11-25 10:00:00.123","day":"2026-11-25"}`
	if string(out) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", out, want)
	}
	rows, errs := decodeAll(t, "json", allTypes, string(out))
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	sameRow(t, "round trip", rows[0], row)

	nulls := make([]types.Datum, len(allTypes))
	for i, c := range allTypes {
		nulls[i] = types.NewNull(c.Type)
	}
	ch := enc.AppendChange(nil, nulls, "update_before", 7)
	if string(ch) != `{"b":null,"i":null,"big":null,"d":null,"dec":null,"s":null,"ts":null,"day":null,"op":"update_before","epoch":7}` {
		t.Errorf("change: %s", ch)
	}
	if k := enc.AppendKey(nil, row, []int{1, 5}); string(k) != `{"i":-7,"s":"quote\" back\\ nl\n tab\t \u0001 é"}` {
		t.Errorf("key: %s", k)
	}
	var v map[string]any
	odd := []types.Datum{types.NewText("\xff\xfe ok"), types.NewDouble(math.Inf(1))}
	o := NewJSONEncoder(types.Schema{{Name: "a\"b", Type: types.TextType}, {Name: "f", Type: types.DoubleType}}).AppendRow(nil, odd)
	if err := json.Unmarshal(o, &v); err != nil || v["a\"b"] != "\ufffd\ufffd ok" || v["f"] != "Infinity" {
		t.Errorf("odd values: %s %v %v", o, v, err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"b":true,"i":1,"big":2,"d":1.5,"dec":"3.25","s":"x\u00e9","ts":"2026-11-25 10:00:00","day":"2026-11-25"}`,
		`{"x":[1,{"y":null}],"s":"\ud83d\ude00"}`, `{}`, `[`, `{"big":1e5}`, `{"ts":1764064800123}`} {
		f.Add([]byte(s))
	}
	mem := memory.NewGoAllocator()
	d, err := NewJSONDecoder(allTypes)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b := NewBatch(mem, allTypes)
		defer b.Release()
		err := d.Decode(b, in, nil)
		if err == nil {
			if !json.Valid(in) {
				t.Fatalf("accepted invalid JSON %q", in)
			}
			if b.Len() != 1 {
				t.Fatalf("batch has %d rows", b.Len())
			}
		} else if b.Len() != 0 {
			t.Fatalf("failed event left %d rows", b.Len())
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		if err := checkRecord(rec); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDecodeCSV(f *testing.F) {
	for _, s := range []string{"t,1,2,1.5,3.25,x,2026-11-25 10:00:00,2026-11-25", `"a""b",,,,,,,`, ",,,,,,,\r\n"} {
		f.Add([]byte(s))
	}
	mem := memory.NewGoAllocator()
	d, err := NewCSVDecoder(allTypes)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b := NewBatch(mem, allTypes)
		defer b.Release()
		err := d.Decode(b, in, nil)
		if (err == nil) != (b.Len() == 1) {
			t.Fatalf("err %v with %d rows", err, b.Len())
		}
	})
}

var bench5 = types.Schema{
	{Name: "user_id", Type: types.BigIntType},
	{Name: "item_id", Type: types.BigIntType},
	{Name: "action", Type: types.TextType},
	{Name: "price", Type: types.DoubleType},
	{Name: "ts", Type: types.TimestampType(3)},
}

// Events5JSON returns n distinct 5-field JSON events for bench5.
func events5(n int, csv bool) [][]byte {
	out := make([][]byte, n)
	actions := []string{"view", "click", "cart", "buy"}
	base := ts("2026-11-25 10:00:00")
	for i := range out {
		t := types.NewTimestamp(base + int64(i)*1317).String()
		if csv {
			out[i] = fmt.Appendf(nil, "%d,%d,%s,%d.%02d,%s", 100000+i*7%50000, i*31%5000, actions[i%4], i%500, i%100, t)
		} else {
			out[i] = fmt.Appendf(nil, `{"user_id":%d,"item_id":%d,"action":"%s","price":%d.%02d,"ts":"%s"}`, 100000+i*7%50000, i*31%5000, actions[i%4], i%500, i%100, t)
		}
	}
	return out
}

func benchDecode(b *testing.B, format string) {
	evs := events5(4096, format == "csv")
	mem := memory.NewGoAllocator()
	d, err := NewDecoder(format, bench5)
	if err != nil {
		b.Fatal(err)
	}
	batch := NewBatch(mem, bench5)
	defer batch.Release()
	var bytes int64
	for _, e := range evs {
		bytes += int64(len(e))
	}
	b.SetBytes(bytes / int64(len(evs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.Decode(batch, evs[i%len(evs)], nil); err != nil {
			b.Fatal(err)
		}
		if batch.Len() == 4096 {
			batch.NewRecordBatch().Release()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodeJSON5 decodes 5-field JSON events into Arrow batches of 4096.
func BenchmarkDecodeJSON5(b *testing.B) { benchDecode(b, "json") }

// BenchmarkDecodeCSV5 decodes 5-field CSV lines into Arrow batches of 4096.
func BenchmarkDecodeCSV5(b *testing.B) { benchDecode(b, "csv") }

// BenchmarkEncodeJSON5 encodes 5-column rows as JSON objects.
func BenchmarkEncodeJSON5(b *testing.B) {
	enc := NewJSONEncoder(bench5)
	row := []types.Datum{types.NewBigInt(123456), types.NewBigInt(4242), types.NewText("click"), types.NewDouble(19.99), types.NewTimestamp(ts("2026-11-25 10:00:00.123"))}
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = enc.AppendChange(buf[:0], row, "insert", uint64(i))
	}
}
