package pgcatalog

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// field says how to compute one select item of a recognised query from a
// row of type R: match recognises the item's text (normalized, alias
// included).
type field[R any] struct {
	match func(item string) bool
	typ   types.T
	val   func(R) types.Datum
}

// project builds a result from rows, one column per select item, each
// computed by the first field matching it. An item no field matches makes
// the query unsupported rather than answered wrongly.
func project[R any](items []string, fields []field[R], rows []R) (*executor.Result, error) {
	picked := make([]*field[R], len(items))
	res := &executor.Result{Columns: make([]executor.ResultColumn, len(items))}
	for i, it := range items {
		for j := range fields {
			if fields[j].match(it) {
				picked[i] = &fields[j]
				break
			}
		}
		if picked[i] == nil {
			return nil, unsupported(fmt.Sprintf("select item %q", it))
		}
		res.Columns[i] = executor.ResultColumn{Name: columnName(it), Type: picked[i].typ}
	}
	for _, r := range rows {
		row := make([]types.Datum, len(items))
		for i, f := range picked {
			row[i] = f.val(r)
		}
		res.Rows = append(res.Rows, row)
	}
	res.Tag = fmt.Sprintf("SELECT %d", len(res.Rows))
	return res, nil
}

// tagged sets a row result's command tag.
func tagged(r *executor.Result) *executor.Result {
	r.Tag = fmt.Sprintf("SELECT %d", len(r.Rows))
	return r
}

// emptyResult is a zero-row answer with one text column per select item.
func emptyResult(items []string) *executor.Result {
	res := &executor.Result{Tag: "SELECT 0", Columns: make([]executor.ResultColumn, len(items))}
	for i, it := range items {
		res.Columns[i] = executor.ResultColumn{Name: columnName(it), Type: tText}
	}
	return res
}

func unsupported(what string) error {
	if len(what) > 200 {
		what = what[:200] + "..."
	}
	return sqlerr.Execf(sqlerr.FeatureNotSupported, "catalog query not supported: %s", what)
}

// Item matchers.

// is matches an item whose text, without its alias, is one of exprs.
func is(exprs ...string) func(string) bool {
	return func(it string) bool {
		e := strings.TrimSpace(stripAlias(it))
		for _, x := range exprs {
			if e == x {
				return true
			}
		}
		return false
	}
}

// alias matches an item by its output column name.
func alias(name string) func(string) bool {
	return func(it string) bool { return columnName(it) == name }
}

// has matches an item containing s.
func has(s string) func(string) bool {
	return func(it string) bool { return strings.Contains(it, s) }
}

// Value helpers.
func constText(s string) func(any) types.Datum { return func(any) types.Datum { return txt(s) } }

// Filters extracted from queries.

// regexFilter is a Postgres regular expression condition on a name.
type regexFilter struct{ re *regexp.Regexp }

func (f *regexFilter) ok(s string) bool { return f == nil || f.re.MatchString(s) }

// findRegexFilter extracts "<col> OPERATOR(pg_catalog.~) 'pattern'" (or
// "<col> ~ 'pattern'") for the column col.
func findRegexFilter(q, col string) (*regexFilter, error) {
	re := regexp.MustCompile(regexp.QuoteMeta(col) + `\)? (?:operator\(pg_catalog\.~\)|~) ` + literalPattern)
	pat, ok := findLiteral(re, q)
	if !ok {
		return nil, nil
	}
	c, err := regexp.Compile(pat)
	if err != nil {
		return nil, sqlerr.Execf("2201B", "invalid regular expression %q: %v", pat, err)
	}
	return &regexFilter{c}, nil
}

// findLikeFilter extracts "<col> LIKE 'pattern'" for the column col.
func findLikeFilter(q, col string) (*regexFilter, error) {
	re := regexp.MustCompile(regexp.QuoteMeta(col) + `\)? like ` + literalPattern)
	pat, ok := findLiteral(re, q)
	if !ok {
		return nil, nil
	}
	c, err := likeToRegexp(pat, false)
	if err != nil {
		return nil, fmt.Errorf("like pattern %q: %w", pat, err)
	}
	return &regexFilter{c}, nil
}

// findInList extracts the literals of "<col> IN ('a','b')"; ok is false
// when there is no such condition.
func findInList(q, col string) (set map[string]bool, ok bool) {
	re := regexp.MustCompile(regexp.QuoteMeta(col) + ` in \(([^)]*)\)`)
	m := re.FindStringSubmatch(q)
	if m == nil {
		return nil, false
	}
	set = map[string]bool{}
	for _, l := range splitTop(m[1], ",") {
		if v, ok := unquoteLiteral(strings.TrimSpace(l)); ok {
			set[v] = true
		}
	}
	return set, true
}

// findOID extracts the OID compared with col ("c.oid = '16384'").
func findOID(q, col string) (int64, bool) {
	re := regexp.MustCompile(regexp.QuoteMeta(col) + ` ?= ?'?(\d+)'?`)
	m := re.FindStringSubmatch(q)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	return n, err == nil
}
