package pgcatalog

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/types"
)

// Fixed object identifiers of the emulated catalog. User relations get
// FirstUserOID + Relation.ID, stable for the life of the object.
const (
	firstUserOID    = 16384
	oidPgCatalog    = 11
	oidPublic       = 2200
	oidInfoSchema   = 13000
	oidDatabase     = 5
	oidRole         = 10
	oidHeapAM       = 2
	oidBtreeAM      = 403
	databaseName    = "sluice"
	defaultUser     = "sluice"
	serverVersion   = "15.0"
	serverVersionNo = "150000"
	versionString   = "PostgreSQL 15.0 (Sluice 0.1) on x86_64-pc-linux-gnu, compiled by Go"
)

// pgType describes how a Sluice type appears in pg_type and format_type.
type pgType struct {
	oid      int32
	name     string // typname
	typmod   int32
	length   int32 // typlen
	storage  string
	format   string // format_type(atttypid, atttypmod)
	infoType string // information_schema data_type
}

// typeOf maps a Sluice column type to its Postgres type.
func typeOf(t types.T) pgType {
	switch t.Kind {
	case types.Boolean:
		return pgType{16, "bool", -1, 1, "p", "boolean", "boolean"}
	case types.Int:
		return pgType{23, "int4", -1, 4, "p", "integer", "integer"}
	case types.BigInt:
		return pgType{20, "int8", -1, 8, "p", "bigint", "bigint"}
	case types.Double:
		return pgType{701, "float8", -1, 8, "p", "double precision", "double precision"}
	case types.Decimal:
		return pgType{1700, "numeric", (t.Precision<<16 | t.Scale) + 4, -1, "m",
			fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale), "numeric"}
	case types.Varchar:
		if t.Width > 0 {
			return pgType{1043, "varchar", t.Width + 4, -1, "x",
				fmt.Sprintf("character varying(%d)", t.Width), "character varying"}
		}
		return pgType{25, "text", -1, -1, "x", "text", "text"}
	case types.Timestamp:
		return pgType{1114, "timestamp", t.Precision, 8, "p",
			fmt.Sprintf("timestamp(%d) without time zone", t.Precision), "timestamp without time zone"}
	case types.Date:
		return pgType{1082, "date", -1, 4, "p", "date", "date"}
	case types.Interval:
		return pgType{1186, "interval", -1, 16, "p", "interval", "interval"}
	}
	return pgType{705, "unknown", -1, -2, "p", "unknown", "unknown"}
}

// rel is a user relation as the catalog shows it.
type rel struct {
	*planner.Relation
	oid  int64
	kind string // relkind: "r" table, "m" materialized view
}

// hasIndex reports whether the relation shows a unique index on its key.
func (r *rel) hasIndex() bool { return r.Keyed && len(r.Key) > 0 }

// indexName names the relation's key index.
func (r *rel) indexName() string {
	if r.kind == "r" {
		return r.Name + "_pkey"
	}
	return r.Name + "_key"
}

// keyColumns lists the key's column names, comma separated.
func (r *rel) keyColumns() string {
	names := make([]string, len(r.Key))
	for i, k := range r.Key {
		names[i] = quoteIdent(r.Schema[k].Name)
	}
	return strings.Join(names, ", ")
}

// typeName is how psql's \d family names the kind.
func (r *rel) typeName() string {
	if r.kind == "m" {
		return "materialized view"
	}
	return "table"
}

// viewQuery is a materialized view's query text, as pg_get_viewdef
// returns it.
func (r *rel) viewQuery() string {
	m := reViewDef.FindStringSubmatch(r.Definition)
	if m == nil {
		return ""
	}
	return " " + strings.TrimRight(strings.TrimSpace(m[1]), ";") + ";"
}

var reViewDef = regexp.MustCompile(`(?is)^\s*create\s+materialized\s+view\s+(?:if\s+not\s+exists\s+)?(?:"[^"]*"|` + "`[^`]*`" + `|[^\s(]+)\s+as\s+(.*)$`)

// snapshot is one consistent view of the catalog for answering a query.
type snapshot struct {
	rels []*rel // by name
	user string
	set  *sessionSettings
}

func takeSnapshot(eng *executor.Engine, ss *sessionSettings) *snapshot {
	sn := &snapshot{user: ss.user(), set: ss}
	if eng != nil {
		for _, r := range eng.Relations() {
			k := "r"
			if r.Kind == planner.ViewRelation {
				k = "m"
			}
			sn.rels = append(sn.rels, &rel{Relation: r, oid: firstUserOID + int64(r.ID), kind: k})
		}
	}
	sort.Slice(sn.rels, func(i, j int) bool { return sn.rels[i].Name < sn.rels[j].Name })
	return sn
}

func (sn *snapshot) byOID(oid int64) *rel {
	for _, r := range sn.rels {
		if r.oid == oid {
			return r
		}
	}
	return nil
}

func (sn *snapshot) byName(name string) *rel {
	for _, r := range sn.rels {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// namespaces are the schemas, in OID order.
var namespaces = []struct {
	oid  int32
	name string
}{{oidPgCatalog, "pg_catalog"}, {oidPublic, "public"}, {oidInfoSchema, "information_schema"}}

// quoteIdent quotes an identifier when Postgres would.
func quoteIdent(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '$')) {
			return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
	}
	if reservedWords[s] {
		return `"` + s + `"`
	}
	return s
}

var reservedWords = map[string]bool{
	"all": true, "and": true, "any": true, "as": true, "asc": true, "case": true, "check": true,
	"column": true, "create": true, "default": true, "desc": true, "distinct": true, "do": true,
	"else": true, "end": true, "false": true, "for": true, "from": true, "group": true,
	"having": true, "in": true, "limit": true, "not": true, "null": true, "offset": true,
	"on": true, "or": true, "order": true, "select": true, "table": true, "then": true,
	"to": true, "true": true, "union": true, "user": true, "when": true, "where": true, "with": true,
}

// Datum shorthands.
func txt(s string) types.Datum   { return types.NewText(s) }
func i32(n int64) types.Datum    { return types.NewInt(int32(n)) }
func i64(n int64) types.Datum    { return types.NewBigInt(n) }
func boolean(b bool) types.Datum { return types.NewBool(b) }

var (
	nullText = types.NewNull(types.TextType)
	nullInt  = types.NewNull(types.IntType)
	nullBool = types.NewNull(types.BoolType)
)

// Column types of emulated catalogs.
var (
	tText = types.TextType
	tInt  = types.IntType
	tBig  = types.BigIntType
	tBool = types.BoolType
)
