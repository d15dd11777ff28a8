package pgcatalog

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// SQLSTATE codes used here that sqlerr does not name.
const (
	codeUndefinedObject = "42704"
	codeCantChange      = "55P02"
)

// setting is one run-time parameter Sluice knows.
type setting struct {
	name     string // canonical spelling, as SHOW ALL prints it
	def      string
	desc     string
	readOnly bool
	// check validates a value and returns its stored form; nil accepts any.
	check func(s *setting, v string) (string, error)
	// show formats a stored value for SHOW; nil shows it as stored.
	show func(v string) string
}

// settingList is every parameter SET and SHOW accept. Parameters whose
// effect Sluice does not implement are stored and shown but change nothing;
// their descriptions say so.
var settingList = []setting{
	{name: "application_name", def: "", desc: "Sets the application name to be reported in statistics and logs."},
	{name: "bytea_output", def: "hex", desc: "Sets the output format for bytea (Sluice has no bytea values; stored only).", check: oneOf("hex", "escape")},
	{name: "check_function_bodies", def: "on", desc: "Check routine bodies during CREATE FUNCTION (stored only).", check: checkBool},
	{name: "client_encoding", def: "UTF8", desc: "Sets the client's character set encoding (only UTF8 is supported).", check: checkEncoding},
	{name: "client_min_messages", def: "notice", desc: "Sets the message levels that are sent to the client (stored only).",
		check: oneOf("debug5", "debug4", "debug3", "debug2", "debug1", "debug", "log", "notice", "warning", "error")},
	{name: "DateStyle", def: "ISO, MDY", desc: "Sets the display format for date and time values (only ISO output is supported).", check: checkDateStyle},
	{name: "default_transaction_isolation", def: "read committed", desc: "Sets the transaction isolation level of each new transaction (stored only).", check: checkIsolation},
	{name: "default_transaction_read_only", def: "off", desc: "Sets the default read-only status of new transactions (stored only).", check: checkBool},
	{name: "escape_string_warning", def: "on", desc: "Warn about backslash escapes in ordinary string literals (stored only).", check: checkBool},
	{name: "extra_float_digits", def: "1", desc: "Sets the number of digits displayed for floating-point values (Sluice always prints the shortest exact form).", check: checkIntRange(-15, 3)},
	{name: "idle_in_transaction_session_timeout", def: "0", desc: "Sets the maximum allowed idle time inside a transaction, in milliseconds (stored only).", check: checkDuration, show: showDuration},
	{name: "idle_session_timeout", def: "0", desc: "Sets the maximum allowed idle time between queries, in milliseconds; the server's limit applies.", check: checkDuration, show: showDuration},
	{name: "in_hot_standby", def: "off", desc: "Shows whether hot standby is currently active.", readOnly: true},
	{name: "integer_datetimes", def: "on", desc: "Shows whether datetimes are integer based.", readOnly: true},
	{name: "IntervalStyle", def: "postgres", desc: "Sets the display format for interval values (only postgres is supported).", check: oneOf("postgres")},
	{name: "is_superuser", def: "on", desc: "Shows whether the current user is a superuser.", readOnly: true},
	{name: "jit", def: "off", desc: "Allow JIT compilation (stored only).", check: checkBool},
	{name: "lc_collate", def: "C", desc: "Shows the collation order locale.", readOnly: true},
	{name: "lc_ctype", def: "C", desc: "Shows the character classification and case conversion locale.", readOnly: true},
	{name: "lc_messages", def: "C", desc: "Sets the language in which messages are displayed (stored only)."},
	{name: "lc_monetary", def: "C", desc: "Sets the locale for formatting monetary amounts (stored only)."},
	{name: "lc_numeric", def: "C", desc: "Sets the locale for formatting numbers (stored only)."},
	{name: "lc_time", def: "C", desc: "Sets the locale for formatting date and time values (stored only)."},
	{name: "lock_timeout", def: "0", desc: "Sets the maximum allowed duration of any wait for a lock, in milliseconds (stored only).", check: checkDuration, show: showDuration},
	{name: "max_identifier_length", def: "63", desc: "Shows the maximum identifier length.", readOnly: true},
	{name: "max_parallel_workers_per_gather", def: "2", desc: "Sets the maximum number of parallel processes per executor node (stored only).", check: checkIntRange(0, 1024)},
	{name: "row_security", def: "on", desc: "Enable row security (stored only).", check: checkBool},
	{name: "search_path", def: `"$user", public`, desc: "Sets the schema search order for names that are not schema-qualified (Sluice objects all live in public)."},
	{name: "server_encoding", def: "UTF8", desc: "Shows the server (database) character set encoding.", readOnly: true},
	{name: "server_version", def: serverVersion, desc: "Shows the server version.", readOnly: true},
	{name: "server_version_num", def: serverVersionNo, desc: "Shows the server version as an integer.", readOnly: true},
	{name: "session_authorization", def: defaultUser, desc: "Shows the session user name.", readOnly: true},
	{name: "standard_conforming_strings", def: "on", desc: "Causes '...' strings to treat backslashes literally (only on is supported).", check: oneOf("on")},
	{name: "statement_timeout", def: "0", desc: "Sets the maximum allowed duration of any statement, in milliseconds (0 = none).", check: checkDuration, show: showDuration},
	{name: "synchronize_seqscans", def: "on", desc: "Enable synchronized sequential scans (stored only).", check: checkBool},
	{name: "TimeZone", def: "UTC", desc: "Sets the time zone for displaying and interpreting time stamps (Sluice has only timestamps without time zone, which it does not affect).", check: checkTimeZone},
	{name: "transaction_isolation", def: "read committed", desc: "Sets the current transaction's isolation level (stored only).", check: checkIsolation},
	{name: "transaction_read_only", def: "off", desc: "Sets the current transaction's read-only status (stored only).", check: checkBool},
	{name: "work_mem", def: "4MB", desc: "Sets the maximum memory to be used for query workspaces (stored only)."},
	{name: "xmloption", def: "content", desc: "Sets whether XML data is to be considered as documents or content fragments (stored only).", check: oneOf("content", "document")},
}

var settingIndex = func() map[string]*setting {
	m := make(map[string]*setting, len(settingList))
	for i := range settingList {
		m[strings.ToLower(settingList[i].name)] = &settingList[i]
	}
	return m
}()

// reportedSettings are sent as ParameterStatus at startup (the GUC_REPORT
// parameters of PostgreSQL 15).
var reportedSettings = []string{
	"application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
	"in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser", "server_encoding",
	"server_version", "session_authorization", "standard_conforming_strings", "TimeZone",
}

func invalidValue(s *setting, v string) *sqlerr.Error {
	return sqlerr.Execf(sqlerr.InvalidParameter, "invalid value for parameter %q: %q", s.name, v)
}

func oneOf(allowed ...string) func(*setting, string) (string, error) {
	return func(s *setting, v string) (string, error) {
		lv := strings.ToLower(strings.TrimSpace(v))
		if s.name == "standard_conforming_strings" {
			if b, ok := parseBool(lv); ok {
				lv = b
			}
		}
		for _, a := range allowed {
			if lv == a {
				return a, nil
			}
		}
		err := invalidValue(s, v)
		err.Hint = "Available values: " + strings.Join(allowed, ", ") + "."
		return "", err
	}
}

func parseBool(v string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1", "t", "y":
		return "on", true
	case "off", "false", "no", "0", "f", "n":
		return "off", true
	}
	return "", false
}

func checkBool(s *setting, v string) (string, error) {
	if b, ok := parseBool(v); ok {
		return b, nil
	}
	return "", sqlerr.Execf(sqlerr.InvalidParameter, "parameter %q requires a Boolean value", s.name)
}

func checkIntRange(lo, hi int64) func(*setting, string) (string, error) {
	return func(s *setting, v string) (string, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return "", invalidValue(s, v)
		}
		if n < lo || n > hi {
			return "", sqlerr.Execf(sqlerr.InvalidParameter, "%d is outside the valid range for parameter %q (%d .. %d)", n, s.name, lo, hi)
		}
		return strconv.FormatInt(n, 10), nil
	}
}

func checkEncoding(s *setting, v string) (string, error) {
	switch strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(v), "-", "")) {
	case "UTF8", "UNICODE":
		return "UTF8", nil
	}
	err := invalidValue(s, v)
	err.Detail = "Sluice supports only the UTF8 client encoding."
	return "", err
}

func checkDateStyle(s *setting, v string) (string, error) {
	style, order := "ISO", "MDY"
	for _, p := range strings.Split(v, ",") {
		switch strings.ToUpper(strings.TrimSpace(p)) {
		case "ISO":
		case "MDY", "US", "NONEURO", "NONEUROPEAN":
			order = "MDY"
		case "DMY", "EURO", "EUROPEAN":
			order = "DMY"
		case "YMD":
			order = "YMD"
		case "DEFAULT":
			order = "MDY"
		default:
			err := invalidValue(s, v)
			err.Detail = "Sluice prints dates and times only in ISO style."
			return "", err
		}
	}
	return style + ", " + order, nil
}

var reTimeZone = regexp.MustCompile(`^[A-Za-z0-9_+\-/:.]+$`)

func checkTimeZone(s *setting, v string) (string, error) {
	v = strings.TrimSpace(v)
	switch strings.ToUpper(v) {
	case "UTC", "GMT", "Z", "ZULU", "ETC/UTC", "UCT", "+00", "+00:00", "0":
		return "UTC", nil
	}
	if !reTimeZone.MatchString(v) {
		return "", invalidValue(s, v)
	}
	return v, nil
}

func checkIsolation(s *setting, v string) (string, error) {
	v = strings.Join(strings.Fields(strings.ToLower(v)), " ")
	switch v {
	case "read uncommitted", "read committed", "repeatable read", "serializable":
		return v, nil
	}
	return "", invalidValue(s, v)
}

var reDuration = regexp.MustCompile(`^\s*(-?\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$`)

// checkDuration stores a time parameter as whole milliseconds.
func checkDuration(s *setting, v string) (string, error) {
	m := reDuration.FindStringSubmatch(strings.ToLower(v))
	if m == nil {
		return "", invalidValue(s, v)
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return "", invalidValue(s, v)
	}
	scale := map[string]float64{"": 1, "ms": 1, "us": 0.001, "s": 1e3, "min": 60e3, "h": 3600e3, "d": 86400e3}[m[2]]
	ms := f * scale
	if ms < 0 || ms > 2147483647 {
		return "", sqlerr.Execf(sqlerr.InvalidParameter, "%s is outside the valid range for parameter %q (0 .. 2147483647)", strings.TrimSpace(v), s.name)
	}
	return strconv.FormatInt(int64(ms), 10), nil
}

// showDuration prints milliseconds as Postgres does: the largest unit
// that divides the value.
func showDuration(v string) string {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n == 0 {
		return v
	}
	for _, u := range []struct {
		ms   int64
		name string
	}{{86400000, "d"}, {3600000, "h"}, {60000, "min"}, {1000, "s"}} {
		if n%u.ms == 0 {
			return strconv.FormatInt(n/u.ms, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "ms"
}

// sessionSettings reads a session's settings, falling back to defaults.
type sessionSettings struct{ s Settings }

// lookup returns the known setting named name (any case), or nil.
func lookup(name string) *setting { return settingIndex[strings.ToLower(name)] }

// get returns a setting's stored value and its canonical name.
func (ss *sessionSettings) get(name string) (value, canonical string, ok bool) {
	st := lookup(name)
	if st != nil {
		canonical = st.name
	} else if strings.Contains(name, ".") {
		canonical = strings.ToLower(name)
	} else {
		return "", "", false
	}
	if ss.s != nil {
		if v, ok := ss.s.Get(canonical); ok {
			return v, canonical, true
		}
	}
	if st != nil {
		return st.def, canonical, true
	}
	return "", "", false
}

// display returns the value SHOW prints.
func (ss *sessionSettings) display(name string) (value, canonical string, err error) {
	v, c, ok := ss.get(name)
	if !ok {
		return "", "", unrecognized(name)
	}
	if st := lookup(c); st != nil && st.show != nil {
		v = st.show(v)
	}
	return v, c, nil
}

func (ss *sessionSettings) user() string {
	if v, _, ok := ss.get("session_authorization"); ok && v != "" {
		return v
	}
	return defaultUser
}

// set validates and stores a value; value "" with reset set means DEFAULT.
func (ss *sessionSettings) set(name, value string, reset bool) error {
	st := lookup(name)
	canonical := ""
	switch {
	case st != nil:
		canonical = st.name
	case strings.Contains(name, ".") && !strings.HasPrefix(name, ".") && !strings.HasSuffix(name, "."):
		canonical = strings.ToLower(name)
	default:
		return unrecognized(name)
	}
	if st != nil && st.readOnly {
		return sqlerr.Execf(codeCantChange, "parameter %q cannot be changed", st.name)
	}
	if reset {
		if st != nil {
			value = st.def
		} else {
			value = ""
		}
	} else if st != nil && st.check != nil {
		v, err := st.check(st, value)
		if err != nil {
			return err
		}
		value = v
	}
	if ss.s == nil {
		return nil
	}
	if err := ss.s.Set(canonical, value); err != nil {
		return fmt.Errorf("set %s: %w", canonical, err)
	}
	return nil
}

func unrecognized(name string) *sqlerr.Error {
	return sqlerr.Execf(codeUndefinedObject, "unrecognized configuration parameter %q", name)
}

// all lists every setting with its display value: the known ones, then
// custom (dotted) ones the session holds, sorted by name.
func (ss *sessionSettings) all() [][3]string {
	var out [][3]string
	seen := map[string]bool{}
	for i := range settingList {
		st := &settingList[i]
		v, _, _ := ss.display(st.name)
		out = append(out, [3]string{st.name, v, st.desc})
		seen[strings.ToLower(st.name)] = true
	}
	if ss.s != nil {
		for _, kv := range ss.s.All() {
			if !seen[strings.ToLower(kv[0])] && strings.Contains(kv[0], ".") {
				out = append(out, [3]string{strings.ToLower(kv[0]), kv[1], ""})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i][0]) < strings.ToLower(out[j][0]) })
	return out
}

var (
	reSetTimeZone = regexp.MustCompile(`^(?:session |local )?time zone (.+)$`)
	reSetAssign   = regexp.MustCompile(`^(?:session |local )?("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*(?:\.[a-z_][a-z0-9_$]*)*)\s*(?:=|\bto\b)\s*(.*)$`)
)

// handleSet answers SET (q is normalized, starting with "set ").
func handleSet(ss *sessionSettings, q string) (*executor.Result, error) {
	body := strings.TrimPrefix(q, "set ")
	done := &executor.Result{Tag: "SET"}
	switch {
	case strings.HasPrefix(body, "transaction ") || strings.HasPrefix(body, "session characteristics as transaction "):
		return done, nil // isolation and access mode: Sluice reads a committed epoch
	case strings.HasPrefix(body, "session authorization ") || strings.HasPrefix(body, "role "):
		arg := body[strings.LastIndexByte(body, ' ')+1:]
		if arg == "default" || arg == "none" {
			return done, nil
		}
		return nil, sqlerr.Execf(sqlerr.FeatureNotSupported, "SET %s is not supported", strings.ToUpper(strings.TrimSuffix(body, " "+arg)))
	case strings.HasPrefix(body, "names "):
		v, _ := setValue("client_encoding", body[len("names "):])
		return done, ss.set("client_encoding", v, v == "")
	case strings.HasPrefix(body, "schema "):
		v, _ := setValue("search_path", body[len("schema "):])
		return done, ss.set("search_path", v, false)
	}
	if m := reSetTimeZone.FindStringSubmatch(body); m != nil {
		arg := m[1]
		if arg == "local" || arg == "default" {
			return done, ss.set("TimeZone", "", true)
		}
		v, _ := setValue("TimeZone", arg)
		return done, ss.set("TimeZone", v, false)
	}
	m := reSetAssign.FindStringSubmatch(body)
	if m == nil {
		return nil, sqlerr.New(sqlerr.Parse, sqlerr.SyntaxError, "syntax error in SET: expected SET name = value or SET name TO value")
	}
	name := strings.ReplaceAll(strings.Trim(m[1], `"`), `""`, `"`)
	v, isDefault := setValue(name, m[2])
	if strings.TrimSpace(m[2]) == "" {
		return nil, sqlerr.New(sqlerr.Parse, sqlerr.SyntaxError, "syntax error in SET: missing value for %q", name)
	}
	return done, ss.set(name, v, isDefault)
}

// setValue turns the normalized value list of a SET into the stored text.
func setValue(name, raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "default" {
		return "", true
	}
	keepQuotes := strings.EqualFold(name, "search_path")
	var parts []string
	for _, p := range splitTop(raw, ",") {
		p = strings.TrimSpace(p)
		if v, ok := unquoteLiteral(p); ok {
			p = v
		} else if strings.HasPrefix(p, `"`) && strings.HasSuffix(p, `"`) && len(p) >= 2 && !keepQuotes {
			p = strings.ReplaceAll(p[1:len(p)-1], `""`, `"`)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", "), false
}

// handleReset answers RESET name | RESET ALL.
func handleReset(ss *sessionSettings, q string) (*executor.Result, error) {
	name := strings.TrimSpace(strings.TrimPrefix(q, "reset "))
	done := &executor.Result{Tag: "RESET"}
	switch name {
	case "all":
		for i := range settingList {
			if !settingList[i].readOnly {
				if err := ss.set(settingList[i].name, "", true); err != nil {
					return nil, err
				}
			}
		}
		if ss.s != nil {
			for _, kv := range ss.s.All() {
				if lookup(kv[0]) == nil && strings.Contains(kv[0], ".") {
					if err := ss.set(kv[0], "", true); err != nil {
						return nil, err
					}
				}
			}
		}
		return done, nil
	case "time zone":
		name = "TimeZone"
	case "session authorization", "role":
		return done, nil
	}
	return done, ss.set(strings.Trim(name, `"`), "", true)
}

// engineShows are SHOW forms the engine answers itself.
var engineShows = []string{"tables", "materialized views", "sources", "sinks", "columns ", "fields ", "create ", "full ", "databases"}

// handleShow answers SHOW name | SHOW ALL; ok is false for the engine's
// own SHOW forms.
func handleShow(ss *sessionSettings, q string) (*executor.Result, bool, error) {
	arg := strings.TrimSpace(strings.TrimPrefix(q, "show "))
	for _, e := range engineShows {
		if arg == strings.TrimSpace(e) || strings.HasSuffix(e, " ") && strings.HasPrefix(arg, e) {
			return nil, false, nil
		}
	}
	if arg == "all" {
		r := &executor.Result{Tag: "SHOW", Columns: []executor.ResultColumn{
			{Name: "name", Type: tText}, {Name: "setting", Type: tText}, {Name: "description", Type: tText}}}
		for _, s := range ss.all() {
			r.Rows = append(r.Rows, []types.Datum{txt(s[0]), txt(s[1]), txt(s[2])})
		}
		return r, true, nil
	}
	switch arg {
	case "time zone":
		arg = "timezone"
	case "transaction isolation level":
		arg = "transaction_isolation"
	case "session authorization":
		arg = "session_authorization"
	}
	if strings.Contains(arg, " ") {
		return nil, false, nil
	}
	name := strings.ReplaceAll(strings.Trim(arg, `"`), `""`, `"`)
	v, canonical, err := ss.display(name)
	if err != nil {
		return nil, true, err
	}
	return &executor.Result{Tag: "SHOW", Columns: []executor.ResultColumn{{Name: canonical, Type: tText}},
		Rows: [][]types.Datum{{txt(v)}}}, true, nil
}
