package pgcatalog

import (
	"strconv"
	"strings"

	"github.com/sluicedb/sluice/types"
)

// vcol is a column of an emulated catalog relation.
type vcol struct {
	name string
	typ  types.T
}

// vtable is an emulated catalog relation: its columns and a function
// computing its rows from a snapshot.
type vtable struct {
	cols []vcol
	rows func(sn *snapshot) [][]types.Datum
}

func cols(spec string) []vcol {
	var out []vcol
	for _, f := range strings.Fields(spec) {
		name, typ, _ := strings.Cut(f, ":")
		t := tText
		switch typ {
		case "i":
			t = tInt
		case "b":
			t = tBool
		case "l":
			t = tBig
		case "d":
			t = types.DoubleType
		}
		out = append(out, vcol{name, t})
	}
	return out
}

// indexOID is the OID of a relation's key index (not a pg_class row).
func indexOID(r *rel) int64 { return 1<<30 + int64(r.ID) }

// pgTypes are the rows of pg_type.
var pgTypes = []struct {
	oid              int32
	name             string
	length           int32
	byval            bool
	category         string
	array            int32
	input, output    string
	collation        int32
	informationAlias string
}{
	{16, "bool", 1, true, "B", 1000, "boolin", "boolout", 0, ""},
	{18, "char", 1, true, "Z", 1002, "charin", "charout", 0, ""},
	{19, "name", 64, false, "S", 1003, "namein", "nameout", 950, ""},
	{20, "int8", 8, true, "N", 1016, "int8in", "int8out", 0, ""},
	{21, "int2", 2, true, "N", 1005, "int2in", "int2out", 0, ""},
	{23, "int4", 4, true, "N", 1007, "int4in", "int4out", 0, ""},
	{25, "text", -1, false, "S", 1009, "textin", "textout", 100, ""},
	{26, "oid", 4, true, "N", 1028, "oidin", "oidout", 0, ""},
	{700, "float4", 4, true, "N", 1021, "float4in", "float4out", 0, ""},
	{701, "float8", 8, true, "N", 1022, "float8in", "float8out", 0, ""},
	{1043, "varchar", -1, false, "S", 1015, "varcharin", "varcharout", 100, ""},
	{1082, "date", 4, true, "D", 1182, "date_in", "date_out", 0, ""},
	{1114, "timestamp", 8, true, "D", 1115, "timestamp_in", "timestamp_out", 0, ""},
	{1186, "interval", 16, false, "T", 1187, "interval_in", "interval_out", 0, ""},
	{1700, "numeric", -1, false, "N", 1231, "numeric_in", "numeric_out", 0, ""},
}

// vtables are the emulated catalog relations by unqualified name
// ("pg_class") and by qualified name ("pg_catalog.pg_class",
// "information_schema.tables").
var vtables = map[string]*vtable{
	"pg_catalog.pg_namespace": {cols("oid:i nspname nspowner:i nspacl"), func(sn *snapshot) (rows [][]types.Datum) {
		for _, n := range namespaces {
			rows = append(rows, []types.Datum{i32(int64(n.oid)), txt(n.name), i32(oidRole), nullText})
		}
		return rows
	}},
	"pg_catalog.pg_class": {cols("oid:i relname relnamespace:i reltype:i reloftype:i relowner:i relam:i relfilenode:i " +
		"reltablespace:i relpages:i reltuples:d relallvisible:i reltoastrelid:i relhasindex:b relisshared:b relpersistence " +
		"relkind relnatts:i relchecks:i relhasrules:b relhastriggers:b relhassubclass:b relrowsecurity:b relforcerowsecurity:b " +
		"relispopulated:b relreplident relispartition:b relrewrite:i relacl reloptions relpartbound"), func(sn *snapshot) (rows [][]types.Datum) {
		for _, r := range sn.rels {
			rows = append(rows, []types.Datum{i32(r.oid), txt(r.Name), i32(oidPublic), i32(0), i32(0), i32(oidRole), i32(oidHeapAM), i32(r.oid),
				i32(0), i32(0), types.NewDouble(-1), i32(0), i32(0), boolean(r.hasIndex()), boolean(false), txt("p"),
				txt(r.kind), i32(int64(len(r.Schema))), i32(0), boolean(false), boolean(false), boolean(false), boolean(false), boolean(false),
				boolean(true), txt("d"), boolean(false), i32(0), nullText, nullText, nullText})
		}
		return rows
	}},
	"pg_catalog.pg_attribute": {cols("attrelid:i attname atttypid:i attstattarget:i attlen:i attnum:i attndims:i attcacheoff:i " +
		"atttypmod:i attbyval:b attstorage attcompression attnotnull:b atthasdef:b atthasmissing:b attidentity attgenerated " +
		"attisdropped:b attislocal:b attinhcount:i attcollation:i attacl attoptions"), func(sn *snapshot) (rows [][]types.Datum) {
		for _, r := range sn.rels {
			for i, c := range r.Schema {
				t := typeOf(c.Type)
				coll := int64(0)
				if c.Type.Kind == types.Varchar {
					coll = 100
				}
				rows = append(rows, []types.Datum{i32(r.oid), txt(c.Name), i32(int64(t.oid)), i32(-1), i32(int64(t.length)), i32(int64(i + 1)), i32(0), i32(-1),
					i32(int64(t.typmod)), boolean(t.length > 0), txt(t.storage), txt(""), boolean(!c.Nullable), boolean(false), boolean(false), txt(""), txt(""),
					boolean(false), boolean(true), i32(0), i32(coll), nullText, nullText})
			}
		}
		return rows
	}},
	"pg_catalog.pg_type": {cols("oid:i typname typnamespace:i typowner:i typlen:i typbyval:b typtype typcategory typisdefined:b " +
		"typdelim typrelid:i typelem:i typarray:i typinput typoutput typbasetype:i typtypmod:i typnotnull:b typndims:i typcollation:i"), func(sn *snapshot) (rows [][]types.Datum) {
		for _, t := range pgTypes {
			rows = append(rows, []types.Datum{i32(int64(t.oid)), txt(t.name), i32(oidPgCatalog), i32(oidRole), i32(int64(t.length)), boolean(t.byval), txt("b"),
				txt(t.category), boolean(true), txt(","), i32(0), i32(0), i32(int64(t.array)), txt(t.input), txt(t.output), i32(0), i32(-1), boolean(false), i32(0), i32(int64(t.collation))})
		}
		return rows
	}},
	"pg_catalog.pg_database": {cols("oid:i datname datdba:i encoding:i datlocprovider datistemplate:b datallowconn:b datconnlimit:i " +
		"dattablespace:i datcollate datctype daticulocale datcollversion datacl"), func(sn *snapshot) [][]types.Datum {
		return [][]types.Datum{{i32(oidDatabase), txt(databaseName), i32(oidRole), i32(6), txt("c"), boolean(false), boolean(true), i32(-1),
			i32(1663), txt("C"), txt("C"), nullText, nullText, nullText}}
	}},
	"pg_catalog.pg_settings": {cols("name setting unit category short_desc extra_desc context vartype source min_val max_val " +
		"enumvals boot_val reset_val pending_restart:b"), func(sn *snapshot) (rows [][]types.Datum) {
		for _, s := range sn.set.all() {
			st := lookup(s[0])
			ctx, boot, unit := "user", "", nullText
			if st != nil {
				boot = st.def
				if st.readOnly {
					ctx = "internal"
				}
				if st.show != nil {
					unit = txt("ms")
				}
			}
			raw, _, _ := sn.set.get(s[0])
			rows = append(rows, []types.Datum{txt(s[0]), txt(raw), unit, txt("Sluice"), txt(s[2]), nullText, txt(ctx), txt("string"),
				txt("session"), nullText, nullText, nullText, txt(boot), txt(boot), boolean(false)})
		}
		return rows
	}},
	"pg_catalog.pg_index": {cols("indexrelid:i indrelid:i indnatts:i indnkeyatts:i indisunique:b indisprimary:b indisexclusion:b " +
		"indimmediate:b indisclustered:b indisvalid:b indcheckxmin:b indisready:b indislive:b indisreplident:b indkey"), func(sn *snapshot) (rows [][]types.Datum) {
		for _, r := range sn.rels {
			if !r.hasIndex() {
				continue
			}
			keys := make([]string, len(r.Key))
			for i, k := range r.Key {
				keys[i] = strconv.Itoa(k + 1)
			}
			n := int64(len(r.Key))
			rows = append(rows, []types.Datum{i32(indexOID(r)), i32(r.oid), i32(n), i32(n), boolean(true), boolean(r.kind == "r"), boolean(false),
				boolean(true), boolean(false), boolean(true), boolean(false), boolean(true), boolean(true), boolean(false), txt(strings.Join(keys, " "))})
		}
		return rows
	}},
	"pg_catalog.pg_roles": {cols("oid:i rolname rolsuper:b rolinherit:b rolcreaterole:b rolcreatedb:b rolcanlogin:b rolreplication:b " +
		"rolconnlimit:i rolpassword rolvaliduntil rolbypassrls:b rolconfig"), func(sn *snapshot) [][]types.Datum {
		return [][]types.Datum{{i32(oidRole), txt(sn.user), boolean(true), boolean(true), boolean(true), boolean(true), boolean(true), boolean(false),
			i32(-1), txt("********"), nullText, boolean(true), nullText}}
	}},
	"pg_catalog.pg_user": {cols("usename usesysid:i usecreatedb:b usesuper:b userepl:b usebypassrls:b passwd valuntil useconfig"), func(sn *snapshot) [][]types.Datum {
		return [][]types.Datum{{txt(sn.user), i32(oidRole), boolean(true), boolean(true), boolean(false), boolean(true), txt("********"), nullText, nullText}}
	}},
	"pg_catalog.pg_am": {cols("oid:i amname amhandler amtype"), func(sn *snapshot) [][]types.Datum {
		return [][]types.Datum{{i32(oidHeapAM), txt("heap"), txt("heap_tableam_handler"), txt("t")}, {i32(oidBtreeAM), txt("btree"), txt("bthandler"), txt("i")}}
	}},
	"pg_catalog.pg_tables": {cols("schemaname tablename tableowner tablespace hasindexes:b hasrules:b hastriggers:b rowsecurity:b"), func(sn *snapshot) (rows [][]types.Datum) {
		for _, r := range sn.rels {
			if r.kind == "r" {
				rows = append(rows, []types.Datum{txt("public"), txt(r.Name), txt(sn.user), nullText, boolean(r.hasIndex()), boolean(false), boolean(false), boolean(false)})
			}
		}
		return rows
	}},
	"pg_catalog.pg_matviews": {cols("schemaname matviewname matviewowner tablespace hasindexes:b ispopulated:b definition"), func(sn *snapshot) (rows [][]types.Datum) {
		for _, r := range sn.rels {
			if r.kind == "m" {
				rows = append(rows, []types.Datum{txt("public"), txt(r.Name), txt(sn.user), nullText, boolean(r.hasIndex()), boolean(true), txt(r.viewQuery())})
			}
		}
		return rows
	}},
	"pg_catalog.pg_views":       {cols("schemaname viewname viewowner definition"), noRows},
	"pg_catalog.pg_proc":        {cols("oid:i proname pronamespace:i proowner:i prokind prorettype:i"), noRows},
	"pg_catalog.pg_extension":   {cols("oid:i extname extowner:i extnamespace:i extrelocatable:b extversion extconfig extcondition"), noRows},
	"pg_catalog.pg_description": {cols("objoid:i classoid:i objsubid:i description"), noRows},
	"pg_catalog.pg_constraint":  {cols("oid:i conname connamespace:i contype condeferrable:b condeferred:b convalidated:b conrelid:i contypid:i conindid:i"), noRows},
	"pg_catalog.pg_attrdef":     {cols("oid:i adrelid:i adnum:i adbin"), noRows},
	"pg_catalog.pg_inherits":    {cols("inhrelid:i inhparent:i inhseqno:i inhdetachpending:b"), noRows},
	"pg_catalog.pg_trigger":     {cols("oid:i tgrelid:i tgname tgenabled tgisinternal:b"), noRows},
	"pg_catalog.pg_tablespace": {cols("oid:i spcname spcowner:i spcacl spcoptions"), func(sn *snapshot) [][]types.Datum {
		return [][]types.Datum{{i32(1663), txt("pg_default"), i32(oidRole), nullText, nullText}, {i32(1664), txt("pg_global"), i32(oidRole), nullText, nullText}}
	}},

	"information_schema.tables": {cols("table_catalog table_schema table_name table_type self_referencing_column_name reference_generation " +
		"user_defined_type_catalog user_defined_type_schema user_defined_type_name is_insertable_into is_typed commit_action"), func(sn *snapshot) (rows [][]types.Datum) {
		for _, r := range sn.rels {
			kind, ins := "BASE TABLE", "YES"
			if r.kind == "m" {
				kind, ins = "MATERIALIZED VIEW", "NO"
			}
			rows = append(rows, []types.Datum{txt(databaseName), txt("public"), txt(r.Name), txt(kind), nullText, nullText,
				nullText, nullText, nullText, txt(ins), txt("NO"), nullText})
		}
		return rows
	}},
	"information_schema.columns": {cols("table_catalog table_schema table_name column_name ordinal_position:i column_default is_nullable " +
		"data_type character_maximum_length:i character_octet_length:i numeric_precision:i numeric_precision_radix:i numeric_scale:i " +
		"datetime_precision:i interval_type udt_catalog udt_schema udt_name is_identity is_generated is_updatable"), func(sn *snapshot) (rows [][]types.Datum) {
		for _, r := range sn.rels {
			for i, c := range r.Schema {
				rows = append(rows, infoColumn(r, i, c))
			}
		}
		return rows
	}},
	"information_schema.schemata": {cols("catalog_name schema_name schema_owner default_character_set_catalog default_character_set_schema " +
		"default_character_set_name sql_path"), func(sn *snapshot) (rows [][]types.Datum) {
		for _, n := range namespaces {
			rows = append(rows, []types.Datum{txt(databaseName), txt(n.name), txt(sn.user), nullText, nullText, nullText, nullText})
		}
		return rows
	}},
	"information_schema.views": {cols("table_catalog table_schema table_name view_definition check_option is_updatable is_insertable_into"), noRows},
}

func noRows(*snapshot) [][]types.Datum { return nil }

// infoColumn is a row of information_schema.columns.
func infoColumn(r *rel, i int, c types.Column) []types.Datum {
	t := typeOf(c.Type)
	charLen, octLen, prec, radix, scale, dtPrec := nullInt, nullInt, nullInt, nullInt, nullInt, nullInt
	switch c.Type.Kind {
	case types.Varchar:
		if c.Type.Width > 0 {
			charLen, octLen = i32(int64(c.Type.Width)), i32(int64(c.Type.Width)*4)
		} else {
			octLen = i32(1073741824)
		}
	case types.Int:
		prec, radix, scale = i32(32), i32(2), i32(0)
	case types.BigInt:
		prec, radix, scale = i32(64), i32(2), i32(0)
	case types.Double:
		prec, radix = i32(53), i32(2)
	case types.Decimal:
		prec, radix, scale = i32(int64(c.Type.Precision)), i32(10), i32(int64(c.Type.Scale))
	case types.Timestamp:
		dtPrec = i32(int64(c.Type.Precision))
	case types.Date:
		dtPrec = i32(0)
	case types.Interval:
		dtPrec = i32(6)
	}
	nullable := "YES"
	if !c.Nullable {
		nullable = "NO"
	}
	updatable := "YES"
	if r.kind == "m" {
		updatable = "NO"
	}
	return []types.Datum{txt(databaseName), txt("public"), txt(r.Name), txt(c.Name), i32(int64(i + 1)), nullText, txt(nullable),
		txt(t.infoType), charLen, octLen, prec, radix, scale, dtPrec, nullText, txt(databaseName), txt("pg_catalog"), txt(t.name),
		txt("NO"), txt("NEVER"), txt(updatable)}
}

func init() {
	short := map[string]*vtable{}
	for name, t := range vtables {
		if s, ok := strings.CutPrefix(name, "pg_catalog."); ok {
			short[s] = t
		}
	}
	for s, t := range short {
		vtables[s] = t
	}
}
