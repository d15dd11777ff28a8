package wire

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

const allTypesDDL = `CREATE TABLE all_types (b BOOLEAN, i INT, bi BIGINT, d DOUBLE, n DECIMAL(10,2),
	v VARCHAR(20), s TEXT, ts TIMESTAMP(6), dt DATE) APPEND ONLY`

// TestPgxTypes inserts and reads every type through pgx's extended
// protocol (binary parameters and results) and the simple protocol.
func TestPgxTypes(t *testing.T) {
	ts := startServer(t, Config{})
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		t.Run(mode.String(), func(t *testing.T) {
			c := ts.connect(t, "default_query_exec_mode="+strings.ReplaceAll(mode.String(), " ", "_"))
			mustExec(t, c, "DROP TABLE IF EXISTS all_types")
			mustExec(t, c, allTypesDDL)
			tsv := time.Date(2026, 11, 25, 10, 0, 1, 123456000, time.UTC)
			dv := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
			var num pgtype.Numeric
			if err := num.Scan("-12345.67"); err != nil {
				t.Fatal(err)
			}
			const ins = "INSERT INTO all_types VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
			for k := 0; k < 3; k++ { // the prepared statement is reused
				_, err := c.Exec(ctx, ins, k%2 == 0, int32(k), int64(1)<<40+int64(k), 1.5+float64(k), num,
					"vé"+strings.Repeat("x", k), "text 'quoted'", tsv, dv)
				if err != nil {
					t.Fatalf("insert %d: %v", k, err)
				}
			}
			if _, err := c.Exec(ctx, ins, nil, int32(9), nil, nil, nil, nil, nil, nil, nil); err != nil {
				t.Fatalf("insert nulls: %v", err)
			}
			mustExec(t, c, "FLUSH")
			rows, err := c.Query(ctx, "SELECT b, i, bi, d, n, v, s, ts, dt FROM all_types WHERE i = $1", int32(1))
			if err != nil {
				t.Fatal(err)
			}
			fds := rows.FieldDescriptions()
			wantOIDs := []uint32{16, 23, 20, 701, 1700, 1043, 25, 1114, 1082}
			wantMods := []int32{-1, -1, -1, -1, 10<<16 | 2 + 4, 24, -1, 6, -1}
			for i, fd := range fds {
				if fd.DataTypeOID != wantOIDs[i] || fd.TypeModifier != wantMods[i] {
					t.Errorf("column %s: oid %d typmod %d, want %d %d", fd.Name, fd.DataTypeOID, fd.TypeModifier, wantOIDs[i], wantMods[i])
				}
			}
			n := 0
			for rows.Next() {
				n++
				var (
					b      bool
					i      int32
					bi     int64
					d      float64
					nm     pgtype.Numeric
					v, s   string
					tt, dd time.Time
				)
				if err := rows.Scan(&b, &i, &bi, &d, &nm, &v, &s, &tt, &dd); err != nil {
					t.Fatal(err)
				}
				f, _ := nm.Float64Value()
				if b || i != 1 || bi != 1<<40+1 || d != 2.5 || f.Float64 != -12345.67 || nm.Exp != -2 ||
					v != "véx" || s != "text 'quoted'" || !tt.Equal(tsv) || !dd.Equal(dv) {
					t.Errorf("row: %v %v %v %v %v/%v %q %q %v %v", b, i, bi, d, nm.Int, nm.Exp, v, s, tt, dd)
				}
			}
			if err := rows.Err(); err != nil || n != 1 {
				t.Fatalf("rows: %d, %v", n, err)
			}
			var nulls [9]any
			ptrs := make([]any, 9)
			for i := range nulls {
				ptrs[i] = &nulls[i]
			}
			if err := c.QueryRow(ctx, "SELECT b, i, bi, d, n, v, s, ts, dt FROM all_types WHERE i = 9").Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range nulls {
				if v != nil && i != 1 {
					t.Errorf("column %d: %v, want NULL", i, v)
				}
			}
			// Parameters of every type in WHERE.
			var cnt int64
			err = c.QueryRow(ctx, `SELECT COUNT(*) FROM all_types WHERE b = $1 AND bi > $2 AND d < $3 AND n = $4 AND s = $5 AND ts = $6 AND dt = $7`,
				true, int64(0), 10.0, num, "text 'quoted'", tsv, dv).Scan(&cnt)
			if err != nil || cnt != 2 {
				t.Fatalf("count with parameters: %d, %v", cnt, err)
			}
		})
	}
}

// TestPgxText reads every type in text format and compares with Postgres'
// text output.
func TestPgxText(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	mustExec(t, c, allTypesDDL)
	mustExec(t, c, `INSERT INTO all_types VALUES (true, 7, -8, 0.1, 3.5, 'a', 'b', '2026-01-02 03:04:05.5', '2026-01-02'); FLUSH`)
	res := c.PgConn().ExecParams(context.Background(), "SELECT b, i, bi, d, n, v, s, ts, dt FROM all_types", nil, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var got []string
	for _, v := range res.Rows[0] {
		got = append(got, string(v))
	}
	want := "t|7|-8|0.1|3.50|a|b|2026-01-02 03:04:05.5|2026-01-02"
	if strings.Join(got, "|") != want {
		t.Errorf("text row %q, want %q", strings.Join(got, "|"), want)
	}
}

// TestPing checks pgx's "-- ping" gets EmptyQueryResponse.
func TestPing(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := c.PgConn().Exec(context.Background(), "  /* nothing */ ;; -- here").ReadAll()
	if err != nil || len(res) != 1 || res[0].CommandTag.String() != "" {
		t.Fatalf("empty query: %v %v", res, err)
	}
}

// TestSimpleMulti runs several statements in one Query and checks errors
// stop the rest with a position in the whole string.
func TestSimpleMulti(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	ctx := context.Background()
	res, err := c.PgConn().Exec(ctx, "CREATE TABLE m (k BIGINT, v TEXT) APPEND ONLY; INSERT INTO m VALUES (1, 'a'), (2, 'b'); FLUSH; SELECT k, v FROM m ORDER BY k").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	tags := []string{}
	for _, r := range res {
		tags = append(tags, r.CommandTag.String())
	}
	if strings.Join(tags, ",") != "CREATE TABLE,INSERT 0 2,FLUSH,SELECT 2" || len(res[3].Rows) != 2 || string(res[3].Rows[1][1]) != "b" {
		t.Fatalf("results: %v", tags)
	}
	q := "INSERT INTO m VALUES (3, 'c'); SELEC oops; INSERT INTO m VALUES (4, 'd')"
	_, err = c.PgConn().Exec(ctx, q).ReadAll()
	pe := pgErr(t, err)
	if pe.Code != "42601" || int(pe.Position) != strings.Index(q, "SELEC")+1 {
		t.Fatalf("error %s at %d (%s)", pe.Code, pe.Position, pe.Message)
	}
	mustExec(t, c, "FLUSH")
	var n int64
	if err := c.QueryRow(ctx, "SELECT COUNT(*) FROM m").Scan(&n); err != nil || n != 3 {
		t.Fatalf("count %d %v: the statement after the error must not run", n, err)
	}
	for _, tc := range []struct{ sql, code string }{
		{"SELECT * FROM nope", "42P01"},
		{"SELECT nope FROM m", "42703"},
		{"SELECT 'abc'::int", "22P02"},
	} {
		_, err := c.Exec(ctx, tc.sql)
		if pe := pgErr(t, err); pe.Code != tc.code {
			t.Errorf("%s: %s %s, want %s", tc.sql, pe.Code, pe.Message, tc.code)
		}
	}
}

// TestTransactionStatus checks BEGIN/COMMIT/ROLLBACK and the failed state.
func TestTransactionStatus(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	ctx := context.Background()
	pc := c.PgConn()
	if pc.TxStatus() != 'I' {
		t.Fatal("not idle")
	}
	mustExec(t, c, "BEGIN")
	if pc.TxStatus() != 'T' {
		t.Fatalf("after BEGIN: %c", pc.TxStatus())
	}
	if _, err := c.Exec(ctx, "SELECT * FROM nope"); err == nil {
		t.Fatal("want error")
	}
	if pc.TxStatus() != 'E' {
		t.Fatalf("after error: %c", pc.TxStatus())
	}
	_, err := c.Exec(ctx, "SELECT 1")
	if pe := pgErr(t, err); pe.Code != "25P02" {
		t.Fatalf("in failed block: %v", pe)
	}
	res, err := pc.Exec(ctx, "COMMIT").ReadAll()
	if err != nil || res[0].CommandTag.String() != "ROLLBACK" || pc.TxStatus() != 'I' {
		t.Fatalf("COMMIT of failed block: %v %v %c", res, err, pc.TxStatus())
	}
	// pgx's own transaction API.
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var one int64
	if err := tx.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatal(one, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "START TRANSACTION; ROLLBACK; END")
}

// TestNumericBinary round-trips decimals through the binary numeric form.
func TestNumericBinary(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "0.05", "12345.6789", "-0.0001", "10000", "99999999999999999999.123456789012345678", "1e-30"} {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatal(s)
		}
		for _, scale := range []int32{0, 2, 4, 18} {
			v := new(big.Int).Mul(r.Num(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
			v.Quo(v, r.Denom())
			num := decimalFromBig(t, v)
			enc := appendNumeric(nil, num, scale)
			dec, ok := decodeNumeric(enc)
			if !ok {
				t.Fatalf("%s scale %d: decode failed", s, scale)
			}
			got, _ := new(big.Rat).SetString(dec)
			want := new(big.Rat).SetFrac(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
			if got.Cmp(want) != 0 {
				t.Errorf("%s scale %d: got %s want %s", s, scale, dec, want.FloatString(int(scale)))
			}
			var pn pgtype.Numeric
			if err := pgtype.NewMap().Scan(1700, 1, enc, &pn); err != nil {
				t.Fatalf("pgx decode: %v", err)
			}
			pr := new(big.Rat).SetInt(pn.Int)
			e := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(pn.Exp))), nil))
			if pn.Exp < 0 {
				pr.Quo(pr, e)
			} else {
				pr.Mul(pr, e)
			}
			if pr.Cmp(want) != 0 {
				t.Errorf("%s scale %d: pgx decodes %s", s, scale, pr.FloatString(int(scale)))
			}
		}
	}
}

func abs(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

func decimalFromBig(tb testing.TB, v *big.Int) decimal128.Num {
	tb.Helper()
	return decimal128.FromBigInt(v)
}
