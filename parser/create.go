package parser

import (
	"maps"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluicedb/sluice/sqlerr"
)

// columnToks locates a CREATE TABLE column definition in the source.
type columnToks struct {
	name, typ token
}

// tableElements scans the parenthesised element list of CREATE TABLE and
// returns its column definitions by lower-cased name, in order of
// appearance (a name may repeat, which is an error later). Table constraints
// (PRIMARY KEY (...), KEY, INDEX, ...) are skipped.
func (ps *parseState) tableElements(sp span) map[string][]columnToks {
	t, src := sp.toks, ps.src
	open := -1
	for i, tk := range t {
		if tk.isOp(src, "(") {
			open = i
			break
		}
	}
	cols := map[string][]columnToks{}
	if open < 0 {
		return cols
	}
	depth, elem := 0, open+1
	for i := open; i < len(t); i++ {
		switch {
		case t[i].isOp(src, "("):
			depth++
		case depth == 1 && (t[i].isOp(src, ")") || t[i].isOp(src, ",")):
			if elem+1 < i {
				name := t[elem]
				if (name.kind == tokWord && !isConstraintKeyword(name.text(src))) || name.kind == tokQuotedIdent {
					key := strings.ToLower(unquoteIdent(name.text(src)))
					cols[key] = append(cols[key], columnToks{name: name, typ: t[elem+1]})
				}
			}
			if t[i].isOp(src, ")") {
				return cols
			}
			elem = i + 1
		case t[i].isOp(src, ")"):
			depth--
		}
	}
	return cols
}

func isConstraintKeyword(w string) bool {
	switch strings.ToUpper(w) {
	case "PRIMARY", "KEY", "INDEX", "UNIQUE", "CONSTRAINT", "FOREIGN", "CHECK", "FULLTEXT", "SPATIAL", "WATERMARK":
		return true
	}
	return false
}

// pgColumnTypes maps Postgres and other common type names that TiDB's
// grammar lacks to MySQL spellings, for CREATE TABLE column types.
var pgColumnTypes = map[string]string{
	"string":      "TEXT",
	"int2":        "SMALLINT",
	"int4":        "INT",
	"int8":        "BIGINT",
	"float4":      "FLOAT",
	"float8":      "DOUBLE",
	"timestamptz": "TIMESTAMP",
}

// create parses CREATE statements other than CREATE MATERIALIZED VIEW.
// CREATE TABLE may end with APPEND ONLY, which is blanked out before TiDB
// parses the rest.
func (ps *parseState) create(sp span) (Statement, error) {
	t, src := sp.toks, ps.src
	text := stmtText{src[sp.start:sp.end]}
	var edits []edit
	var appendTok *token
	if n := len(t); n >= 2 && t[n-2].isWord(src, "APPEND") && t[n-1].isWord(src, "ONLY") {
		appendTok = &t[n-2]
		edits = append(edits, blank(t[n-2]), blank(t[n-1]))
	}
	isTable := len(t) > 1 && (t[1].isWord(src, "TABLE") || (t[1].isWord(src, "TEMPORARY") && len(t) > 2 && t[2].isWord(src, "TABLE")))
	var cols map[string][]columnToks
	if isTable {
		cols = ps.tableElements(sp)
		for _, c := range slices.Concat(slices.Collect(maps.Values(cols))...) {
			if c.typ.kind != tokWord {
				continue
			}
			if repl, ok := pgColumnTypes[strings.ToLower(c.typ.text(src))]; ok {
				edits = append(edits, edit{c.typ.pos, c.typ.end, repl})
			}
		}
	}
	var wm *Watermark
	if isTable {
		w, wedits, err := ps.watermarkElement(sp)
		if err != nil {
			return nil, err
		}
		wm, edits = w, append(edits, wedits...)
	}
	node, err := ps.tidb(sp, edits)
	if err != nil {
		return nil, err
	}
	ct, ok := node.(*ast.CreateTableStmt)
	if !ok {
		if appendTok != nil {
			return nil, ps.errAt(appendTok.pos, sqlerr.SyntaxError, "APPEND ONLY applies only to CREATE TABLE")
		}
		return wrapNode(text, node), nil
	}
	st, err := ps.convertCreateTable(sp, ct, cols)
	if err != nil {
		return nil, err
	}
	st.stmtText = text
	st.Watermark = wm
	if appendTok != nil {
		st.AppendOnly = true
		if st.PrimaryKey != nil {
			return nil, ps.errAt(appendTok.pos, sqlerr.SyntaxError, "an APPEND ONLY table cannot have a primary key")
		}
	}
	return st, nil
}

// tableNamePos finds the table name of CREATE [TEMPORARY] TABLE [IF NOT
// EXISTS] name.
func (ps *parseState) tableNamePos(sp span) int {
	c := &cursor{ps: ps, sp: sp, i: 1}
	c.accept("TEMPORARY")
	c.accept("TABLE")
	c.accept("IF", "NOT", "EXISTS")
	if c.atEnd() {
		return sp.start
	}
	return sp.toks[c.i].pos
}

// convertCreateTable checks a TiDB CREATE TABLE against what Sluice
// supports and converts it.
func (ps *parseState) convertCreateTable(sp span, ct *ast.CreateTableStmt, cols map[string][]columnToks) (*CreateTable, error) {
	stmtPos := sp.start
	pkPos := stmtPos // the last PRIMARY keyword, for primary key errors
	for _, tk := range sp.toks {
		if tk.isWord(ps.src, "PRIMARY") {
			pkPos = tk.pos
		}
	}
	nth := map[string]int{} // occurrences of each column name so far
	colPos := func(name string, typ bool) int {
		occ := cols[strings.ToLower(name)]
		if k := nth[strings.ToLower(name)] - 1; k >= 0 && k < len(occ) {
			c := occ[k]
			if typ {
				return c.typ.pos
			}
			return c.name.pos
		}
		return stmtPos
	}
	unsupported := func(pos int, format string, args ...any) error {
		return ps.errAt(pos, sqlerr.FeatureNotSupported, format, args...)
	}
	switch {
	case ct.ReferTable != nil:
		return nil, unsupported(stmtPos, "CREATE TABLE ... LIKE is not supported")
	case ct.Select != nil:
		return nil, unsupported(stmtPos, "CREATE TABLE ... AS SELECT is not supported; use CREATE MATERIALIZED VIEW")
	case ct.TemporaryKeyword != ast.TemporaryNone:
		return nil, unsupported(stmtPos, "temporary tables are not supported")
	case ct.Partition != nil:
		return nil, unsupported(stmtPos, "partitioned tables are not supported")
	}
	if err := ps.checkSchema(ct.Table.Schema.O, ps.tableNamePos(sp)); err != nil {
		return nil, err
	}
	st := &CreateTable{Name: ct.Table.Name.O, IfNotExists: ct.IfNotExists}
	seen := map[string]int{}
	for _, col := range ct.Cols {
		name := col.Name.Name.O
		lower := strings.ToLower(name)
		nth[lower]++
		if _, dup := seen[lower]; dup {
			return nil, ps.errAt(colPos(name, false), sqlerr.DuplicateObject, "column %q specified more than once", name)
		}
		seen[lower] = len(st.Columns)
		typ, err := ConvertFieldType(col.Tp)
		if err != nil {
			if e, ok := sqlerr.As(err); ok {
				e2 := *e
				ps.locate(&e2, colPos(name, true))
				e2.Msg += " (column " + name + ")"
				return nil, &e2
			}
			return nil, err
		}
		def := ColumnDef{Name: name, Type: typ}
		for _, opt := range col.Options {
			switch opt.Tp {
			case ast.ColumnOptionNotNull:
				def.NotNull = true
			case ast.ColumnOptionNull, ast.ColumnOptionComment, ast.ColumnOptionCollate,
				ast.ColumnOptionColumnFormat, ast.ColumnOptionStorage:
			case ast.ColumnOptionPrimaryKey:
				if st.PrimaryKey != nil {
					return nil, ps.errAt(colPos(name, false), sqlerr.SyntaxError, "multiple primary keys for table %q are not allowed", st.Name)
				}
				st.PrimaryKey = []string{name}
			default:
				return nil, unsupported(colPos(name, false), "column option %s is not supported (column %s)", columnOptionName(opt.Tp), name)
			}
		}
		st.Columns = append(st.Columns, def)
	}
	for _, cons := range ct.Constraints {
		switch cons.Tp {
		case ast.ConstraintPrimaryKey:
			if st.PrimaryKey != nil {
				return nil, ps.errAt(pkPos, sqlerr.SyntaxError, "multiple primary keys for table %q are not allowed", st.Name)
			}
			st.PrimaryKey = []string{}
			for _, k := range cons.Keys {
				if k.Column == nil {
					return nil, unsupported(stmtPos, "expression primary keys are not supported")
				}
				st.PrimaryKey = append(st.PrimaryKey, k.Column.Name.O)
			}
		case ast.ConstraintKey, ast.ConstraintIndex:
			// Secondary indexes are accepted and ignored.
		default:
			return nil, unsupported(stmtPos, "constraint %s is not supported", constraintName(cons.Tp))
		}
	}
	used := map[string]bool{}
	for _, k := range st.PrimaryKey {
		i, ok := seen[strings.ToLower(k)]
		if !ok {
			return nil, ps.errAt(pkPos, sqlerr.UndefinedColumn, "primary key column %q does not exist", k)
		}
		if used[strings.ToLower(k)] {
			return nil, ps.errAt(pkPos, sqlerr.DuplicateObject, "column %q appears twice in the primary key", k)
		}
		used[strings.ToLower(k)] = true
		st.Columns[i].NotNull = true
	}
	return st, nil
}

func columnOptionName(tp ast.ColumnOptionType) string {
	switch tp {
	case ast.ColumnOptionAutoIncrement:
		return "AUTO_INCREMENT"
	case ast.ColumnOptionDefaultValue:
		return "DEFAULT"
	case ast.ColumnOptionUniqKey:
		return "UNIQUE"
	case ast.ColumnOptionOnUpdate:
		return "ON UPDATE"
	case ast.ColumnOptionGenerated:
		return "GENERATED"
	case ast.ColumnOptionReference:
		return "REFERENCES"
	case ast.ColumnOptionCheck:
		return "CHECK"
	}
	return "option"
}

func constraintName(tp ast.ConstraintType) string {
	switch tp {
	case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		return "UNIQUE"
	case ast.ConstraintForeignKey:
		return "FOREIGN KEY"
	case ast.ConstraintFulltext:
		return "FULLTEXT"
	case ast.ConstraintCheck:
		return "CHECK"
	}
	return "constraint"
}
