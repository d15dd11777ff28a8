package pgcatalog

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/sqlerr"
)

// show returns the single value SHOW name answers, and its column name.
func show(t *testing.T, s Settings, name string) (string, string) {
	t.Helper()
	res := answer(t, nil, s, "SHOW "+name)
	if res.Tag != "SHOW" || len(res.Rows) != 1 || len(res.Columns) != 1 {
		t.Fatalf("SHOW %s: %+v", name, res)
	}
	return res.Rows[0][0].S, res.Columns[0].Name
}

func wantCode(t *testing.T, s Settings, sql, code string) {
	t.Helper()
	_, ok, err := Answer(context.Background(), nil, s, sql)
	if !ok || sqlerr.Code(err) != code {
		t.Errorf("%s: handled=%v err=%v, want code %s", sql, ok, err, code)
	}
}

func TestSetShowRoundTrips(t *testing.T) {
	s := newMapSettings()
	for _, c := range []struct{ set, name, show, stored string }{
		{"SET extra_float_digits = 3", "extra_float_digits", "3", "3"},
		{"set application_name to 'My App'", "application_name", "My App", "My App"},
		{"SET SESSION application_name = \"quoted\"", "application_name", "quoted", "quoted"},
		{"SET LOCAL DateStyle = 'ISO, DMY'", "datestyle", "ISO, DMY", "ISO, DMY"},
		{"SET datestyle TO iso", "DateStyle", "ISO, MDY", "ISO, MDY"},
		{"SET client_encoding = 'utf-8'", "client_encoding", "UTF8", "UTF8"},
		{"SET NAMES 'UNICODE'", "client_encoding", "UTF8", "UTF8"},
		{"SET statement_timeout = '5s'", "statement_timeout", "5s", "5000"},
		{"SET statement_timeout TO 1500", "statement_timeout", "1500ms", "1500"},
		{"SET statement_timeout = '2min'", "statement_timeout", "2min", "120000"},
		{"SET TIME ZONE 'Europe/Berlin'", "TimeZone", "Europe/Berlin", "Europe/Berlin"},
		{"SET timezone = 'utc'", "time zone", "UTC", "UTC"},
		{"SET search_path TO public, \"$user\"", "search_path", `public, "$user"`, `public, "$user"`},
		{"SET standard_conforming_strings = on", "standard_conforming_strings", "on", "on"},
		{"SET intervalstyle = 'postgres'", "IntervalStyle", "postgres", "postgres"},
		{"SET bytea_output = escape", "bytea_output", "escape", "escape"},
		{"SET jit = false", "jit", "off", "off"},
		{"SET myapp.tenant = 'acme'", "myapp.tenant", "acme", "acme"},
		{"/* driver */ SET default_transaction_isolation TO 'repeatable read'", "default_transaction_isolation", "repeatable read", "repeatable read"},
	} {
		res := answer(t, nil, s, c.set)
		if res.Tag != "SET" || res.HasRows() {
			t.Errorf("%s: %+v", c.set, res)
		}
		if got, _ := show(t, s, c.name); got != c.show {
			t.Errorf("%s; SHOW %s = %q, want %q", c.set, c.name, got, c.show)
		}
		canonical := lookup(c.name)
		key := c.name
		if canonical != nil {
			key = canonical.name
		} else if c.name == "time zone" {
			key = "TimeZone"
		}
		if got, _ := s.Get(key); got != c.stored {
			t.Errorf("%s: stored %s = %q, want %q", c.set, key, got, c.stored)
		}
	}
	// Canonical column names.
	if _, col := show(t, s, "datestyle"); col != "DateStyle" {
		t.Errorf("SHOW datestyle column %q", col)
	}
	if v, col := show(t, s, "TRANSACTION ISOLATION LEVEL"); col != "transaction_isolation" || v != "read committed" {
		t.Errorf("SHOW TRANSACTION ISOLATION LEVEL: %q %q", col, v)
	}
	if v, _ := show(t, s, "server_version"); v != "15.0" {
		t.Errorf("server_version %q", v)
	}
}

func TestSetErrors(t *testing.T) {
	s := newMapSettings()
	wantCode(t, s, "SET nosuch = 1", "42704")
	wantCode(t, s, "SHOW nosuch", "42704")
	wantCode(t, s, "SHOW myapp.unset", "42704")
	wantCode(t, s, "RESET nosuch", "42704")
	wantCode(t, s, "SET client_encoding = 'LATIN1'", "22023")
	wantCode(t, s, "SET DateStyle = 'SQL, DMY'", "22023")
	wantCode(t, s, "SET IntervalStyle = 'iso_8601'", "22023")
	wantCode(t, s, "SET standard_conforming_strings = off", "22023")
	wantCode(t, s, "SET extra_float_digits = 9", "22023")
	wantCode(t, s, "SET statement_timeout = 'soon'", "22023")
	wantCode(t, s, "SET jit = maybe", "22023")
	wantCode(t, s, "SET server_version = '16'", "55P02")
	wantCode(t, s, "SET statement_timeout", "42601")
	wantCode(t, s, "SET ROLE admin", "0A000")
	// A failed SET leaves the old value.
	if v, _ := s.Get("client_encoding"); v != "UTF8" {
		t.Errorf("client_encoding = %q after failed SET", v)
	}
	if _, ok := s.Get("statement_timeout"); ok {
		t.Error("statement_timeout stored after failed SET")
	}
}

func TestResetAndDefaults(t *testing.T) {
	s := newMapSettings()
	answer(t, nil, s, "SET statement_timeout = 1000")
	answer(t, nil, s, "SET application_name = 'x'")
	answer(t, nil, s, "SET a.b = 'c'")
	answer(t, nil, s, "RESET statement_timeout")
	if v, _ := s.Get("statement_timeout"); v != "0" {
		t.Errorf("after RESET: %q", v)
	}
	answer(t, nil, s, "SET statement_timeout TO DEFAULT")
	res := answer(t, nil, s, "RESET ALL")
	if res.Tag != "RESET" {
		t.Errorf("tag %q", res.Tag)
	}
	if v, _ := s.Get("application_name"); v != "" {
		t.Errorf("application_name after RESET ALL: %q", v)
	}
	if v, _ := s.Get("a.b"); v != "" {
		t.Errorf("a.b after RESET ALL: %q", v)
	}
	answer(t, nil, s, "SET application_name = 'y'")
	if res := answer(t, nil, s, "DISCARD ALL"); res.Tag != "DISCARD ALL" {
		t.Errorf("DISCARD ALL: %q", res.Tag)
	}
	if v, _ := s.Get("application_name"); v != "" {
		t.Errorf("application_name after DISCARD ALL: %q", v)
	}
	// Defaults are the reported parameters, with the values clients need.
	d := map[string]string{}
	for _, kv := range Defaults() {
		d[kv[0]] = kv[1]
	}
	for k, v := range map[string]string{"server_version": "15.0", "client_encoding": "UTF8", "DateStyle": "ISO, MDY",
		"integer_datetimes": "on", "standard_conforming_strings": "on", "TimeZone": "UTC", "server_encoding": "UTF8"} {
		if d[k] != v {
			t.Errorf("Defaults %s = %q, want %q", k, d[k], v)
		}
	}
	// Unset settings fall back to built-in defaults.
	empty := &mapSettings{m: map[string][2]string{}}
	if v, _ := show(t, empty, "search_path"); v != `"$user", public` {
		t.Errorf("default search_path %q", v)
	}
}

func TestShowAllAndEngineShows(t *testing.T) {
	s := newMapSettings()
	answer(t, nil, s, "SET statement_timeout = '3s'")
	answer(t, nil, s, "SET zz.custom = 'v'")
	res := answer(t, nil, s, "SHOW ALL")
	if got := strings.Join(table(res)[:1], ""); got != "name|setting|description" {
		t.Errorf("SHOW ALL header %q", got)
	}
	found := map[string]string{}
	for _, r := range res.Rows {
		found[r[0].S] = r[1].S
	}
	if found["statement_timeout"] != "3s" || found["zz.custom"] != "v" || found["DateStyle"] != "ISO, MDY" {
		t.Errorf("SHOW ALL rows: %v", found)
	}
	for _, q := range []string{"SHOW TABLES", "SHOW MATERIALIZED VIEWS", "SHOW SOURCES", "SHOW SINKS", "SHOW COLUMNS FROM t", "SHOW CREATE TABLE t"} {
		if _, ok, err := Answer(context.Background(), nil, s, q); ok || err != nil {
			t.Errorf("%s: handled=%v err=%v", q, ok, err)
		}
	}
	// pg_settings shows the same values.
	r := answer(t, nil, s, "SELECT name, setting, unit FROM pg_catalog.pg_settings WHERE name = 'statement_timeout'")
	wantTable(t, "pg_settings", table(r), "name|setting|unit", "statement_timeout|3000|ms")
}

func TestSettingFunctions(t *testing.T) {
	s := newMapSettings()
	wantTable(t, "set_config", table(answer(t, nil, s, "SELECT set_config('statement_timeout', '10s', false)")), "set_config", "10s")
	if v, _ := s.Get("statement_timeout"); v != "10000" {
		t.Errorf("stored %q", v)
	}
	wantTable(t, "current_setting", table(answer(t, nil, s, "select current_setting('statement_timeout') as t, pg_catalog.current_setting('server_version_num')")),
		"t|current_setting", "10s|150000")
	wantTable(t, "missing_ok", table(answer(t, nil, s, "SELECT current_setting('x.y', true)")), "current_setting", "∅")
	wantCode(t, s, "SELECT current_setting('nosuch')", "42704")
	wantCode(t, s, "SELECT set_config('client_encoding', 'SJIS', false)", "22023")
}
