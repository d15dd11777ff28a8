package pgcatalog

import (
	"regexp"
	"sort"
	"strings"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/types"
)

// A recogniser answers one family of client catalog queries; ok is false
// when q is not of its family.
type recogniser func(q string, sn *snapshot) (res *executor.Result, ok bool, err error)

// recognisers are tried in order on every catalog query.
var recognisers = []recogniser{
	psqlRelationList, psqlRelationLookup, psqlTableInfo, psqlColumns, psqlIndexes,
	psqlDatabases, psqlSchemas, psqlRoles, psqlCompleteRelations, psqlCompleteColumns, psqlConfig,
	jdbcTables, jdbcColumns, emptyCatalogQuery,
}

// relationFilter applies the name conditions psql puts on pg_class rows:
// relkind IN (...), relname and nspname regular expressions.
func relationFilter(q string) (func(r *rel) bool, error) {
	kinds, haveKinds := findInList(q, "c.relkind")
	name, err := findRegexFilter(q, "c.relname")
	if err != nil {
		return nil, err
	}
	nsp, err := findRegexFilter(q, "n.nspname")
	if err != nil {
		return nil, err
	}
	return func(r *rel) bool {
		return (!haveKinds || kinds[r.kind]) && name.ok(r.Name) && nsp.ok("public")
	}, nil
}

func (sn *snapshot) filter(keep func(*rel) bool) []*rel {
	var out []*rel
	for _, r := range sn.rels {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// psqlRelationList answers \d, \dt, \dv, \dm, \di, \ds and their + and
// pattern forms.
func psqlRelationList(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, `select n.nspname as "Schema",`) || !strings.Contains(q, "from pg_catalog.pg_class c") ||
		!strings.Contains(q, "case c.relkind when") {
		return nil, false, nil
	}
	items, _, _ := selectParts(q)
	keep, err := relationFilter(q)
	if err != nil {
		return nil, true, err
	}
	rows := sn.filter(keep) // already ordered by schema, name
	res, err := project(items, []field[*rel]{
		{alias("Schema"), tText, func(*rel) types.Datum { return txt("public") }},
		{alias("Name"), tText, func(r *rel) types.Datum { return txt(r.Name) }},
		{alias("Type"), tText, func(r *rel) types.Datum { return txt(r.typeName()) }},
		{alias("Owner"), tText, func(*rel) types.Datum { return txt(sn.user) }},
		{alias("Persistence"), tText, func(*rel) types.Datum { return txt("permanent") }},
		{alias("Access method"), tText, func(*rel) types.Datum { return txt("heap") }},
		{alias("Size"), tText, func(*rel) types.Datum { return nullText }},
		{alias("Description"), tText, func(*rel) types.Datum { return nullText }},
		{alias("Table"), tText, func(*rel) types.Datum { return nullText }},
	}, rows)
	return res, true, err
}

// psqlRelationLookup answers the first query of \d NAME: the OIDs of the
// relations whose names match.
func psqlRelationLookup(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, "select c.oid,n.nspname,c.relname from pg_catalog.pg_class c left join pg_catalog.pg_namespace n on n.oid = c.relnamespace") {
		return nil, false, nil
	}
	items, _, _ := selectParts(q)
	keep, err := relationFilter(q)
	if err != nil {
		return nil, true, err
	}
	res, err := project(items, []field[*rel]{
		{is("c.oid"), tInt, func(r *rel) types.Datum { return i32(r.oid) }},
		{is("n.nspname"), tText, func(*rel) types.Datum { return txt("public") }},
		{is("c.relname"), tText, func(r *rel) types.Datum { return txt(r.Name) }},
	}, sn.filter(keep))
	return res, true, err
}

// byOIDRows returns the relation whose OID q compares col with.
func byOIDRows(q, col string, sn *snapshot) []*rel {
	oid, ok := findOID(q, col)
	if !ok {
		return nil
	}
	if r := sn.byOID(oid); r != nil {
		return []*rel{r}
	}
	return nil
}

// psqlTableInfo answers the second query of \d NAME: the relation's kind
// and flags.
func psqlTableInfo(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, "select c.relchecks,c.relkind,c.relhasindex,") || !strings.Contains(q, "from pg_catalog.pg_class c") {
		return nil, false, nil
	}
	items, _, _ := selectParts(q)
	no := func(*rel) types.Datum { return boolean(false) }
	res, err := project(items, []field[*rel]{
		{is("c.relchecks"), tInt, func(*rel) types.Datum { return i32(0) }},
		{is("c.relkind"), tText, func(r *rel) types.Datum { return txt(r.kind) }},
		{is("c.relhasindex"), tBool, func(r *rel) types.Datum { return boolean(r.hasIndex()) }},
		{is("c.relhasrules", "c.relhastriggers", "c.relrowsecurity", "c.relforcerowsecurity", "c.relispartition", "c.relhasoids"), tBool, no},
		{has("relhasoids"), tBool, no},
		{is("''"), tText, func(*rel) types.Datum { return txt("") }},
		{has("c.reloptions"), tText, func(*rel) types.Datum { return txt("") }},
		{is("c.reltablespace"), tInt, func(*rel) types.Datum { return i32(0) }},
		{has("c.reloftype"), tText, func(*rel) types.Datum { return txt("") }},
		{is("c.relpersistence"), tText, func(*rel) types.Datum { return txt("p") }},
		{is("c.relreplident"), tText, func(*rel) types.Datum { return txt("d") }},
		{is("am.amname"), tText, func(*rel) types.Datum { return txt("heap") }},
	}, byOIDRows(q, "c.oid", sn))
	return res, true, err
}

// attr is one column of a relation.
type attr struct {
	r   *rel
	num int // 0-based
}

func (a attr) col() types.Column { return a.r.Schema[a.num] }

// psqlColumns answers the column query of \d NAME (and \d+ NAME).
func psqlColumns(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, "select a.attname,") || !strings.Contains(q, "from pg_catalog.pg_attribute a where a.attrelid =") {
		return nil, false, nil
	}
	items, _, _ := selectParts(q)
	var rows []attr
	for _, r := range byOIDRows(q, "a.attrelid", sn) {
		for i := range r.Schema {
			rows = append(rows, attr{r, i})
		}
	}
	null := func(attr) types.Datum { return nullText }
	empty := func(attr) types.Datum { return txt("") }
	res, err := project(items, []field[attr]{
		{is("a.attname"), tText, func(a attr) types.Datum { return txt(a.col().Name) }},
		{has("format_type(a.atttypid"), tText, func(a attr) types.Datum { return txt(typeOf(a.col().Type).format) }},
		{has("pg_get_expr(d.adbin"), tText, null},
		{is("a.attnotnull"), tBool, func(a attr) types.Datum { return boolean(!a.col().Nullable) }},
		{has("c.collname"), tText, null},
		{is("a.attidentity", "a.attgenerated", "a.attcompression"), tText, empty},
		{is("a.attstorage"), tText, func(a attr) types.Datum { return txt(typeOf(a.col().Type).storage) }},
		{has("attstattarget"), tInt, func(attr) types.Datum { return nullInt }},
		{has("col_description("), tText, null},
		{is("a.attnum"), tInt, func(a attr) types.Datum { return i32(int64(a.num + 1)) }},
	}, rows)
	return res, true, err
}

// psqlIndexes answers the index footer query of \d NAME: the key index of
// a keyed table (PRIMARY KEY) or materialized view (UNIQUE).
func psqlIndexes(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, "select c2.relname,i.indisprimary,") || !strings.Contains(q, "pg_catalog.pg_index i") {
		return nil, false, nil
	}
	items, _, _ := selectParts(q)
	var rows []*rel
	for _, r := range byOIDRows(q, "c.oid", sn) {
		if r.hasIndex() {
			rows = append(rows, r)
		}
	}
	pk := func(r *rel) bool { return r.kind == "r" }
	no := func(*rel) types.Datum { return boolean(false) }
	res, err := project(items, []field[*rel]{
		{is("c2.relname"), tText, func(r *rel) types.Datum { return txt(r.indexName()) }},
		{is("i.indisprimary"), tBool, func(r *rel) types.Datum { return boolean(pk(r)) }},
		{is("i.indisunique", "i.indisvalid"), tBool, func(*rel) types.Datum { return boolean(true) }},
		{is("i.indisclustered", "i.indisreplident"), tBool, no},
		{has("pg_get_indexdef(i.indexrelid"), tText, func(r *rel) types.Datum {
			return txt("CREATE UNIQUE INDEX " + quoteIdent(r.indexName()) + " ON public." + quoteIdent(r.Name) + " USING btree (" + r.keyColumns() + ")")
		}},
		{has("pg_get_constraintdef(con.oid"), tText, func(r *rel) types.Datum {
			if pk(r) {
				return txt("PRIMARY KEY (" + r.keyColumns() + ")")
			}
			return nullText
		}},
		{is("contype"), tText, func(r *rel) types.Datum {
			if pk(r) {
				return txt("p")
			}
			return nullText
		}},
		{is("condeferrable", "condeferred"), tBool, func(r *rel) types.Datum {
			if pk(r) {
				return boolean(false)
			}
			return nullBool
		}},
		{is("c2.reltablespace"), tInt, func(*rel) types.Datum { return i32(0) }},
	}, rows)
	return res, true, err
}

// psqlDatabases answers \l and \l+.
func psqlDatabases(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, `select d.datname as "Name",`) || !strings.Contains(q, "from pg_catalog.pg_database d") {
		return nil, false, nil
	}
	items, _, _ := selectParts(q)
	name, err := findRegexFilter(q, "d.datname")
	if err != nil {
		return nil, true, err
	}
	var rows []string
	if name.ok(databaseName) {
		rows = append(rows, databaseName)
	}
	null := func(string) types.Datum { return nullText }
	res, err := project(items, []field[string]{
		{alias("Name"), tText, func(d string) types.Datum { return txt(d) }},
		{alias("Owner"), tText, func(string) types.Datum { return txt(sn.user) }},
		{alias("Encoding"), tText, func(string) types.Datum { return txt("UTF8") }},
		{alias("Collate"), tText, func(string) types.Datum { return txt("C") }},
		{alias("Ctype"), tText, func(string) types.Datum { return txt("C") }},
		{alias("ICU Locale"), tText, null},
		{alias("Locale Provider"), tText, func(string) types.Datum { return txt("libc") }},
		{alias("Access privileges"), tText, null},
		{alias("Size"), tText, null},
		{alias("Tablespace"), tText, func(string) types.Datum { return txt("pg_default") }},
		{alias("Description"), tText, null},
	}, rows)
	return res, true, err
}

// psqlSchemas answers \dn and \dn+.
func psqlSchemas(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, `select n.nspname as "Name",`) || !strings.Contains(q, "from pg_catalog.pg_namespace n") {
		return nil, false, nil
	}
	items, _, _ := selectParts(q)
	name, err := findRegexFilter(q, "n.nspname")
	if err != nil {
		return nil, true, err
	}
	var rows []string
	for _, n := range namespaces {
		if strings.Contains(q, "n.nspname !~ '^pg_'") && strings.HasPrefix(n.name, "pg_") ||
			strings.Contains(q, "n.nspname <> 'information_schema'") && n.name == "information_schema" || !name.ok(n.name) {
			continue
		}
		rows = append(rows, n.name)
	}
	sort.Strings(rows)
	res, err := project(items, []field[string]{
		{alias("Name"), tText, func(n string) types.Datum { return txt(n) }},
		{alias("Owner"), tText, func(string) types.Datum { return txt(sn.user) }},
		{alias("Access privileges"), tText, func(string) types.Datum { return nullText }},
		{alias("Description"), tText, func(string) types.Datum { return nullText }},
	}, rows)
	return res, true, err
}

// psqlRoles answers \du and \du+.
func psqlRoles(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, "select r.rolname,") || !strings.Contains(q, "from pg_catalog.pg_roles r") {
		return nil, false, nil
	}
	items, _, _ := selectParts(q)
	name, err := findRegexFilter(q, "r.rolname")
	if err != nil {
		return nil, true, err
	}
	var rows []string
	if name.ok(sn.user) && !(strings.Contains(q, "r.rolname !~ '^pg_'") && strings.HasPrefix(sn.user, "pg_")) {
		rows = append(rows, sn.user)
	}
	yes := func(string) types.Datum { return boolean(true) }
	res, err := project(items, []field[string]{
		{is("r.rolname"), tText, func(u string) types.Datum { return txt(u) }},
		{is("r.rolsuper", "r.rolinherit", "r.rolcreaterole", "r.rolcreatedb", "r.rolcanlogin", "r.rolbypassrls"), tBool, yes},
		{is("r.rolreplication"), tBool, func(string) types.Datum { return boolean(false) }},
		{is("r.rolconnlimit"), tInt, func(string) types.Datum { return i32(-1) }},
		{is("r.rolvaliduntil"), tText, func(string) types.Datum { return nullText }},
		{alias("memberof"), tText, func(string) types.Datum { return txt("{}") }},
		{has("description("), tText, func(string) types.Datum { return nullText }},
	}, rows)
	return res, true, err
}

// completion is a row of psql's tab-completion answers.
type completion struct{ name, schema types.Datum }

var reCompleteSchemas = regexp.MustCompile(`union all select null::pg_catalog.text,n.nspname from pg_catalog.pg_namespace n where n.nspname like ` + literalPattern)

// psqlCompleteRelations answers psql's tab completion of relation names.
func psqlCompleteRelations(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, "select c.relname,null::pg_catalog.text from pg_catalog.pg_class c where") {
		return nil, false, nil
	}
	first := q
	if i := indexTop(q, " union all "); i >= 0 {
		first = q[:i]
	}
	kinds, haveKinds := findInList(first, "c.relkind")
	like, err := findLikeFilter(first, "c.relname")
	if err != nil {
		return nil, true, err
	}
	var rows []completion
	for _, r := range sn.rels {
		if (!haveKinds || kinds[r.kind]) && like.ok(r.Name) {
			rows = append(rows, completion{txt(r.Name), nullText})
		}
	}
	if pat, ok := findLiteral(reCompleteSchemas, q); ok {
		re, err := likeToRegexp(pat, false)
		if err != nil {
			return nil, true, err
		}
		for _, n := range namespaces {
			if re.MatchString(n.name) && !strings.HasPrefix(n.name, "pg_") {
				rows = append(rows, completion{nullText, txt(n.name)})
			}
		}
	}
	return tagged(&executor.Result{Columns: []executor.ResultColumn{{Name: "relname", Type: tText}, {Name: "text", Type: tText}},
		Rows: completionRows(rows)}), true, nil
}

func completionRows(cs []completion) [][]types.Datum {
	out := make([][]types.Datum, len(cs))
	for i, c := range cs {
		out[i] = []types.Datum{c.name, c.schema}
	}
	return out
}

var reRelnameEq = regexp.MustCompile(`c\.relname = ` + literalPattern)

// psqlCompleteColumns answers psql's tab completion of column names.
func psqlCompleteColumns(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, "select a.attname,null::pg_catalog.text from pg_catalog.pg_attribute a,pg_catalog.pg_class c where") {
		return nil, false, nil
	}
	like, err := findLikeFilter(q, "a.attname")
	if err != nil {
		return nil, true, err
	}
	relName, haveRel := findLiteral(reRelnameEq, q)
	var rows []completion
	for _, r := range sn.rels {
		if haveRel && r.Name != relName {
			continue
		}
		for _, c := range r.Schema {
			if like.ok(c.Name) {
				rows = append(rows, completion{txt(c.Name), nullText})
			}
		}
	}
	return tagged(&executor.Result{Columns: []executor.ResultColumn{{Name: "attname", Type: tText}, {Name: "text", Type: tText}},
		Rows: completionRows(rows)}), true, nil
}

// emptyCatalogs are catalogs that hold no rows in Sluice (no functions,
// constraints other than keys, policies, statistics, publications,
// inheritance, rules, triggers, extensions, comments...).
var emptyCatalogs = map[string]bool{
	"pg_policy": true, "pg_statistic_ext": true, "pg_publication": true, "pg_publication_rel": true,
	"pg_publication_namespace": true, "pg_inherits": true, "pg_rewrite": true, "pg_trigger": true,
	"pg_proc": true, "pg_attrdef": true, "pg_description": true, "pg_shdescription": true,
	"pg_collation": true, "pg_foreign_table": true, "pg_foreign_server": true,
	"pg_foreign_data_wrapper": true, "pg_user_mapping": true, "pg_extension": true,
	"pg_event_trigger": true, "pg_opclass": true, "pg_opfamily": true, "pg_operator": true,
	"pg_conversion": true, "pg_cast": true, "pg_ts_config": true, "pg_ts_dict": true,
	"pg_ts_parser": true, "pg_ts_template": true, "pg_largeobject_metadata": true,
	"pg_default_acl": true, "pg_sequence": true, "pg_statistic": true,
	"pg_partitioned_table": true, "pg_aggregate": true, "pg_language": true,
	"pg_subscription": true, "pg_auth_members": true, "pg_views": true, "pg_enum": true,
	"pg_range": true, "pg_transform": true, "pg_seclabel": true, "pg_init_privs": true,
	"pg_sequences": true, "pg_prepared_xacts": true, "pg_stat_activity": true, "pg_locks": true,
}

var reJoinSplit = regexp.MustCompile(` (?:(left|right|full|inner|cross)(?: outer)? )?join `)

// emptyCatalogQuery answers a query every one of whose UNION branches
// reads (by an inner join) a catalog that is empty in Sluice: zero rows.
func emptyCatalogQuery(q string, sn *snapshot) (*executor.Result, bool, error) {
	branches := splitTop(q, " union ")
	var firstItems []string
	for bi, b := range branches {
		b = strings.TrimPrefix(strings.TrimSpace(b), "all ")
		items, from, ok := selectParts(b)
		if !ok || from == "" {
			return nil, false, nil
		}
		if bi == 0 {
			firstItems = items
		}
		for _, kw := range []string{" where ", " order by ", " group by ", " limit "} {
			if i := indexTop(from, kw); i >= 0 {
				from = from[:i]
			}
		}
		empty := false
		for _, part := range splitTop(from, ",") {
			pieces := reJoinSplit.FindAllStringSubmatchIndex(part, -1)
			start := 0
			outer := false
			for k := 0; k <= len(pieces); k++ {
				end := len(part)
				if k < len(pieces) {
					end = pieces[k][0]
				}
				table := strings.Fields(strings.TrimSpace(part[start:end]))
				if len(table) > 0 && !outer {
					name := strings.TrimPrefix(table[0], "pg_catalog.")
					if emptyCatalogs[name] {
						empty = true
					}
				}
				if k < len(pieces) {
					start = pieces[k][1]
					kind := ""
					if pieces[k][2] >= 0 {
						kind = part[pieces[k][2]:pieces[k][3]]
					}
					outer = kind == "left" || kind == "full"
				}
			}
		}
		if !empty {
			return nil, false, nil
		}
	}
	if len(firstItems) == 1 && strings.TrimSpace(firstItems[0]) == "*" {
		return nil, false, nil // columns unknown: the simple evaluator knows some
	}
	return emptyResult(firstItems), true, nil
}

var reConfigPattern = regexp.MustCompile(`s\.name\)? operator\(pg_catalog\.~\) (?:(?:pg_catalog\.)?lower\()?` + literalPattern)

// psqlConfig answers \dconfig [PATTERN]: the settings that differ from
// their defaults, or those matching the pattern.
func psqlConfig(q string, sn *snapshot) (*executor.Result, bool, error) {
	if !strings.HasPrefix(q, `select s.name as "Parameter",`) || !strings.Contains(q, "from pg_catalog.pg_settings s") {
		return nil, false, nil
	}
	items, _, _ := selectParts(q)
	var name *regexFilter
	if pat, ok := findLiteral(reConfigPattern, q); ok {
		re, err := regexp.Compile("(?i)" + pat)
		if err != nil {
			return nil, true, unsupported("pattern " + pat)
		}
		name = &regexFilter{re}
	}
	changedOnly := strings.Contains(q, "s.source <> 'default'")
	var rows [][3]string
	for _, st := range sn.set.all() {
		if !name.ok(st[0]) {
			continue
		}
		if changedOnly {
			raw, _, _ := sn.set.get(st[0])
			if def := lookup(st[0]); def != nil && raw == def.def {
				continue
			}
		}
		rows = append(rows, st)
	}
	res, err := project(items, []field[[3]string]{
		{alias("Parameter"), tText, func(r [3]string) types.Datum { return txt(r[0]) }},
		{alias("Value"), tText, func(r [3]string) types.Datum { return txt(r[1]) }},
		{alias("Type"), tText, func([3]string) types.Datum { return txt("string") }},
		{alias("Context"), tText, func(r [3]string) types.Datum {
			if st := lookup(r[0]); st != nil && st.readOnly {
				return txt("internal")
			}
			return txt("user")
		}},
		{alias("Access privileges"), tText, func([3]string) types.Datum { return nullText }},
	}, rows)
	return res, true, err
}
