// Package pgcatalog emulates the parts of PostgreSQL's catalog and session
// state that Postgres clients read: SET/SHOW/RESET of run-time parameters,
// version(), current_database() and friends, the pg_catalog relations and
// information_schema views that psql's \d family, pgjdbc's metadata calls
// and tools query, answered from the live Sluice catalog.
//
// Sluice's SQL dialect cannot run the SQL clients send for this (regex
// operators, ::regclass casts, correlated subqueries), so Answer
// recognises those queries structurally: it normalizes the text
// (whitespace, case outside quotes, comments), identifies the family of a
// query by its shape, extracts its parameters (name patterns, OIDs, LIKE
// patterns, relkind lists) with regular expressions, and computes each
// select item of the query from the catalog. A query that names a catalog
// but is not recognised fails with 0A000 rather than being answered
// wrongly.
//
// Object identifiers: a table or materialized view has OID 16384 +
// Relation.ID; namespaces pg_catalog 11, public 2200, information_schema
// 13000; the database 5; the one role 10. All Sluice objects live in
// schema public.
package pgcatalog

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/types"
)

// Settings is a session's run-time parameters (the wire session implements it).
type Settings interface {
	Get(name string) (string, bool) // case-insensitive
	Set(name, value string) error   // SET name = value / TO value; SET LOCAL/SESSION too
	All() [][2]string               // for SHOW ALL and pg_settings
}

// Defaults lists the ParameterStatus values sent at startup and the initial
// settings: the parameters PostgreSQL 15 reports to clients (GUC_REPORT).
// A session should send a new ParameterStatus when Answer changes one of
// them (via Settings.Set). Parameters not listed here start at built-in
// defaults that Answer supplies when Settings.Get reports them unset.
//
// Answer passes Settings.Set canonical names (DateStyle, TimeZone,
// statement_timeout...) and stored values: statement_timeout,
// idle_session_timeout, lock_timeout and idle_in_transaction_session_timeout
// are stored as whole milliseconds ("0" = none).
func Defaults() [][2]string {
	out := make([][2]string, 0, len(reportedSettings))
	for _, name := range reportedSettings {
		out = append(out, [2]string{name, lookup(name).def})
	}
	return out
}

// Answer answers a statement that reads the emulated catalog or session state:
// SET/SHOW/RESET, version(), current_database(), current_schema(), current_user,
// pg_catalog.* and information_schema.* queries, psql's \d family, pgjdbc metadata.
// handled=false means "not mine: execute it normally". sql is one statement's text.
//
// A session may validate startup parameters by answering "SET name = 'value'".
func Answer(ctx context.Context, eng *executor.Engine, s Settings, sql string) (res *executor.Result, handled bool, err error) {
	kw := firstKeyword(sql)
	switch kw {
	case "set", "reset", "show", "discard":
	case "select":
		if !mayBeCatalog(sql) {
			return nil, false, nil
		}
	default:
		return nil, false, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, true, fmt.Errorf("pgcatalog: %w", err)
	}
	q := normalize(sql)
	ss := &sessionSettings{s: s}
	switch kw {
	case "set":
		res, err := handleSet(ss, q)
		return res, true, err
	case "reset":
		res, err := handleReset(ss, q)
		return res, true, err
	case "show":
		return handleShow(ss, q)
	case "discard":
		if q == "discard all" {
			if _, err := handleReset(ss, "reset all"); err != nil {
				return nil, true, err
			}
			return &executor.Result{Tag: "DISCARD ALL"}, true, nil
		}
		return nil, false, nil
	}
	defer func() {
		if p := recover(); p != nil {
			res, handled, err = nil, true, fmt.Errorf("pgcatalog: internal error answering catalog query: %v", p)
		}
	}()
	sn := takeSnapshot(eng, ss)
	if res, ok, err := functionSelect(q, sn); ok || err != nil {
		return res, true, err
	}
	if !namesCatalog(q) {
		return nil, false, nil
	}
	for _, rec := range recognisers {
		if res, ok, err := rec(q, sn); ok || err != nil {
			return res, true, err
		}
	}
	if res, ok, err := evalSimple(q, sn); ok || err != nil {
		return res, true, err
	}
	return nil, true, unsupported(q)
}

// statementKeywords are the first words of statements Answer may handle.
var statementKeywords = []string{"select", "set", "reset", "show", "discard"}

// firstKeyword returns the statement's first word if it is one of
// statementKeywords (lower case), skipping whitespace, comments and
// opening parentheses; otherwise "".
func firstKeyword(sql string) string {
	i := 0
	for i < len(sql) {
		switch c := sql[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(':
			i++
		case strings.HasPrefix(sql[i:], "--"):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i:], "*/")
			if j < 0 {
				return ""
			}
			i += j + 2
		default:
			j := i
			for j < len(sql) && (sql[j] >= 'a' && sql[j] <= 'z' || sql[j] >= 'A' && sql[j] <= 'Z') {
				j++
			}
			for _, kw := range statementKeywords {
				if j-i == len(kw) && hasFoldAt(sql, i, kw) {
					return kw
				}
			}
			return ""
		}
	}
	return ""
}

// mayBeCatalog reports whether a SELECT can be a catalog or session
// query: it must contain "pg_", "information_schema", "current_",
// "set_config", or the words "version" or "user". Checking this first
// keeps Answer cheap for ordinary queries.
func mayBeCatalog(sql string) bool {
	for i := 0; i < len(sql); i++ {
		switch sql[i] | 0x20 { // ASCII lower case (harmless for other bytes)
		case 'p':
			if hasFoldAt(sql, i, "pg_") {
				return true
			}
		case 'i':
			if hasFoldAt(sql, i, "information_schema") {
				return true
			}
		case 'c':
			if hasFoldAt(sql, i, "current_") {
				return true
			}
		case 's':
			if hasFoldAt(sql, i, "set_config") {
				return true
			}
		case 'v':
			if hasFoldAt(sql, i, "version") && wordAt(sql, i, len("version")) {
				return true
			}
		case 'u':
			if hasFoldAt(sql, i, "user") && wordAt(sql, i, len("user")) {
				return true
			}
		}
	}
	return false
}

// hasFoldAt reports whether s[i:] starts with the lower-case ASCII word w,
// ignoring ASCII case.
func hasFoldAt(s string, i int, w string) bool {
	if len(s)-i < len(w) {
		return false
	}
	for j := 0; j < len(w); j++ {
		c := s[i+j]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[j] {
			return false
		}
	}
	return true
}

// wordAt reports whether s[i:i+n] is a whole identifier.
func wordAt(s string, i, n int) bool {
	return (i == 0 || !isIdentByte(s[i-1]) && s[i-1] != '.') && (i+n == len(s) || !isIdentByte(s[i+n]))
}

var reCatalogName = regexp.MustCompile(`\b(?:from|join|,) ?(pg_[a-z_]+)\b`)

// namesCatalog reports whether a normalized query reads catalog relations.
func namesCatalog(q string) bool {
	if strings.Contains(q, "pg_catalog.") || strings.Contains(q, "information_schema.") {
		return true
	}
	for _, m := range reCatalogName.FindAllStringSubmatch(q, -1) {
		if vtables[m[1]] != nil || emptyCatalogs[m[1]] {
			return true
		}
	}
	return false
}

// Function selects: SELECT f(...) [AS x], ... without FROM, where every
// item is a session or catalog function.
var (
	reFnNoArgs   = regexp.MustCompile(`^(?:pg_catalog\.)?(version|current_database|current_schema|current_user|session_user|pg_is_in_recovery|pg_backend_pid)\(\)$`)
	reSQLValue   = regexp.MustCompile(`^(current_user|session_user|user|current_role|current_catalog|current_schema)$`)
	reCurSetting = regexp.MustCompile(`^(?:pg_catalog\.)?current_setting\(` + literalPattern + `(?:,(true|false))?\)$`)
	reSetConfig  = regexp.MustCompile(`^(?:pg_catalog\.)?set_config\(` + literalPattern + `,` + literalPattern + `,(true|false)\)$`)
	reSchemas    = regexp.MustCompile(`^(?:pg_catalog\.)?current_schemas\((true|false)\)$`)
	reViewDefFn  = regexp.MustCompile(`^(?:pg_catalog\.)?pg_get_viewdef\('?(\d+)'?(?:::(?:pg_catalog\.)?oid)?(?:,(true|false))?\)$`)
)

// functionSelect answers a FROM-less SELECT of session functions; ok is
// false when some item is not one.
func functionSelect(q string, sn *snapshot) (*executor.Result, bool, error) {
	items, from, ok := selectParts(q)
	if !ok || from != "" || len(items) == 0 {
		return nil, false, nil
	}
	type call struct {
		name string
		eval func() (types.Datum, error)
	}
	calls := make([]call, len(items))
	for i, it := range items {
		expr := strings.TrimSpace(stripAlias(it))
		name := columnName(it)
		var eval func() (types.Datum, error)
		var m []string
		switch {
		case reFnNoArgs.MatchString(expr):
			m = reFnNoArgs.FindStringSubmatch(expr)
			fn := m[1]
			if fn == "pg_backend_pid" {
				return nil, false, nil
			}
			eval = func() (types.Datum, error) { return sessionValue(fn, sn), nil }
		case reSQLValue.MatchString(expr):
			eval = func() (types.Datum, error) { return sessionValue(expr, sn), nil }
		case reCurSetting.MatchString(expr):
			m = reCurSetting.FindStringSubmatch(expr)
			param, _ := unquoteLiteral(m[1])
			missingOK := m[2] == "true"
			eval = func() (types.Datum, error) {
				v, _, err := sn.set.display(param)
				if err != nil {
					if missingOK {
						return nullText, nil
					}
					return types.Datum{}, err
				}
				return txt(v), nil
			}
		case reSetConfig.MatchString(expr):
			m = reSetConfig.FindStringSubmatch(expr)
			param, _ := unquoteLiteral(m[1])
			value, _ := unquoteLiteral(m[2])
			eval = func() (types.Datum, error) {
				if err := sn.set.set(param, value, false); err != nil {
					return types.Datum{}, err
				}
				v, _, err := sn.set.display(param)
				return txt(v), err
			}
		case reSchemas.MatchString(expr):
			implicit := reSchemas.FindStringSubmatch(expr)[1] == "true"
			eval = func() (types.Datum, error) {
				var list []string
				if implicit {
					list = append(list, "pg_catalog")
				}
				if s := currentSchema(sn); s != "" && s != "pg_catalog" {
					list = append(list, s)
				}
				return txt("{" + strings.Join(list, ",") + "}"), nil
			}
		case reViewDefFn.MatchString(expr):
			oid, _ := strconv.ParseInt(reViewDefFn.FindStringSubmatch(expr)[1], 10, 64)
			eval = func() (types.Datum, error) {
				if r := sn.byOID(oid); r != nil && r.kind == "m" {
					return txt(r.viewQuery()), nil
				}
				return nullText, nil
			}
		default:
			if strings.Contains(expr, "pg_catalog.") {
				return nil, false, unsupported(q)
			}
			return nil, false, nil
		}
		calls[i] = call{name, eval}
	}
	res := &executor.Result{Columns: make([]executor.ResultColumn, len(calls)), Rows: [][]types.Datum{make([]types.Datum, len(calls))}}
	for i, c := range calls {
		d, err := c.eval()
		if err != nil {
			return nil, true, err
		}
		t := tText
		if d.Kind == types.Boolean {
			t = tBool
		}
		res.Columns[i] = executor.ResultColumn{Name: c.name, Type: t}
		res.Rows[0][i] = d
	}
	return tagged(res), true, nil
}

// sessionValue computes a no-argument session function.
func sessionValue(fn string, sn *snapshot) types.Datum {
	switch fn {
	case "version":
		return txt(versionString)
	case "current_database", "current_catalog":
		return txt(databaseName)
	case "current_schema":
		if s := currentSchema(sn); s != "" {
			return txt(s)
		}
		return nullText
	case "pg_is_in_recovery":
		return boolean(false)
	}
	return txt(sn.user) // current_user, session_user, user, current_role
}

// currentSchema is the first schema of search_path that exists.
func currentSchema(sn *snapshot) string {
	path, _, _ := sn.set.get("search_path")
	for _, p := range strings.Split(path, ",") {
		p = strings.Trim(strings.TrimSpace(p), `"`)
		for _, n := range namespaces {
			if p == n.name {
				return p
			}
		}
	}
	return ""
}
