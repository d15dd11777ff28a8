package pgcatalog

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/types"
)

// The simple evaluator answers
//
//	SELECT items FROM catalog_relation [alias] [WHERE c op lit [AND ...]]
//	  [ORDER BY ...] [LIMIT n] [OFFSET n]
//
// over one emulated relation, where items are *, columns (optionally
// qualified and aliased) or count(*), and op is =, <>, !=, <, <=, >, >=,
// [NOT] [I]LIKE, ~, !~, IN (...) or IS [NOT] NULL.

var (
	reFromTable = regexp.MustCompile(`^((?:pg_catalog|information_schema)\.)?([a-z_]+)(?: (?:as )?([a-z_][a-z0-9_]*))?$`)
	reRef       = `(?:[a-z_][a-z0-9_]*\.)?([a-z_][a-z0-9_]*|"[^"]+")`
	reItemCol   = regexp.MustCompile(`^` + reRef + `$`)
	reCondOp    = regexp.MustCompile(`^\(?` + reRef + `\)?\s*(=|<>|!=|<=|>=|<|>|!~|~|operator\(pg_catalog\.~\))\s*(.+?)(?: collate [a-z_."]+)?$`)
	reCondLike  = regexp.MustCompile(`^\(?` + reRef + `\)? (not like|like|not ilike|ilike) (.+)$`)
	reCondIn    = regexp.MustCompile(`^` + reRef + ` (not in|in) \((.*)\)$`)
	reCondNull  = regexp.MustCompile(`^` + reRef + ` is (not )?null$`)
	reOrderItem = regexp.MustCompile(`^(?:` + reRef + `|(\d+))(?: (asc|desc))?(?: nulls (first|last))?$`)
	reLitCast   = regexp.MustCompile(`::[a-z_][a-z0-9_.]*(?:\[\])?$`)
)

// evalSimple answers a simple query over one emulated relation; ok is
// false when the query has another shape.
func evalSimple(q string, sn *snapshot) (*executor.Result, bool, error) {
	items, from, ok := selectParts(q)
	if !ok || from == "" {
		return nil, false, nil
	}
	// Cut the clauses after FROM.
	table, where, order, limit, offset := from, "", "", "", ""
	cut := func(s, kw string) (string, string) {
		if i := indexTop(s, kw); i >= 0 {
			return s[:i], s[i+len(kw):]
		}
		return s, ""
	}
	table, offset = cut(table, " offset ")
	table, limit = cut(table, " limit ")
	table, order = cut(table, " order by ")
	table, where = cut(table, " where ")
	m := reFromTable.FindStringSubmatch(table)
	if m == nil {
		return nil, false, nil
	}
	vt := vtables[m[1]+m[2]]
	if vt == nil || m[1] == "" && !strings.HasPrefix(m[2], "pg_") {
		return nil, false, nil
	}
	colIndex := func(ref string) int {
		ref = strings.Trim(ref, `"`)
		for i, c := range vt.cols {
			if c.name == ref {
				return i
			}
		}
		return -1
	}
	// Projection.
	var proj []int
	var out []executor.ResultColumn
	count := false
	for _, it := range items {
		name := columnName(it)
		expr := strings.TrimSpace(stripAlias(it))
		switch {
		case expr == "*" || strings.HasSuffix(expr, ".*"):
			for i, c := range vt.cols {
				proj = append(proj, i)
				out = append(out, executor.ResultColumn{Name: c.name, Type: c.typ})
			}
		case expr == "count(*)" && len(items) == 1:
			count = true
			out = append(out, executor.ResultColumn{Name: name, Type: tBig})
		default:
			mm := reItemCol.FindStringSubmatch(expr)
			if mm == nil {
				return nil, false, nil
			}
			i := colIndex(mm[1])
			if i < 0 {
				return nil, false, nil
			}
			proj = append(proj, i)
			out = append(out, executor.ResultColumn{Name: name, Type: vt.cols[i].typ})
		}
	}
	// Filter.
	var preds []func([]types.Datum) bool
	if where != "" {
		for _, c := range splitTop(where, " and ") {
			p, ok, err := compileCond(strings.TrimSpace(c), vt, colIndex)
			if err != nil || !ok {
				return nil, ok, err
			}
			preds = append(preds, p)
		}
	}
	var rows [][]types.Datum
next:
	for _, r := range vt.rows(sn) {
		for _, p := range preds {
			if !p(r) {
				continue next
			}
		}
		rows = append(rows, r)
	}
	// Order.
	if order != "" {
		type key struct {
			col        int
			desc       bool
			nullsFirst bool
		}
		var keys []key
		for _, o := range splitTop(order, ",") {
			mm := reOrderItem.FindStringSubmatch(strings.TrimSpace(o))
			if mm == nil {
				return nil, false, nil
			}
			k := key{desc: mm[3] == "desc"}
			k.nullsFirst = mm[4] == "first" || mm[4] == "" && k.desc
			if mm[2] != "" {
				n, _ := strconv.Atoi(mm[2])
				if n < 1 || n > len(proj) {
					return nil, false, nil
				}
				k.col = proj[n-1]
			} else if k.col = colIndex(mm[1]); k.col < 0 {
				return nil, false, nil
			}
			keys = append(keys, k)
		}
		sort.SliceStable(rows, func(i, j int) bool {
			for _, k := range keys {
				a, b := rows[i][k.col], rows[j][k.col]
				var c int
				switch {
				case a.Null && b.Null:
					c = 0
				case a.Null || b.Null:
					if a.Null == k.nullsFirst {
						return true
					}
					return false
				default:
					c = types.Compare(a, b)
					if k.desc {
						c = -c
					}
				}
				if c != 0 {
					return c < 0
				}
			}
			return false
		})
	}
	if offset != "" {
		n, err := strconv.Atoi(strings.TrimSpace(offset))
		if err != nil {
			return nil, false, nil
		}
		rows = rows[min(n, len(rows)):]
	}
	if limit != "" && strings.TrimSpace(limit) != "all" {
		n, err := strconv.Atoi(strings.TrimSpace(limit))
		if err != nil {
			return nil, false, nil
		}
		rows = rows[:min(n, len(rows))]
	}
	res := &executor.Result{Columns: out}
	if count {
		res.Rows = [][]types.Datum{{i64(int64(len(rows)))}}
	} else {
		for _, r := range rows {
			row := make([]types.Datum, len(proj))
			for i, p := range proj {
				row[i] = r[p]
			}
			res.Rows = append(res.Rows, row)
		}
	}
	res.Tag = fmt.Sprintf("SELECT %d", len(res.Rows))
	return res, true, nil
}

// stripAlias removes a trailing AS alias from a select item.
func stripAlias(item string) string {
	if m := reAliasQuoted.FindStringIndex(item); m != nil {
		return item[:m[0]]
	}
	if m := reAliasBare.FindStringSubmatchIndex(item); m != nil && !notAlias[item[m[2]:m[3]]] {
		return item[:m[0]+1]
	}
	return item
}

// compileCond compiles one WHERE conjunct over a vtable's columns.
func compileCond(c string, vt *vtable, colIndex func(string) int) (func([]types.Datum) bool, bool, error) {
	for strings.HasPrefix(c, "(") && wrapped(c) {
		c = c[1 : len(c)-1]
	}
	if c == "true" {
		return func([]types.Datum) bool { return true }, true, nil
	}
	if m := reCondNull.FindStringSubmatch(c); m != nil {
		i := colIndex(m[1])
		if i < 0 {
			return nil, false, nil
		}
		want := m[2] == ""
		return func(r []types.Datum) bool { return r[i].Null == want }, true, nil
	}
	if m := reCondIn.FindStringSubmatch(c); m != nil {
		i := colIndex(m[1])
		if i < 0 {
			return nil, false, nil
		}
		var set []types.Datum
		for _, l := range splitTop(m[3], ",") {
			d, ok := literalDatum(vt.cols[i].typ, strings.TrimSpace(l))
			if !ok {
				return nil, false, nil
			}
			set = append(set, d)
		}
		neg := m[2] == "not in"
		return func(r []types.Datum) bool {
			if r[i].Null {
				return false
			}
			for _, d := range set {
				if !d.Null && types.Compare(r[i], d) == 0 {
					return !neg
				}
			}
			return neg
		}, true, nil
	}
	if m := reCondLike.FindStringSubmatch(c); m != nil {
		i := colIndex(m[1])
		lit, ok := unquoteLiteral(strings.TrimSpace(reLitCast.ReplaceAllString(m[3], "")))
		if i < 0 || !ok {
			return nil, false, nil
		}
		re, err := likeToRegexp(lit, strings.HasSuffix(m[2], "ilike"))
		if err != nil {
			return nil, false, nil
		}
		neg := strings.HasPrefix(m[2], "not ")
		return func(r []types.Datum) bool {
			return !r[i].Null && re.MatchString(r[i].String()) != neg
		}, true, nil
	}
	if m := reCondOp.FindStringSubmatch(c); m != nil {
		i := colIndex(m[1])
		if i < 0 {
			return nil, false, nil
		}
		op, lit := m[2], strings.TrimSpace(m[3])
		if op == "~" || op == "!~" || strings.HasPrefix(op, "operator") {
			s, ok := unquoteLiteral(reLitCast.ReplaceAllString(lit, ""))
			if !ok {
				return nil, false, nil
			}
			re, err := regexp.Compile(s)
			if err != nil {
				return nil, false, nil
			}
			neg := op == "!~"
			return func(r []types.Datum) bool { return !r[i].Null && re.MatchString(r[i].String()) != neg }, true, nil
		}
		d, ok := literalDatum(vt.cols[i].typ, lit)
		if !ok {
			return nil, false, nil
		}
		return func(r []types.Datum) bool {
			if r[i].Null || d.Null {
				return false
			}
			c := types.Compare(r[i], d)
			switch op {
			case "=":
				return c == 0
			case "<>", "!=":
				return c != 0
			case "<":
				return c < 0
			case "<=":
				return c <= 0
			case ">":
				return c > 0
			}
			return c >= 0
		}, true, nil
	}
	return nil, false, nil
}

// literalDatum reads a SQL literal as a value of type t.
func literalDatum(t types.T, lit string) (types.Datum, bool) {
	lit = reLitCast.ReplaceAllString(lit, "")
	if lit == "null" {
		return types.NewNull(t), true
	}
	s, quoted := unquoteLiteral(lit)
	if !quoted {
		s = lit
	}
	switch t.Kind {
	case types.Boolean:
		b, ok := parseBool(s)
		return boolean(b == "on"), ok
	case types.Int, types.BigInt:
		n, err := strconv.ParseInt(s, 10, 64)
		return types.Datum{Kind: t.Kind, I: n}, err == nil
	case types.Double:
		f, err := strconv.ParseFloat(s, 64)
		return types.NewDouble(f), err == nil
	}
	return txt(s), quoted
}
