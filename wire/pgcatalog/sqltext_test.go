package pgcatalog

import (
	"context"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT  a,\n  b FROM T ;;", "select a,b from t"},
		{"select 'It''s A' , \"Mixed Case\" from x -- comment\nwhere y = E'a\\'B'", `select 'It''s A',"Mixed Case" from x where y = e'a\'B'`},
		{"select f( a , b ) /* c /* nested */ */ from t", "select f(a,b) from t"},
		{"SELECT 1", "select 1"},
		{"select 'unterminated", "select 'unterminated"},
	} {
		if got := normalize(c.in); got != c.want {
			t.Errorf("normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestColumnName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`n.nspname as "Schema"`, "Schema"},
		{`c.relname`, "relname"},
		{`pg_catalog.format_type(a.atttypid,a.atttypmod)`, "format_type"},
		{`case c.relkind when 'r' then 'table' end`, "case"},
		{`(select pg_catalog.pg_get_expr(d.adbin,d.adrelid,true) from pg_catalog.pg_attrdef d)`, "pg_get_expr"},
		{`c.oid::pg_catalog.regclass`, "oid"},
		{`null::pg_catalog.text`, "text"},
		{`false as relhasoids`, "relhasoids"},
		{`false`, "bool"},
		{`''`, "?column?"},
		{`version() v`, "v"},
		{`f(a) + g(b)`, "?column?"},
	} {
		if got := columnName(c.in); got != c.want {
			t.Errorf("columnName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLike(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		want   bool
	}{{"ev%", "events", true}, {"ev%", "clicks", false}, {"e_ents", "events", true}, {`pg\_%`, "pg_catalog", true}, {`pg\_%`, "pgxcatalog", false}, {"%", "", true}} {
		re, err := likeToRegexp(c.pat, false)
		if err != nil || re.MatchString(c.s) != c.want {
			t.Errorf("%q LIKE %q: %v %v", c.s, c.pat, err, !c.want)
		}
	}
}

// BenchmarkAnswerOrdinary measures the cost Answer adds to a query that is
// not a catalog query (it is called for every statement).
func BenchmarkAnswerOrdinary(b *testing.B) {
	s := newMapSettings()
	ctx := context.Background()
	for _, q := range []struct{ name, sql string }{
		{"lookup", "SELECT other, n FROM similar WHERE item = $1 ORDER BY n DESC LIMIT 10"},
		{"user_column", "SELECT user_id, item_id FROM clicks WHERE user_id = $1"},
		{"insert", "INSERT INTO clicks VALUES ($1, $2, $3)"},
	} {
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, _ := Answer(ctx, nil, s, q.sql); ok {
					b.Fatal("handled")
				}
			}
		})
	}
}

// BenchmarkAnswerCatalog measures answering psql's \d and \d NAME columns.
func BenchmarkAnswerCatalog(b *testing.B) {
	eng := testEngine(b)
	s := newMapSettings()
	ctx := context.Background()
	qs := loadPsqlQueries(b)
	for _, c := range []struct {
		name    string
		section string
		index   int
	}{{"list", `\d`, 0}, {"columns", `\d events (table with PK)`, 2}} {
		var sqls []string
		for _, q := range qs {
			if q.section == c.section {
				sqls = append(sqls, rewriteRef(b, eng, q.sql))
			}
		}
		sql, name := sqls[c.index], c.name
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, err := Answer(ctx, eng, s, sql); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
