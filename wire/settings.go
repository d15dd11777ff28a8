package wire

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicedb/sluice/wire/pgcatalog"
)

// settings implements pgcatalog.Settings.
var _ pgcatalog.Settings = (*settings)(nil)

// reportedNames are the settings sent as ParameterStatus at startup and
// again whenever they change.
var reportedNames = []string{
	"application_name", "client_encoding", "DateStyle", "default_transaction_read_only",
	"in_hot_standby", "integer_datetimes", "IntervalStyle", "is_superuser", "server_encoding",
	"server_version", "server_version_num", "session_authorization", "standard_conforming_strings", "TimeZone",
}

// fallbackDefaults are used for reported settings the catalog does not
// list.
var fallbackDefaults = map[string]string{
	"application_name": "", "client_encoding": "UTF8", "DateStyle": "ISO, MDY",
	"default_transaction_read_only": "off", "in_hot_standby": "off", "integer_datetimes": "on",
	"IntervalStyle": "postgres", "is_superuser": "on", "server_encoding": "UTF8",
	"server_version": "15.0 (Sluice)", "server_version_num": "150000", "session_authorization": "sluice",
	"standard_conforming_strings": "on", "TimeZone": "UTC",
}

// settings is a session's run-time parameters; it implements
// pgcatalog.Settings. Names are case-insensitive; the first spelling seen
// is kept for All. Only the session goroutine uses it.
type settings struct {
	vals     map[string][2]string // lower-cased name → {name, value}
	reported map[string]string    // lower-cased name → value last sent
}

func newSettings() *settings {
	s := &settings{vals: map[string][2]string{}, reported: map[string]string{}}
	for _, kv := range pgcatalog.Defaults() {
		s.Set(kv[0], kv[1])
	}
	for _, n := range reportedNames {
		if _, ok := s.Get(n); !ok {
			s.Set(n, fallbackDefaults[n])
		}
	}
	return s
}

// Get returns a setting's value.
func (s *settings) Get(name string) (string, bool) {
	v, ok := s.vals[strings.ToLower(name)]
	return v[1], ok
}

// Set stores a setting's value (the catalog emulation validates values).
func (s *settings) Set(name, value string) error {
	key := strings.ToLower(name)
	if old, ok := s.vals[key]; ok {
		name = old[0]
	}
	s.vals[key] = [2]string{name, value}
	return nil
}

// All lists every setting, sorted by name.
func (s *settings) All() [][2]string {
	out := make([][2]string, 0, len(s.vals))
	for _, v := range s.vals {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i][0]) < strings.ToLower(out[j][0]) })
	return out
}

// reportedValues returns the reported settings whose values changed since
// the last call (all of them the first time), and records them as sent.
func (s *settings) reportedValues() [][2]string {
	var out [][2]string
	for _, n := range reportedNames {
		key := strings.ToLower(n)
		v, ok := s.vals[key]
		if !ok {
			continue
		}
		if old, sent := s.reported[key]; sent && old == v[1] {
			continue
		}
		s.reported[key] = v[1]
		out = append(out, [2]string{v[0], v[1]})
	}
	return out
}

// statementTimeout is the session's statement_timeout if set (an integer
// is milliseconds, as in Postgres; units ms, s, min are understood), else
// def.
func (s *settings) statementTimeout(def time.Duration) time.Duration {
	v, ok := s.Get("statement_timeout")
	if !ok {
		return def
	}
	v = strings.TrimSpace(strings.Trim(v, "'"))
	if v == "" || v == "0" {
		return def
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond
	}
	if d, err := time.ParseDuration(strings.ReplaceAll(strings.ReplaceAll(v, " ", ""), "min", "m")); err == nil {
		return d
	}
	return def
}
