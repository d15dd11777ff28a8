// Package slt reads and runs sqllogictest-style files:
//
//	statement ok
//	CREATE TABLE t (a BIGINT PRIMARY KEY)
//
//	statement error does not exist
//	SELECT * FROM missing
//
//	query IT rowsort
//	SELECT a, b FROM t
//	----
//	1 one
//	2 NULL
//
// A record's SQL runs to the first blank line (or "----" for queries).
// "statement error" and "query error" take a regular expression that must
// match the error text "SQLSTATE: message". Query results print one row per
// line, values separated by one space, NULL as NULL and the empty string as
// (empty); "rowsort" sorts the rows before comparing, "nosort" (the
// default) compares them in order. Lines starting with # are comments;
// "halt" stops the file.
package slt

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Kind is the kind of a record.
type Kind uint8

// The record kinds.
const (
	Statement Kind = iota
	Query
)

// Record is one test step.
type Record struct {
	Kind Kind
	Line int // 1-based line of the record's header
	SQL  string
	// ErrPattern, when set, is the error the SQL must fail with.
	ErrPattern *regexp.Regexp
	// Types is the query's column type string (one letter per column).
	Types    string
	RowSort  bool
	Expected []string
}

// ParseFile reads the records of a file.
func ParseFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return parse(path, lines)
}

func parse(path string, lines []string) ([]Record, error) {
	var out []Record
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line == "halt" {
			break
		}
		fields := strings.Fields(line)
		rec := Record{Line: i + 1}
		switch fields[0] {
		case "statement":
			rec.Kind = Statement
			if len(fields) < 2 || (fields[1] != "ok" && fields[1] != "error") {
				return nil, fmt.Errorf("%s:%d: want 'statement ok' or 'statement error <regexp>'", path, i+1)
			}
			if fields[1] == "error" {
				re, err := errPattern(line, "statement error")
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
				}
				rec.ErrPattern = re
			}
		case "query":
			rec.Kind = Query
			if len(fields) >= 2 && fields[1] == "error" {
				re, err := errPattern(line, "query error")
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
				}
				rec.ErrPattern = re
			} else {
				if len(fields) < 2 {
					return nil, fmt.Errorf("%s:%d: query needs a type string", path, i+1)
				}
				rec.Types = fields[1]
				for _, opt := range fields[2:] {
					switch opt {
					case "rowsort":
						rec.RowSort = true
					case "nosort":
					default:
						return nil, fmt.Errorf("%s:%d: unknown query option %q", path, i+1, opt)
					}
				}
			}
		default:
			return nil, fmt.Errorf("%s:%d: unexpected line %q", path, i+1, line)
		}
		// SQL lines.
		var sql []string
		i++
		for ; i < len(lines); i++ {
			l := lines[i]
			if strings.TrimSpace(l) == "" || (rec.Kind == Query && strings.TrimSpace(l) == "----") {
				break
			}
			sql = append(sql, l)
		}
		rec.SQL = strings.Join(sql, "\n")
		if rec.SQL == "" {
			return nil, fmt.Errorf("%s:%d: record without SQL", path, rec.Line)
		}
		if rec.Kind == Query && rec.ErrPattern == nil {
			if i >= len(lines) || strings.TrimSpace(lines[i]) != "----" {
				return nil, fmt.Errorf("%s:%d: query without ---- separator", path, rec.Line)
			}
			i++
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
				rec.Expected = append(rec.Expected, strings.TrimRight(lines[i], " \t"))
			}
		}
		out = append(out, rec)
	}
	return out, nil
}

func errPattern(line, prefix string) (*regexp.Regexp, error) {
	p := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), prefix))
	if p == "" {
		return nil, fmt.Errorf("error records need a pattern")
	}
	return regexp.Compile(p)
}

// Executor runs SQL for the runner.
type Executor interface {
	// Exec runs a statement that returns no rows (or whose rows are ignored).
	Exec(sql string) error
	// Query runs a query and returns its rows formatted as strings, one
	// slice of values per row.
	Query(sql string) ([][]string, error)
}

// FormatRows renders rows as result lines (sorted if rowsort).
func FormatRows(rows [][]string, rowsort bool) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		vals := make([]string, len(r))
		for j, v := range r {
			if v == "" {
				v = "(empty)"
			}
			vals[j] = v
		}
		out[i] = strings.Join(vals, " ")
	}
	if rowsort {
		sort.Strings(out)
	}
	return out
}

// Run executes records in order and returns a description of the first
// failure, or nil.
func Run(path string, recs []Record, ex Executor, errText func(error) string) error {
	for _, r := range recs {
		where := fmt.Sprintf("%s:%d", path, r.Line)
		switch {
		case r.Kind == Statement && r.ErrPattern == nil:
			if err := ex.Exec(r.SQL); err != nil {
				return fmt.Errorf("%s: statement failed: %s\n%s", where, errText(err), r.SQL)
			}
		case r.ErrPattern != nil:
			var err error
			if r.Kind == Query {
				_, err = ex.Query(r.SQL)
			} else {
				err = ex.Exec(r.SQL)
			}
			if err == nil {
				return fmt.Errorf("%s: expected error matching %q, got success\n%s", where, r.ErrPattern, r.SQL)
			}
			if !r.ErrPattern.MatchString(errText(err)) {
				return fmt.Errorf("%s: error %q does not match %q\n%s", where, errText(err), r.ErrPattern, r.SQL)
			}
		default:
			rows, err := ex.Query(r.SQL)
			if err != nil {
				return fmt.Errorf("%s: query failed: %s\n%s", where, errText(err), r.SQL)
			}
			for _, row := range rows {
				if len(row) != len(r.Types) {
					return fmt.Errorf("%s: query returned %d columns, type string %q has %d\n%s", where, len(row), r.Types, len(r.Types), r.SQL)
				}
			}
			got := FormatRows(rows, r.RowSort)
			want := r.Expected
			if r.RowSort {
				want = append([]string(nil), want...)
				sort.Strings(want)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				return fmt.Errorf("%s: wrong result\n%s\n--- want\n%s\n--- got\n%s", where, r.SQL, strings.Join(want, "\n"), strings.Join(got, "\n"))
			}
		}
	}
	return nil
}
