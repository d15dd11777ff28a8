package pgcatalog

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// TestReferenceQueriesAnswered runs every query psql 15 sends (captured in
// testdata) and checks each is answered without error, except SELECT 1,
// which is the engine's.
func TestReferenceQueriesAnswered(t *testing.T) {
	eng := testEngine(t)
	s := newMapSettings()
	qs := loadPsqlQueries(t)
	if len(qs) < 50 {
		t.Fatalf("loaded only %d reference queries", len(qs))
	}
	for _, q := range qs {
		sql := rewriteRef(t, eng, q.sql)
		res, ok, err := Answer(context.Background(), eng, s, sql)
		if q.section == "SELECT 1" {
			if ok || err != nil {
				t.Errorf("SELECT 1: handled=%v err=%v, want not handled", ok, err)
			}
			continue
		}
		if err != nil || !ok {
			t.Errorf("%s: %.80q: handled=%v err=%v", q.section, sql, ok, err)
			continue
		}
		if len(res.Columns) == 0 || !strings.HasPrefix(res.Tag, "SELECT ") {
			t.Errorf("%s: %.80q: columns %v tag %q", q.section, sql, res.Columns, res.Tag)
		}
	}
}

// refSection returns the rewritten queries of one reference section.
func refSection(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, q := range loadPsqlQueries(t) {
		if q.section == name {
			out = append(out, q.sql)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no reference section %q", name)
	}
	return out
}

func wantTable(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestRelationLists(t *testing.T) {
	eng := testEngine(t)
	s := newMapSettings()
	run := func(section string) []string {
		return table(answer(t, eng, s, refSection(t, section)[0]))
	}
	wantTable(t, `\d`, run(`\d`), "Schema|Name|Type|Owner",
		"public|big_clicks|materialized view|sluice", "public|clicks|table|sluice",
		"public|events|table|sluice", "public|totals|materialized view|sluice")
	wantTable(t, `\dt`, run(`\dt`), "Schema|Name|Type|Owner", "public|clicks|table|sluice", "public|events|table|sluice")
	wantTable(t, `\dv`, run(`\dv`), "Schema|Name|Type|Owner")
	wantTable(t, `\dm`, run(`\dm`), "Schema|Name|Type|Owner",
		"public|big_clicks|materialized view|sluice", "public|totals|materialized view|sluice")
	wantTable(t, `\dt+`, run(`\dt+`), "Schema|Name|Type|Owner|Persistence|Access method|Size|Description",
		"public|clicks|table|sluice|permanent|heap|∅|∅", "public|events|table|sluice|permanent|heap|∅|∅")
	if got := run(`\d+`); len(got) != 5 {
		t.Errorf(`\d+: %q`, got)
	}
	// A pattern (\dt ev*) and the session user as owner.
	if err := s.Set("session_authorization", "alice"); err != nil {
		t.Fatal(err)
	}
	q := strings.Replace(refSection(t, `\dt`)[0], "AND pg_catalog.pg_table_is_visible",
		"AND c.relname OPERATOR(pg_catalog.~) '^(ev.*)$' COLLATE pg_catalog.default\n  AND pg_catalog.pg_table_is_visible", 1)
	wantTable(t, `\dt ev*`, table(answer(t, eng, s, q)), "Schema|Name|Type|Owner", "public|events|table|alice")
}

func TestDescribeTable(t *testing.T) {
	eng := testEngine(t)
	s := newMapSettings()
	qs := refSection(t, `\d events (table with PK)`)
	oid := oidOf(t, eng, "events")
	wantTable(t, "lookup", table(answer(t, eng, s, qs[0])), "oid|nspname|relname", oid+"|public|events")
	info := answer(t, eng, s, rewriteRef(t, eng, qs[1]))
	if len(info.Rows) != 1 || info.Rows[0][1].S != "r" || !info.Rows[0][2].Bool() || info.Rows[0][14].S != "heap" {
		t.Errorf("table info: %q", table(info))
	}
	wantTable(t, "columns", table(answer(t, eng, s, rewriteRef(t, eng, qs[2]))),
		"attname|format_type|pg_get_expr|attnotnull|attcollation|attidentity|attgenerated",
		"id|bigint|∅|t|∅||", "user_id|bigint|∅|f|∅||", "amount|numeric(10,2)|∅|f|∅||",
		"ts|timestamp(3) without time zone|∅|f|∅||", "note|character varying(20)|∅|f|∅||",
		"flag|boolean|∅|f|∅||", "score|double precision|∅|f|∅||", "cnt|integer|∅|f|∅||",
		"d|date|∅|f|∅||", "body|text|∅|f|∅||")
	wantTable(t, "indexes", table(answer(t, eng, s, rewriteRef(t, eng, qs[3]))),
		"relname|indisprimary|indisunique|indisclustered|indisvalid|pg_get_indexdef|pg_get_constraintdef|contype|condeferrable|condeferred|indisreplident|reltablespace",
		"events_pkey|t|t|f|t|CREATE UNIQUE INDEX events_pkey ON public.events USING btree (id)|PRIMARY KEY (id)|p|f|f|f|0")
	for i, q := range qs[4:] {
		if res := answer(t, eng, s, rewriteRef(t, eng, q)); len(res.Rows) != 0 {
			t.Errorf("query %d: want no rows, got %q", i+5, table(res))
		}
	}
	// The append-only table has no key, so no index.
	clicks := strings.ReplaceAll(qs[1], "'16384'", "'"+oidOf(t, eng, "clicks")+"'")
	if res := answer(t, eng, s, clicks); len(res.Rows) != 1 || res.Rows[0][2].Bool() {
		t.Errorf("clicks info: %q", table(res))
	}
	idx := strings.ReplaceAll(qs[3], "'16384'", "'"+oidOf(t, eng, "clicks")+"'")
	if res := answer(t, eng, s, idx); len(res.Rows) != 0 {
		t.Errorf("clicks indexes: %q", table(res))
	}
}

func TestDescribeMaterializedView(t *testing.T) {
	eng := testEngine(t)
	s := newMapSettings()
	qs := refSection(t, `\d totals (materialized view)`)
	wantTable(t, "lookup", table(answer(t, eng, s, qs[0])), "oid|nspname|relname", oidOf(t, eng, "totals")+"|public|totals")
	info := answer(t, eng, s, rewriteRef(t, eng, qs[1]))
	if len(info.Rows) != 1 || info.Rows[0][1].S != "m" || !info.Rows[0][2].Bool() {
		t.Errorf("matview info: %q", table(info))
	}
	wantTable(t, "columns", table(answer(t, eng, s, rewriteRef(t, eng, qs[2]))),
		"attname|format_type|pg_get_expr|attnotnull|attcollation|attidentity|attgenerated",
		"user_id|bigint|∅|f|∅||", "total|numeric(38,2)|∅|f|∅||", "n|bigint|∅|f|∅||")
	// psql asks for indexes of a matview with relhasindex: its key is a
	// unique index, not a primary key.
	idx := strings.ReplaceAll(refSection(t, `\d events (table with PK)`)[3], "'16384'", "'"+oidOf(t, eng, "totals")+"'")
	wantTable(t, "indexes", table(answer(t, eng, s, idx)),
		"relname|indisprimary|indisunique|indisclustered|indisvalid|pg_get_indexdef|pg_get_constraintdef|contype|condeferrable|condeferred|indisreplident|reltablespace",
		"totals_key|f|t|f|t|CREATE UNIQUE INDEX totals_key ON public.totals USING btree (user_id)|∅|∅|∅|∅|f|0")

	// \d+ of the unkeyed view: storage column and the definition.
	vq := refSection(t, `\d+ big_events (view)`)
	wantTable(t, "lookup", table(answer(t, eng, s, rewriteRef(t, eng, vq[0]))), "oid|nspname|relname", oidOf(t, eng, "big_clicks")+"|public|big_clicks")
	wantTable(t, "verbose columns", table(answer(t, eng, s, rewriteRef(t, eng, vq[2]))),
		"attname|format_type|pg_get_expr|attnotnull|attcollation|attidentity|attgenerated|attstorage|col_description",
		"user_id|bigint|∅|f|∅|||p|∅", "item_id|bigint|∅|f|∅|||p|∅")
	wantTable(t, "viewdef", table(answer(t, eng, s, rewriteRef(t, eng, vq[3]))),
		"pg_get_viewdef", " SELECT user_id, item_id FROM clicks WHERE item_id > 100;")
	if res := answer(t, eng, s, rewriteRef(t, eng, vq[4])); len(res.Rows) != 0 {
		t.Errorf("rules: %q", table(res))
	}
}

func TestDescribeMissing(t *testing.T) {
	eng := testEngine(t)
	res := answer(t, eng, newMapSettings(), refSection(t, `\d nosuch`)[0])
	wantTable(t, `\d nosuch`, table(res), "oid|nspname|relname")
}

func TestDatabasesSchemasRolesFunctions(t *testing.T) {
	eng := testEngine(t)
	s := newMapSettings()
	wantTable(t, `\l`, table(answer(t, eng, s, refSection(t, `\l`)[0])),
		"Name|Owner|Encoding|Collate|Ctype|ICU Locale|Locale Provider|Access privileges", "sluice|sluice|UTF8|C|C|∅|libc|∅")
	wantTable(t, `\dn`, table(answer(t, eng, s, refSection(t, `\dn`)[0])), "Name|Owner", "public|sluice")
	wantTable(t, `\du`, table(answer(t, eng, s, refSection(t, `\du`)[0])),
		"rolname|rolsuper|rolinherit|rolcreaterole|rolcreatedb|rolcanlogin|rolconnlimit|rolvaliduntil|memberof|rolreplication|rolbypassrls",
		"sluice|t|t|t|t|t|-1|∅|{}|f|t")
	wantTable(t, `\df`, table(answer(t, eng, s, refSection(t, `\df`)[0])), "Schema|Name|Result data type|Argument data types|Type")
}

func TestTabCompletion(t *testing.T) {
	eng := testEngine(t)
	s := newMapSettings()
	qs := refSection(t, `interactive tab completion: "SELECT * FROM ev<TAB>", "SELECT * FROM events WHERE u<TAB>", "\d to<TAB>", "SELECT * FROM <TAB><TAB>", "\c <TAB><TAB>"`)
	wantTable(t, "ev<TAB>", table(answer(t, eng, s, qs[0])), "relname|text", "events|∅")
	wantTable(t, "u<TAB>", table(answer(t, eng, s, qs[1])), "attname|text", "user_id|∅")
	wantTable(t, "to<TAB>", table(answer(t, eng, s, qs[2])), "relname|text", "totals|∅")
	wantTable(t, "<TAB>", table(answer(t, eng, s, qs[3])), "relname|text",
		"big_clicks|∅", "clicks|∅", "events|∅", "totals|∅", "∅|public", "∅|information_schema")
	wantTable(t, `\c <TAB>`, table(answer(t, eng, s, qs[5])), "datname", "sluice")
}

func TestJDBCQueries(t *testing.T) {
	eng := testEngine(t)
	s := newMapSettings()
	qs := loadJdbcQueries(t)
	if len(qs) != 5 {
		t.Fatalf("loaded %d pgjdbc queries", len(qs))
	}
	for _, q := range qs[:2] {
		if res := answer(t, eng, s, q); res.Tag != "SET" {
			t.Errorf("%q: tag %q", q, res.Tag)
		}
	}
	if v, _ := s.Get("extra_float_digits"); v != "3" {
		t.Errorf("extra_float_digits = %q", v)
	}
	if v, _ := s.Get("application_name"); v != "jdbc" {
		t.Errorf("application_name = %q", v)
	}
	if _, ok, err := Answer(context.Background(), eng, s, qs[2]); ok || err != nil {
		t.Errorf("ordinary query: handled=%v err=%v", ok, err)
	}
	wantTable(t, "getTables", table(answer(t, eng, s, qs[3])),
		"table_cat|table_schem|table_name|table_type|remarks|type_cat|type_schem|type_name|self_referencing_col_name|ref_generation",
		"∅|public|big_clicks|MATERIALIZED VIEW|∅|||||", "∅|public|totals|MATERIALIZED VIEW|∅|||||",
		"∅|public|clicks|TABLE|∅|||||", "∅|public|events|TABLE|∅|||||")
	got := table(answer(t, eng, s, qs[4]))
	wantTable(t, "getColumns", got[:4],
		"nspname|relname|attname|atttypid|attnotnull|atttypmod|attlen|typtypmod|attnum|attidentity|attgenerated|adsrc|description|typbasetype|typtype",
		"public|events|id|20|t|-1|8|-1|1|∅|∅|∅|∅|0|b", "public|events|user_id|20|f|-1|8|-1|2|∅|∅|∅|∅|0|b",
		"public|events|amount|1700|f|655366|-1|-1|3|∅|∅|∅|∅|0|b")
	if len(got) != 11 {
		t.Errorf("getColumns: %d rows", len(got)-1)
	}
	// getColumns of a materialized view.
	mv := strings.Replace(qs[4], "c.relname LIKE 'events'", "c.relname LIKE 'tot%'", 1)
	wantTable(t, "getColumns totals", table(answer(t, eng, s, mv))[1:],
		"public|totals|user_id|20|f|-1|8|-1|1|∅|∅|∅|∅|0|b", "public|totals|total|1700|f|2490374|-1|-1|2|∅|∅|∅|∅|0|b",
		"public|totals|n|20|f|-1|8|-1|3|∅|∅|∅|∅|0|b")
}

func TestDconfig(t *testing.T) {
	s := newMapSettings()
	answer(t, nil, s, "SET statement_timeout = '7s'")
	q := `SELECT s.name AS "Parameter", pg_catalog.current_setting(s.name) AS "Value"
FROM pg_catalog.pg_settings s
WHERE s.source <> 'default' AND
      s.setting IS DISTINCT FROM s.boot_val
ORDER BY 1;`
	got := table(answer(t, nil, s, q))
	found := false
	for _, l := range got[1:] {
		found = found || l == "statement_timeout|7s"
		if l == "DateStyle|ISO, MDY" {
			t.Errorf("default setting listed: %q", got)
		}
	}
	if !found || got[0] != "Parameter|Value" {
		t.Errorf(`\dconfig: %q`, got)
	}
	pat := `SELECT s.name AS "Parameter", pg_catalog.current_setting(s.name) AS "Value"
FROM pg_catalog.pg_settings s
WHERE pg_catalog.lower(s.name) OPERATOR(pg_catalog.~) '^(date.*)$' COLLATE pg_catalog.default
ORDER BY 1;`
	wantTable(t, `\dconfig date*`, table(answer(t, nil, s, pat)), "Parameter|Value", "DateStyle|ISO, MDY")
}
