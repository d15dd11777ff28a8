package parser

import (
	"strings"
	"testing"

	"github.com/sluicedb/sluice/sqlerr"
)

// FuzzParse checks that Parse and Split never panic, that every error is a
// positioned *sqlerr.Error inside the input, and that Split's pieces sit at
// their offsets.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT a, COUNT(*) FROM t WHERE b = 'x' GROUP BY a",
		"CREATE TABLE t (a INT PRIMARY KEY, b VARCHAR(10)) APPEND ONLY; DROP TABLE t",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS v AS SELECT * FROM t UNION SELECT * FROM u",
		"SHOW TABLES; SHOW ALL; DESCRIBE t; EXPLAIN SELECT 1; FLUSH",
		"SELECT '5'::int, (a+1)::text, f(x)::int::text, $1::date FROM t WHERE c = $2",
		"SELECT $$a;b$$, `x``y`, \"q\\\"\" -- c\n/* d */ # e\n",
		"INSERT INTO t VALUES (1, 'a'), (2, 'b'); UPDATE t SET a = 1; DELETE FROM t",
		"SELECT 'unterminated",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		_, err := Parse(sql)
		if err != nil {
			e, ok := sqlerr.As(err)
			if !ok {
				t.Fatalf("Parse(%q): error %T %v is not a *sqlerr.Error", sql, err, err)
			}
			if e.Phase != sqlerr.Parse {
				t.Fatalf("Parse(%q): phase %d", sql, e.Phase)
			}
			if e.Code != sqlerr.InternalError && (e.Position < 1 || e.Line < 1 || e.Column < 1) {
				if !strings.Contains(e.Msg, "empty") {
					t.Fatalf("Parse(%q): unpositioned error %#v", sql, e)
				}
			}
		}
		for _, p := range Split(sql) {
			if p.Offset < 0 || p.Offset+len(p.Text) > len(sql) || sql[p.Offset:p.Offset+len(p.Text)] != p.Text {
				t.Fatalf("Split(%q): piece %+v not at its offset", sql, p)
			}
		}
	})
}
