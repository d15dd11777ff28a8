package wire

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// queryText runs a query and returns its rows as text, "|" between
// values and NULL for a null.
func queryText(t *testing.T, c *pgx.Conn, sql string) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var parts []string
		for _, x := range rows.RawValues() {
			if x == nil {
				parts = append(parts, "NULL")
			} else {
				parts = append(parts, string(x))
			}
		}
		got = append(got, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestCopyValues loads each accepted spelling of every column type with
// COPY, in CSV and text format, and checks the stored values.
func TestCopyValues(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	ctx := context.Background()
	mustExec(t, c, "CREATE TABLE cv (i INT, b BOOLEAN, big BIGINT, d DOUBLE, n DECIMAL(6,2), s VARCHAR(3), ts TIMESTAMP(3), day DATE) APPEND ONLY")
	csv := strings.Join([]string{
		"1,t,9223372036854775807,1.5,1.25,abc,2026-11-25 10:00:00.123,2026-11-25",
		" 2 , yes , -9223372036854775808 , 1e3 , 0.005 ,é ,2026-11-25T10:00:00.1235Z, 2026-1-5 ",
		"+3,OFF,+00000000000000000000042,-Infinity,1.5e2,\" x\",2026-11-25 9:05+05:30,2000-02-29",
		"4,0,0,NaN,-0.005,\"\",2026-11-25,0001-01-01",
		`5,"on","7","0.1","-9999.99","q""","2026-11-25 10:00:00.9996","9999-12-31"`,
	}, "\n")
	tag, err := c.PgConn().CopyFrom(ctx, strings.NewReader(csv), "COPY cv FROM STDIN (FORMAT csv)")
	if err != nil || tag.RowsAffected() != 5 {
		t.Fatalf("csv: %v %v", tag, err)
	}
	text := "6\tf\t-1\t\\N\t7\ta\\tb\t2026-11-25 10:00:00-01\t2026-11-25\n" +
		"7\t\\x31\t\\061\t  2.5  \t\\N\t\\\\\t\\N\t\\N\n"
	tag, err = c.PgConn().CopyFrom(ctx, strings.NewReader(text), "COPY cv FROM STDIN")
	if err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("text: %v %v", tag, err)
	}
	mustExec(t, c, "FLUSH")
	got := queryText(t, c, "SELECT i, b, big, d, n, s, ts, day FROM cv ORDER BY i")
	want := []string{
		"1|t|9223372036854775807|1.5|1.25|abc|2026-11-25 10:00:00.123|2026-11-25",
		"2|t|-9223372036854775808|1000|0.01|é |2026-11-25 10:00:00.124|2026-01-05",
		"3|f|42|-Infinity|150.00| x|2026-11-25 03:35:00|2000-02-29",
		"4|f|0|NaN|-0.01||2026-11-25 00:00:00|0001-01-01",
		"5|t|7|0.1|-9999.99|q\"|2026-11-25 10:00:01|9999-12-31",
		"6|f|-1|NULL|7.00|a\tb|2026-11-25 11:00:00|2026-11-25",
		"7|t|1|2.5|NULL|\\|NULL|NULL",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCopyBadValues checks the SQLSTATE, message and CONTEXT of each kind
// of bad value, and that the rows before the bad one are kept.
func TestCopyBadValues(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	ctx := context.Background()
	mustExec(t, c, "CREATE TABLE cb (k BIGINT, i INT, b BOOLEAN, big BIGINT, d DOUBLE, n DECIMAL(6,2), s VARCHAR(3), ts TIMESTAMP(3), day DATE) APPEND ONLY")
	cases := []struct {
		col, in, format string
		code, msg       string
	}{
		{"b", "maybe", "csv", "22P02", `invalid input syntax for type boolean: "maybe"`},
		{"i", "3000000000", "csv", "22003", `value "3000000000" is out of range for type integer`},
		{"i", "1.5", "csv", "22P02", `invalid input syntax for type integer: "1.5"`},
		{"big", "9223372036854775808", "csv", "22003", `value "9223372036854775808" is out of range for type bigint`},
		{"big", "ten", "text", "22P02", `invalid input syntax for type bigint: "ten"`},
		{"d", "1e400", "csv", "22003", `"1e400" is out of range for type double precision`},
		{"d", "abc", "csv", "22P02", `invalid input syntax for type double precision: "abc"`},
		{"n", "10000", "csv", "22003", "numeric field overflow"},
		{"n", "1.2.3", "csv", "22P02", `invalid input syntax for type numeric: "1.2.3"`},
		{"s", "abcd", "csv", "22001", "value too long for type character varying(3)"},
		{"s", `\377`, "text", "22021", `invalid byte sequence for encoding "UTF8": 0xff`},
		{"ts", "2026-11-25 25:00", "csv", "22008", `date/time field value out of range: "2026-11-25 25:00"`},
		{"day", "2026-02-30", "text", "22008", `date/time field value out of range: "2026-02-30"`},
	}
	for _, tc := range cases {
		// A NULL line, the bad value on line 2, then a line never read.
		data := "1\t\\N\n2\t" + tc.in + "\n3\t\\N\n"
		if tc.format == "csv" {
			data = "1,\n2," + tc.in + "\n3,\n"
		}
		_, err := c.PgConn().CopyFrom(ctx, strings.NewReader(data), "COPY cb (k, "+tc.col+") FROM STDIN (FORMAT "+tc.format+")")
		pe := pgErr(t, err)
		where := "COPY cb, line 2, column " + tc.col
		if pe.Code != tc.code || pe.Message != tc.msg || pe.Where != where {
			t.Errorf("%s %q: %s %q (%s), want %s %q (%s)", tc.col, tc.in, pe.Code, pe.Message, pe.Where, tc.code, tc.msg, where)
		}
		if tc.code == "22003" && tc.col == "n" && pe.Detail != "A field with precision 6, scale 2 must round to an absolute value less than 10^4." {
			t.Errorf("numeric overflow detail: %q", pe.Detail)
		}
	}
	mustExec(t, c, "FLUSH")
	if got := queryText(t, c, "SELECT COUNT(*) FROM cb"); len(got) != 1 || got[0] != "13" {
		t.Fatalf("rows kept before the bad ones: %v, want one per case (13)", got)
	}
}
