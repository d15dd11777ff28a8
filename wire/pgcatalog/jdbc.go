package pgcatalog

import (
	"regexp"
	"sort"
	"strings"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/types"
)

var reJdbcKind = regexp.MustCompile(`\(c\.relkind = '(\w)'`)

// jdbcTables answers pgjdbc's DatabaseMetaData.getTables.
func jdbcTables(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, "select null as table_cat,n.nspname as table_schem,c.relname as table_name,") ||
		!strings.Contains(q, "from pg_catalog.pg_namespace n,pg_catalog.pg_class c") {
		return nil, false, nil
	}
	items, _, _ := selectParts(q)
	nsp, err := findLikeFilter(q, "n.nspname")
	if err != nil {
		return nil, true, err
	}
	name, err := findLikeFilter(q, "c.relname")
	if err != nil {
		return nil, true, err
	}
	kinds := map[string]bool{}
	for _, m := range reJdbcKind.FindAllStringSubmatch(q, -1) {
		kinds[m[1]] = true
	}
	tableType := func(r *rel) string {
		if r.kind == "m" {
			return "MATERIALIZED VIEW"
		}
		return "TABLE"
	}
	rows := sn.filter(func(r *rel) bool { return kinds[r.kind] && nsp.ok("public") && name.ok(r.Name) })
	sort.SliceStable(rows, func(i, j int) bool {
		if a, b := tableType(rows[i]), tableType(rows[j]); a != b {
			return a < b
		}
		return rows[i].Name < rows[j].Name
	})
	empty := func(*rel) types.Datum { return txt("") }
	res, err := project(items, []field[*rel]{
		{alias("table_cat"), tText, func(*rel) types.Datum { return nullText }},
		{alias("table_schem"), tText, func(*rel) types.Datum { return txt("public") }},
		{alias("table_name"), tText, func(r *rel) types.Datum { return txt(r.Name) }},
		{alias("table_type"), tText, func(r *rel) types.Datum { return txt(tableType(r)) }},
		{alias("remarks"), tText, func(*rel) types.Datum { return nullText }},
		{alias("type_cat"), tText, empty},
		{alias("type_schem"), tText, empty},
		{alias("type_name"), tText, empty},
		{alias("self_referencing_col_name"), tText, empty},
		{alias("ref_generation"), tText, empty},
	}, rows)
	return res, true, err
}

// jdbcColumns answers pgjdbc's DatabaseMetaData.getColumns.
func jdbcColumns(q string, sn *snapshot) (*executor.Result, bool, error) {
	const prefix = "select * from (select n.nspname,c.relname,a.attname,"
	if !strings.HasPrefix(q, prefix) || !strings.Contains(q, "row_number() over (partition by a.attrelid order by a.attnum) as attnum") {
		return nil, false, nil
	}
	open := len("select * from ")
	closeAt := matchParen(q, open)
	if closeAt < 0 {
		return nil, false, nil
	}
	inner, outer := q[open+1:closeAt], q[closeAt+1:]
	items, _, _ := selectParts(inner)
	kinds, haveKinds := findInList(inner, "c.relkind")
	nsp, err := findLikeFilter(inner, "n.nspname")
	if err != nil {
		return nil, true, err
	}
	name, err := findLikeFilter(inner, "c.relname")
	if err != nil {
		return nil, true, err
	}
	col, err := findLikeFilter(outer, "attname")
	if err != nil {
		return nil, true, err
	}
	var rows []attr
	for _, r := range sn.rels {
		if (haveKinds && !kinds[r.kind]) || !nsp.ok("public") || !name.ok(r.Name) {
			continue
		}
		for i, c := range r.Schema {
			if col.ok(c.Name) {
				rows = append(rows, attr{r, i})
			}
		}
	}
	null := func(attr) types.Datum { return nullText }
	res, err := project(items, []field[attr]{
		{is("n.nspname"), tText, func(attr) types.Datum { return txt("public") }},
		{is("c.relname"), tText, func(a attr) types.Datum { return txt(a.r.Name) }},
		{is("a.attname"), tText, func(a attr) types.Datum { return txt(a.col().Name) }},
		{is("a.atttypid"), tInt, func(a attr) types.Datum { return i32(int64(typeOf(a.col().Type).oid)) }},
		{alias("attnotnull"), tBool, func(a attr) types.Datum { return boolean(!a.col().Nullable) }},
		{is("a.atttypmod"), tInt, func(a attr) types.Datum { return i32(int64(typeOf(a.col().Type).typmod)) }},
		{is("a.attlen"), tInt, func(a attr) types.Datum { return i32(int64(typeOf(a.col().Type).length)) }},
		{is("t.typtypmod"), tInt, func(attr) types.Datum { return i32(-1) }},
		{has("row_number()"), tBig, func(a attr) types.Datum { return i64(int64(a.num + 1)) }},
		{alias("attidentity"), tText, null},
		{alias("attgenerated"), tText, null},
		{alias("adsrc"), tText, null},
		{is("dsc.description"), tText, null},
		{is("t.typbasetype"), tInt, func(attr) types.Datum { return i32(0) }},
		{is("t.typtype"), tText, func(attr) types.Datum { return txt("b") }},
	}, rows)
	return res, true, err
}
