package pgcatalog

import (
	"context"
	"testing"
)

func TestSessionFunctions(t *testing.T) {
	eng := testEngine(t)
	s := newMapSettings()
	wantTable(t, "version", table(answer(t, eng, s, "SELECT version();")), "version", versionString)
	wantTable(t, "several", table(answer(t, eng, s, "select current_database(), current_schema(), current_user, session_user as who, pg_catalog.version() v")),
		"current_database|current_schema|current_user|who|v", "sluice|public|sluice|sluice|"+versionString)
	wantTable(t, "schema keyword", table(answer(t, eng, s, "SELECT current_schema, user, current_catalog")), "current_schema|user|current_catalog", "public|sluice|sluice")
	wantTable(t, "schemas", table(answer(t, eng, s, "SELECT pg_catalog.current_schemas(true)")), "current_schemas", "{pg_catalog,public}")
	if err := s.Set("session_authorization", "bob"); err != nil {
		t.Fatal(err)
	}
	wantTable(t, "user", table(answer(t, eng, s, "SELECT CURRENT_USER")), "current_user", "bob")
	answer(t, eng, s, "SET search_path = 'nowhere'")
	wantTable(t, "no schema", table(answer(t, eng, s, "SELECT current_schema()")), "current_schema", "∅")
}

func TestNotMine(t *testing.T) {
	eng := testEngine(t)
	s := newMapSettings()
	for _, q := range []string{
		"SELECT 1", "select 1 + 1;", "SELECT user_id, item_id FROM clicks WHERE user_id = $1",
		"INSERT INTO clicks VALUES (1, 2, '2024-01-01 00:00:00')", "CREATE TABLE x (a INT)",
		"SELECT user_id FROM events", "FLUSH", "", "-- just a comment", "BEGIN", "COMMIT",
		"SELECT current_total FROM totals", "SELECT versions FROM t",
	} {
		if res, ok, err := Answer(context.Background(), eng, s, q); ok || err != nil || res != nil {
			t.Errorf("%q: handled=%v err=%v", q, ok, err)
		}
	}
}

func TestUnsupportedCatalogQuery(t *testing.T) {
	eng := testEngine(t)
	s := newMapSettings()
	for _, q := range []string{
		"SELECT c.relname, count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid GROUP BY 1",
		"SELECT * FROM pg_class c, pg_namespace n WHERE c.relnamespace = n.oid",
		"SELECT pg_catalog.pg_backend_pid()",
		"SELECT relname FROM pg_catalog.pg_class WHERE relname ~* 'x' OR relkind = 'r'",
		"SELECT nosuchcolumn FROM information_schema.tables",
		"SELECT * FROM information_schema.routines",
	} {
		_, ok, err := Answer(context.Background(), eng, s, q)
		if !ok || err == nil || errCode(err) != "0A000" {
			t.Errorf("%q: handled=%v err=%v, want 0A000", q, ok, err)
		}
	}
}

func TestSimpleCatalogSelects(t *testing.T) {
	eng := testEngine(t)
	s := newMapSettings()
	q := func(sql string) []string { return table(answer(t, eng, s, sql)) }
	wantTable(t, "information_schema.tables",
		q("SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"),
		"table_schema|table_name|table_type", "public|big_clicks|MATERIALIZED VIEW", "public|clicks|BASE TABLE",
		"public|events|BASE TABLE", "public|totals|MATERIALIZED VIEW")
	wantTable(t, "information_schema.columns",
		q("select column_name, data_type, is_nullable, numeric_precision, numeric_scale, character_maximum_length, datetime_precision from information_schema.columns where table_name = 'events' and ordinal_position <= 5 order by ordinal_position"),
		"column_name|data_type|is_nullable|numeric_precision|numeric_scale|character_maximum_length|datetime_precision",
		"id|bigint|NO|64|0|∅|∅", "user_id|bigint|YES|64|0|∅|∅", "amount|numeric|YES|10|2|∅|∅",
		"ts|timestamp without time zone|YES|∅|∅|∅|3", "note|character varying|YES|∅|∅|20|∅")
	wantTable(t, "pg_class", q("SELECT relname, relkind, relhasindex FROM pg_catalog.pg_class WHERE relkind = 'm' ORDER BY relname DESC"),
		"relname|relkind|relhasindex", "totals|m|t", "big_clicks|m|f")
	wantTable(t, "pg_class oid", q("SELECT c.oid, c.relname AS name FROM pg_class c WHERE c.relname = 'events'"),
		"oid|name", oidOf(t, eng, "events")+"|events")
	wantTable(t, "pg_namespace", q("SELECT oid, nspname FROM pg_catalog.pg_namespace ORDER BY oid"),
		"oid|nspname", "11|pg_catalog", "2200|public", "13000|information_schema")
	wantTable(t, "pg_type", q("SELECT oid, typname, typlen FROM pg_type WHERE typname IN ('int8', 'numeric') ORDER BY 1"),
		"oid|typname|typlen", "20|int8|8", "1700|numeric|-1")
	wantTable(t, "pg_database", q("SELECT datname, datallowconn FROM pg_catalog.pg_database"), "datname|datallowconn", "sluice|t")
	wantTable(t, "pg_index", q("SELECT indrelid, indisprimary, indkey FROM pg_catalog.pg_index ORDER BY indrelid"),
		"indrelid|indisprimary|indkey", oidOf(t, eng, "events")+"|t|1", oidOf(t, eng, "totals")+"|f|1")
	wantTable(t, "pg_attribute", q("SELECT attname, atttypid, atttypmod, attnotnull FROM pg_attribute WHERE attrelid = "+oidOf(t, eng, "events")+" AND attnum <= 3 AND attnum > 0"),
		"attname|atttypid|atttypmod|attnotnull", "id|20|-1|t", "user_id|20|-1|f", "amount|1700|655366|f")
	wantTable(t, "count", q("SELECT count(*) FROM information_schema.tables"), "count", "4")
	wantTable(t, "limit", q("SELECT table_name FROM information_schema.tables ORDER BY 1 LIMIT 2 OFFSET 1"), "table_name", "clicks", "events")
	wantTable(t, "like", q("SELECT tablename FROM pg_catalog.pg_tables WHERE tablename LIKE 'ev%'"), "tablename", "events")
	wantTable(t, "matviews", q("SELECT matviewname, definition FROM pg_matviews WHERE matviewname = 'big_clicks'"),
		"matviewname|definition", "big_clicks| SELECT user_id, item_id FROM clicks WHERE item_id > 100;")
	wantTable(t, "empty", q("SELECT extname FROM pg_catalog.pg_extension"), "extname")
	wantTable(t, "schemata", q("SELECT schema_name FROM information_schema.schemata WHERE schema_name <> 'pg_catalog' ORDER BY schema_name"),
		"schema_name", "information_schema", "public")
	wantTable(t, "roles", q("SELECT rolname, rolsuper FROM pg_roles"), "rolname|rolsuper", "sluice|t")
	wantTable(t, "star", q("SELECT * FROM pg_am WHERE amtype = 'i'"), "oid|amname|amhandler|amtype", "403|btree|bthandler|i")
}
