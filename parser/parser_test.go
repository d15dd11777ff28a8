package parser

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"

	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

func mustParseOne(t *testing.T, sql string) Statement {
	t.Helper()
	st, err := ParseOne(sql)
	if err != nil {
		t.Fatalf("ParseOne(%q): %v", sql, err)
	}
	return st
}

func restore(t *testing.T, n ast.Node) string {
	t.Helper()
	var b strings.Builder
	if err := n.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &b)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	return b.String()
}

func TestCreateTable(t *testing.T) {
	col := func(name string, typ types.T, notNull bool) ColumnDef {
		return ColumnDef{Name: name, Type: typ, NotNull: notNull}
	}
	tests := []struct {
		sql  string
		want CreateTable
	}{
		{"CREATE TABLE t (a INT, b BIGINT NOT NULL)",
			CreateTable{Name: "t", Columns: []ColumnDef{col("a", types.IntType, false), col("b", types.BigIntType, true)}}},
		{"create table if not exists `My Tab` (`Col``1` varchar(20) null)",
			CreateTable{Name: "My Tab", IfNotExists: true, Columns: []ColumnDef{col("Col`1", types.T{Kind: types.Varchar, Width: 20}, false)}}},
		{"CREATE TABLE public.t (id BIGINT PRIMARY KEY, v TEXT)",
			CreateTable{Name: "t", Columns: []ColumnDef{col("id", types.BigIntType, true), col("v", types.TextType, false)}, PrimaryKey: []string{"id"}}},
		{"CREATE TABLE sluice.t (a INT, b INT, v DOUBLE, PRIMARY KEY (b, a))",
			CreateTable{Name: "t", Columns: []ColumnDef{col("a", types.IntType, true), col("b", types.IntType, true), col("v", types.DoubleType, false)}, PrimaryKey: []string{"b", "a"}}},
		{"CREATE TABLE clicks (user_id BIGINT, ts TIMESTAMP(3)) APPEND ONLY",
			CreateTable{Name: "clicks", AppendOnly: true, Columns: []ColumnDef{col("user_id", types.BigIntType, false), col("ts", types.TimestampType(3), false)}}},
		{"CREATE TABLE c (x INT) ENGINE=InnoDB /* opts */ append\n  -- why not\n only",
			CreateTable{Name: "c", AppendOnly: true, Columns: []ColumnDef{col("x", types.IntType, false)}}},
		{"CREATE TABLE t (a INT, KEY idx (a))",
			CreateTable{Name: "t", Columns: []ColumnDef{col("a", types.IntType, false)}}},
		{"CREATE TABLE t (s STRING, i4 int4, i8 INT8, f8 float8, b bool, d DATE, ts DATETIME, n NUMERIC(12,3), dd DECIMAL, c CHAR(3))",
			CreateTable{Name: "t", Columns: []ColumnDef{
				col("s", types.TextType, false), col("i4", types.IntType, false), col("i8", types.BigIntType, false),
				col("f8", types.DoubleType, false), col("b", types.BoolType, false), col("d", types.DateType, false),
				col("ts", types.TimestampType(0), false), col("n", types.DecimalType(12, 3), false),
				col("dd", types.DecimalType(10, 0), false), col("c", types.T{Kind: types.Varchar, Width: 3}, false)}}},
	}
	for _, tt := range tests {
		st := mustParseOne(t, tt.sql)
		ct, ok := st.(*CreateTable)
		if !ok {
			t.Fatalf("%q: got %T", tt.sql, st)
		}
		tt.want.stmtText = stmtText{tt.sql}
		if !reflect.DeepEqual(*ct, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.sql, *ct, tt.want)
		}
	}
}

func TestCreateMaterializedView(t *testing.T) {
	sql := "CREATE MATERIALIZED VIEW IF NOT EXISTS `Top` AS\n  SELECT item, COUNT(*) AS n FROM clicks GROUP BY item"
	mv := mustParseOne(t, sql).(*CreateMaterializedView)
	if mv.Name != "Top" || !mv.IfNotExists {
		t.Errorf("got %+v", mv)
	}
	if mv.QueryText != "SELECT item, COUNT(*) AS n FROM clicks GROUP BY item" {
		t.Errorf("QueryText %q", mv.QueryText)
	}
	sel, ok := mv.Query.(*ast.SelectStmt)
	if !ok || len(sel.Fields.Fields) != 2 || sel.GroupBy == nil {
		t.Fatalf("query %T %+v", mv.Query, mv.Query)
	}
	mv = mustParseOne(t, "create materialized view v as select a from t union all select b from u").(*CreateMaterializedView)
	if _, ok := mv.Query.(*ast.SetOprStmt); !ok || mv.IfNotExists || mv.Name != "v" {
		t.Errorf("union view: %T %+v", mv.Query, mv)
	}
}

func TestSimpleStatements(t *testing.T) {
	tests := []struct {
		sql  string
		want Statement
	}{
		{"DROP TABLE t", &Drop{Kind: KindTable, Names: []string{"t"}}},
		{"drop table if exists a, public.b, `c d`", &Drop{Kind: KindTable, Names: []string{"a", "b", "c d"}, IfExists: true}},
		{"DROP MATERIALIZED VIEW v", &Drop{Kind: KindMaterializedView, Names: []string{"v"}}},
		{"DROP SOURCE IF EXISTS s", &Drop{Kind: KindSource, Names: []string{"s"}, IfExists: true}},
		{"DROP SINK k1, k2", &Drop{Kind: KindSink, Names: []string{"k1", "k2"}}},
		{"SHOW TABLES", &ShowObjects{Kind: KindTable}},
		{"show materialized views", &ShowObjects{Kind: KindMaterializedView}},
		{"SHOW SOURCES", &ShowObjects{Kind: KindSource}},
		{"SHOW SINKS", &ShowObjects{Kind: KindSink}},
		{"SHOW server_version", &ShowVariable{Name: "server_version"}},
		{"SHOW ALL", &ShowVariable{Name: "all"}},
		{"SHOW Transaction Isolation Level", &ShowVariable{Name: "transaction isolation level"}},
		{"DESCRIBE t", &Describe{Name: "t"}},
		{"desc `Weird Name`", &Describe{Name: "Weird Name"}},
		{"SHOW COLUMNS FROM public.t", &Describe{Name: "t"}},
		{"FLUSH", &Flush{}},
	}
	for _, tt := range tests {
		st := mustParseOne(t, tt.sql)
		tt.want.(interface{ setText(string) }).setText(tt.sql)
		if !reflect.DeepEqual(st, tt.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", tt.sql, st, tt.want)
		}
	}
}

func TestObjectKindString(t *testing.T) {
	want := map[ObjectKind]string{KindTable: "TABLE", KindMaterializedView: "MATERIALIZED VIEW", KindSource: "SOURCE", KindSink: "SINK"}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("%d: %q", k, k.String())
		}
	}
}

func TestDMLAndOther(t *testing.T) {
	tests := []struct {
		sql   string
		check func(Statement) bool
	}{
		{"SELECT a FROM t WHERE b = 1", func(s Statement) bool { _, ok := s.(*Select).Node.(*ast.SelectStmt); return ok }},
		{"SELECT a FROM t UNION SELECT b FROM u", func(s Statement) bool { _, ok := s.(*Select).Node.(*ast.SetOprStmt); return ok }},
		{"WITH x AS (SELECT 1 AS a) SELECT a FROM x", func(s Statement) bool { _, ok := s.(*Select); return ok }},
		{"INSERT INTO t VALUES (1, 'a'), (2, 'b')", func(s Statement) bool { return len(s.(*Insert).Node.Lists) == 2 }},
		{"INSERT INTO t (a) SELECT x FROM u", func(s Statement) bool { return s.(*Insert).Node.Select != nil }},
		{"UPDATE t SET a = a + 1 WHERE b = 2", func(s Statement) bool { return s.(*Update).Node.Where != nil }},
		{"DELETE FROM t WHERE a = 1", func(s Statement) bool { return s.(*Delete).Node.Where != nil }},
		{"SET x = 1", func(s Statement) bool { _, ok := s.(*Other).Node.(*ast.SetStmt); return ok }},
		{"BEGIN", func(s Statement) bool { return s.(*Transaction).Kind == TxBegin }},
		{"COMMIT", func(s Statement) bool { return s.(*Transaction).Kind == TxCommit }},
		{"ROLLBACK", func(s Statement) bool { return s.(*Transaction).Kind == TxRollback }},
		{"SHOW VARIABLES LIKE 'x'", func(s Statement) bool { _, ok := s.(*Other).Node.(*ast.ShowStmt); return ok }},
		{"CREATE VIEW v AS SELECT 1", func(s Statement) bool { _, ok := s.(*Other).Node.(*ast.CreateViewStmt); return ok }},
		{"DROP VIEW v", func(s Statement) bool { _, ok := s.(*Other); return ok }},
		{"FLUSH TABLES", func(s Statement) bool { _, ok := s.(*Other); return ok }},
		{"EXPLAIN SELECT 1", func(s Statement) bool { _, ok := s.(*Explain).Stmt.(*Select); return ok }},
		{"DESCRIBE SELECT 1", func(s Statement) bool { _, ok := s.(*Explain).Stmt.(*Select); return ok }},
		{"EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT 1", func(s Statement) bool {
			mv, ok := s.(*Explain).Stmt.(*CreateMaterializedView)
			return ok && mv.Name == "v" && mv.Text() == "CREATE MATERIALIZED VIEW v AS SELECT 1"
		}},
		{"EXPLAIN DROP TABLE t", func(s Statement) bool { _, ok := s.(*Explain).Stmt.(*Drop); return ok }},
	}
	for _, tt := range tests {
		st := mustParseOne(t, tt.sql)
		ok := func() (ok bool) {
			defer func() {
				if recover() != nil {
					ok = false
				}
			}()
			return tt.check(st)
		}()
		if !ok {
			t.Errorf("%q: unexpected %T %+v", tt.sql, st, st)
		}
		if st.Text() != tt.sql {
			t.Errorf("%q: Text() = %q", tt.sql, st.Text())
		}
	}
}

func TestMultiStatementText(t *testing.T) {
	sql := "  -- leading comment\nSELECT 1 ; ;\n/* c */ INSERT INTO t VALUES (';');\nFLUSH -- done\n"
	stmts, err := Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, s := range stmts {
		texts = append(texts, s.Text())
	}
	want := []string{"SELECT 1", "INSERT INTO t VALUES (';')", "FLUSH"}
	if !reflect.DeepEqual(texts, want) {
		t.Errorf("got %q want %q", texts, want)
	}
	if stmts, err := Parse(" ; -- nothing\n"); err != nil || len(stmts) != 0 {
		t.Errorf("empty input: %v %v", stmts, err)
	}
}

func TestParseOneCounts(t *testing.T) {
	if _, err := ParseOne("  -- nothing"); err == nil {
		t.Error("ParseOne of nothing: no error")
	}
	_, err := ParseOne("SELECT 1;\nSELECT 2")
	e, ok := sqlerr.As(err)
	if !ok || e.Line != 2 || e.Column != 1 || e.Position != 11 {
		t.Errorf("two statements: %#v", err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		sql       string
		code      string
		msg       string
		pos, line int
		col       int
	}{
		{"SELECT a FROM t WHER b = 1", sqlerr.SyntaxError, `syntax error near "b"`, 22, 1, 22},
		{"SELEC 1", sqlerr.SyntaxError, `syntax error near "SELEC"`, 1, 1, 1},
		{"SELECT a FROM", sqlerr.SyntaxError, "syntax error at end of input", 14, 1, 14},
		{"SELECT a\nFROM t\nWHERE x = = 1", sqlerr.SyntaxError, `syntax error near "="`, 27, 3, 11},
		{"SELECT 1;\n  SELECT * FROMM t", sqlerr.SyntaxError, `syntax error near "FROMM"`, 22, 2, 12},
		{"SELECT 1;\n  SELECT a FROMM t", sqlerr.SyntaxError, `syntax error near "t"`, 28, 2, 18},
		{"SELECT 1; DROP TABLE a b", sqlerr.SyntaxError, `syntax error near "b"`, 24, 1, 24},
		{"SELECT 'é' FROM t WHERE ;", sqlerr.SyntaxError, "syntax error at end of input", 24, 1, 24},
		{"SELECT 'é',\n 'ü' + + FROM", sqlerr.SyntaxError, `syntax error near "FROM"`, 22, 2, 10},
		{"SELECT 'abc", sqlerr.SyntaxError, "unterminated quoted string", 8, 1, 8},
		{"SELECT 1 /* x", sqlerr.SyntaxError, "unterminated /* comment", 10, 1, 10},
		{"CREATE TABLE t (a INT) APPEND", sqlerr.SyntaxError, `syntax error near "APPEND"`, 24, 1, 24},
		{"CREATE TABLE t (a INT PRIMARY KEY) APPEND ONLY", sqlerr.SyntaxError, "an APPEND ONLY table cannot have a primary key", 36, 1, 36},
		{"CREATE VIEW v AS SELECT 1 APPEND ONLY", sqlerr.SyntaxError, "APPEND ONLY applies only to CREATE TABLE", 27, 1, 27},
		{"CREATE TABLE t (a INT,\n  b BLOB)", sqlerr.FeatureNotSupported, "type BLOB is not supported (column b)", 28, 2, 5},
		{"CREATE TABLE t (a INT, b JSON)", sqlerr.FeatureNotSupported, "type JSON is not supported (column b)", 26, 1, 26},
		{"CREATE TABLE t (a TIME)", sqlerr.FeatureNotSupported, "type TIME is not supported (column a)", 19, 1, 19},
		{"CREATE TABLE t (a VARBINARY(3))", sqlerr.FeatureNotSupported, "type VARBINARY is not supported (column a)", 19, 1, 19},
		{"CREATE TABLE t (a DECIMAL(40,2))", sqlerr.FeatureNotSupported, "DECIMAL precision 40 is out of range (at most 38) (column a)", 19, 1, 19},
		{"CREATE TABLE t (a INT, A INT)", sqlerr.DuplicateObject, `column "A" specified more than once`, 24, 1, 24},
		{"CREATE TABLE t (a INT DEFAULT 1)", sqlerr.FeatureNotSupported, "column option DEFAULT is not supported (column a)", 17, 1, 17},
		{"CREATE TABLE t (a INT, PRIMARY KEY (b))", sqlerr.UndefinedColumn, `primary key column "b" does not exist`, 24, 1, 24},
		{"CREATE TABLE t (a INT PRIMARY KEY, b INT, PRIMARY KEY (b))", sqlerr.SyntaxError, `multiple primary keys for table "t" are not allowed`, 43, 1, 43},
		{"CREATE TABLE t (a INT, UNIQUE (a))", sqlerr.FeatureNotSupported, "constraint UNIQUE is not supported", 1, 1, 1},
		{"CREATE TABLE t AS SELECT 1", sqlerr.FeatureNotSupported, "CREATE TABLE ... AS SELECT is not supported; use CREATE MATERIALIZED VIEW", 1, 1, 1},
		{"CREATE TABLE other.t (a INT)", sqlerr.FeatureNotSupported, `schema "other" does not exist (objects live in schema public)`, 14, 1, 14},
		{"DROP TABLE x.t", sqlerr.FeatureNotSupported, `schema "x" does not exist (objects live in schema public)`, 12, 1, 12},
		{"CREATE MATERIALIZED VIEW v SELECT 1", sqlerr.SyntaxError, `syntax error near "SELECT"`, 28, 1, 28},
		{"CREATE MATERIALIZED VIEW v AS", sqlerr.SyntaxError, "CREATE MATERIALIZED VIEW needs a query after AS", 30, 1, 30},
		{"CREATE MATERIALIZED TABLE v AS SELECT 1", sqlerr.SyntaxError, `syntax error near "TABLE"`, 21, 1, 21},
		{"CREATE MATERIALIZED VIEW v AS\n  DELETE FROM t", sqlerr.SyntaxError, "a materialized view's query must be a SELECT", 33, 2, 3},
		{"CREATE MATERIALIZED VIEW v AS\n  SELECT a FROM t WHERE", sqlerr.SyntaxError, "syntax error at end of input", 54, 2, 24},
		{"DROP SOURCE", sqlerr.SyntaxError, "syntax error at end of input", 12, 1, 12},
		{"DROP MATERIALIZED v", sqlerr.SyntaxError, `syntax error near "v"`, 19, 1, 19},
		{"SHOW", sqlerr.SyntaxError, "SHOW needs a name", 5, 1, 5},
		{"EXPLAIN", sqlerr.SyntaxError, "EXPLAIN needs a statement", 8, 1, 8},
		{"EXPLAIN SELECT FROM", sqlerr.SyntaxError, `syntax error near "FROM"`, 16, 1, 16},
		{"SELECT ?, $1", sqlerr.SyntaxError, "cannot mix ? and $n parameters", 11, 1, 11},
		{"SELECT x::regclass", sqlerr.FeatureNotSupported, "cast to type regclass is not supported", 11, 1, 11},
		{"SELECT 1 + ::int", sqlerr.FeatureNotSupported, "this ::type cast is not supported; use CAST(expr AS type)", 12, 1, 12},
		{"SELECT a::int[] FROM t", sqlerr.FeatureNotSupported, "array types are not supported", 14, 1, 14},
		{"SELECT 'maybe'::boolean", sqlerr.InvalidTextRep, `invalid input syntax for type boolean: "maybe"`, 8, 1, 8},
		{"SELECT a::boolean", sqlerr.FeatureNotSupported, "::boolean is supported only on a literal", 8, 1, 8},
		{"SELECT CAST(a AS SIGNED)::int, x::text + + FROM t", sqlerr.SyntaxError, `syntax error near "FROM"`, 44, 1, 44},
		{"SELECT x::int FROMM t", sqlerr.SyntaxError, `syntax error near "t"`, 21, 1, 21},
	}
	for _, tt := range tests {
		_, err := Parse(tt.sql)
		e, ok := sqlerr.As(err)
		if !ok {
			t.Errorf("%q: want *sqlerr.Error, got %v", tt.sql, err)
			continue
		}
		got := [3]int{e.Position, e.Line, e.Column}
		if e.Phase != sqlerr.Parse || e.Code != tt.code || e.Msg != tt.msg || got != [3]int{tt.pos, tt.line, tt.col} {
			t.Errorf("%q:\n got phase %d code %s %q pos/line/col %v\nwant code %s %q %v",
				tt.sql, e.Phase, e.Code, e.Msg, got, tt.code, tt.msg, [3]int{tt.pos, tt.line, tt.col})
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		sql  string
		want []Piece
	}{
		{"", []Piece{}},
		{"   \n ", []Piece{}},
		{"SELECT 1", []Piece{{Text: "SELECT 1", Offset: 0, Line: 1}}},
		{"SELECT 1;", []Piece{{Text: "SELECT 1", Offset: 0, Line: 1}}},
		{"SELECT 1;\n  SELECT 2 ;\n", []Piece{{Text: "SELECT 1", Line: 1}, {Text: "SELECT 2", Offset: 12, Line: 2}}},
		{"SELECT 'a;b''c\\';d';x", []Piece{{Text: "SELECT 'a;b''c\\';d'", Line: 1}, {Text: "x", Offset: 20, Line: 1}}},
		{`SELECT "a;""b\";";x`, []Piece{{Text: `SELECT "a;""b\";"`, Line: 1}, {Text: "x", Offset: 18, Line: 1}}},
		{"SELECT `a;``b\\`;x`", []Piece{{Text: "SELECT `a;``b\\`", Line: 1}, {Text: "x`", Offset: 16, Line: 1}}},
		{"SELECT 1 -- c;omment\n;x", []Piece{{Text: "SELECT 1", Line: 1}, {Text: "x", Offset: 22, Line: 2}}},
		{"SELECT 1 # c;omment\n;x", []Piece{{Text: "SELECT 1", Line: 1}, {Text: "x", Offset: 21, Line: 2}}},
		{"SELECT 1--1;x", []Piece{{Text: "SELECT 1--1", Line: 1}, {Text: "x", Offset: 12, Line: 1}}},
		{"SELECT /* a;\n b */ 1;x", []Piece{{Text: "SELECT /* a;\n b */ 1", Line: 1}, {Text: "x", Offset: 21, Line: 2}}},
		{"SELECT $$a;b$$;SELECT $f$ $$; $f$;x", []Piece{{Text: "SELECT $$a;b$$", Line: 1}, {Text: "SELECT $f$ $$; $f$", Offset: 15, Line: 1}, {Text: "x", Offset: 34, Line: 1}}},
		{"SELECT a$b, $1;x", []Piece{{Text: "SELECT a$b, $1", Line: 1}, {Text: "x", Offset: 15, Line: 1}}},
		{"a;;\n -- only a comment\n;b", []Piece{{Text: "a", Line: 1}, {Text: "", Offset: 2, Line: 1, Empty: true}, {Text: "-- only a comment", Offset: 5, Line: 2, Empty: true}, {Text: "b", Offset: 24, Line: 3}}},
		{"a; /* tail */", []Piece{{Text: "a", Line: 1}, {Text: "/* tail */", Offset: 3, Line: 1, Empty: true}}},
		{"a; 'unterminated;\nb", []Piece{{Text: "a", Line: 1}, {Text: "'unterminated;\nb", Offset: 3, Line: 1}}},
	}
	for _, tt := range tests {
		got := Split(tt.sql)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Split(%q):\n got %+v\nwant %+v", tt.sql, got, tt.want)
		}
		for _, p := range got {
			if !p.Empty && tt.sql[p.Offset:p.Offset+len(p.Text)] != p.Text {
				t.Errorf("Split(%q): piece %q not at offset %d", tt.sql, p.Text, p.Offset)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	queries := []string{
		"SELECT a, b + 1 AS c FROM t WHERE a > 10 AND b IS NOT NULL ORDER BY c DESC LIMIT 5",
		"SELECT item, COUNT(*) AS n, SUM(x) FROM t GROUP BY item HAVING COUNT(*) > 1",
		"SELECT a.x, b.y FROM a JOIN b ON a.id = b.id AND b.ts BETWEEN a.ts - INTERVAL 30 MINUTE AND a.ts + INTERVAL 30 MINUTE",
		"SELECT item, other, n FROM (SELECT item, other, n, ROW_NUMBER() OVER (PARTITION BY item ORDER BY n DESC, other) AS rn FROM cooc) AS t WHERE rn <= 20",
		"SELECT a FROM t UNION ALL SELECT b FROM u",
		"SELECT CASE WHEN a = 1 THEN 'one' ELSE 'other' END, CAST(b AS DECIMAL(10,2)), COALESCE(c, 0) FROM t",
		"SELECT x FROM t WHERE y IN (1, 2, 3) AND z LIKE 'a%' AND w = ?",
		"INSERT INTO t VALUES (1, 'a', 2.5), (2, 'b', NULL)",
		"INSERT INTO t (a, b) SELECT x, y FROM u WHERE x > 0",
		"UPDATE t SET a = a + 1, b = 'x' WHERE c = 3",
		"DELETE FROM t WHERE a = 1",
		"SELECT '5'::int, x::text, (a + 1)::numeric(10,2), f(a)::int::text, ts - '5 minutes'::interval FROM t WHERE a = $2 AND b = $1",
		"CREATE MATERIALIZED VIEW v AS SELECT a, COUNT(*) FROM t GROUP BY a",
		"CREATE MATERIALIZED VIEW w AS SELECT a FROM t UNION SELECT b FROM u",
	}
	print := func(st Statement) string {
		switch s := st.(type) {
		case *Select:
			return restore(t, s.Node)
		case *Insert:
			return restore(t, s.Node)
		case *Update:
			return restore(t, s.Node)
		case *Delete:
			return restore(t, s.Node)
		case *CreateMaterializedView:
			return "CREATE MATERIALIZED VIEW `" + s.Name + "` AS " + restore(t, s.Query)
		}
		t.Fatalf("unexpected %T", st)
		return ""
	}
	for _, q := range queries {
		first := print(mustParseOne(t, q))
		second := print(mustParseOne(t, first))
		if first != second {
			t.Errorf("%q: round trip differs:\n 1st %s\n 2nd %s", q, first, second)
		}
	}
}

func TestPostgresCasts(t *testing.T) {
	tests := []struct{ sql, want string }{
		{"SELECT '5'::int", "SELECT CAST(_UTF8MB4'5' AS SIGNED)"},
		{"SELECT x::text, y::varchar(4), z::character varying", "SELECT CAST(`x` AS CHAR),CAST(`y` AS CHAR(4)),CAST(`z` AS CHAR)"},
		{"SELECT '2026-01-01'::timestamp, a::timestamp(3) without time zone, b::date", "SELECT CAST(_UTF8MB4'2026-01-01' AS DATETIME(6)),CAST(`a` AS DATETIME(3)),CAST(`b` AS DATE)"},
		{"SELECT a::float8, b::double precision, c::numeric, d::numeric(5,2), e::bigint", "SELECT CAST(`a` AS DOUBLE),CAST(`b` AS DOUBLE),CAST(`c` AS DECIMAL(10)),CAST(`d` AS DECIMAL(5, 2)),CAST(`e` AS SIGNED)"},
		{"SELECT (a + 1)::text, f(a, b)::int, COUNT(*)::int8, t.c::int4", "SELECT CAST((`a`+1) AS CHAR),CAST(F(`a`, `b`) AS SIGNED),CAST(COUNT(1) AS SIGNED),CAST(`t`.`c` AS SIGNED)"},
		{"SELECT a::int::text", "SELECT CAST(CAST(`a` AS SIGNED) AS CHAR)"},
		{"SELECT ((a)::int + 2)::text", "SELECT CAST((CAST((`a`) AS SIGNED)+2) AS CHAR)"},
		{"SELECT 1 WHERE (a)::int = 1", "SELECT 1 FROM DUAL WHERE CAST((`a`) AS SIGNED)=1"},
		{"SELECT $1::int", "SELECT CAST(? AS SIGNED)"},
		{"SELECT ts - '5 minutes'::interval, ts + '1 hour'::interval", "SELECT DATE_SUB(`ts`, INTERVAL _UTF8MB4'5' MINUTE),DATE_ADD(`ts`, INTERVAL _UTF8MB4'1' HOUR)"},
		{"SELECT 't'::bool, 'false'::boolean", "SELECT TRUE,FALSE"},
		{"SELECT 'a::b', `c::d`", "SELECT _UTF8MB4'a::b',`c::d`"},
	}
	for _, tt := range tests {
		st := mustParseOne(t, tt.sql)
		if got := restore(t, st.(*Select).Node); got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.sql, got, tt.want)
		}
		if st.Text() != tt.sql {
			t.Errorf("%q: Text() = %q", tt.sql, st.Text())
		}
	}
}

func TestParams(t *testing.T) {
	orders := func(sql string) []int {
		st := mustParseOne(t, sql)
		v := &paramCollector{}
		switch s := st.(type) {
		case *Select:
			s.Node.Accept(v)
		case *Insert:
			s.Node.Accept(v)
		}
		var out []int
		for _, p := range v.params {
			out = append(out, p.Order)
		}
		return out
	}
	tests := []struct {
		sql  string
		want []int
	}{
		{"SELECT a FROM t WHERE b = $2 AND c = $1", []int{1, 0}},
		{"SELECT a FROM t WHERE b = ? AND c = ?", []int{0, 1}},
		{"INSERT INTO t VALUES ($1, $3, $2)", []int{0, 2, 1}},
		{"SELECT $10", []int{9}},
	}
	for _, tt := range tests {
		if got := orders(tt.sql); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: orders %v want %v", tt.sql, got, tt.want)
		}
	}
}

func TestConcurrentParse(t *testing.T) {
	const q = "SELECT a, b FROM t WHERE c = $1; CREATE MATERIALIZED VIEW v AS SELECT x::int FROM u"
	done := make(chan error, 8)
	for range 8 {
		go func() {
			for range 50 {
				stmts, err := Parse(q)
				if err == nil && len(stmts) != 2 {
					err = sqlerr.New(sqlerr.Parse, sqlerr.InternalError, "got %d statements", len(stmts))
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
