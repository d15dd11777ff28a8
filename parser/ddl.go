package parser

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluicedb/sluice/sqlerr"
)

// cursor walks the tokens of a statement for the extension grammars parsed
// here.
type cursor struct {
	ps *parseState
	sp span
	i  int
}

func (c *cursor) atEnd() bool { return c.i >= len(c.sp.toks) }

// word reports whether the next token is the keyword w.
func (c *cursor) word(w string) bool {
	return c.i < len(c.sp.toks) && c.sp.toks[c.i].isWord(c.ps.src, w)
}

// accept consumes the keywords ws if they come next, all of them.
func (c *cursor) accept(ws ...string) bool {
	for k, w := range ws {
		if j := c.i + k; j >= len(c.sp.toks) || !c.sp.toks[j].isWord(c.ps.src, w) {
			return false
		}
	}
	c.i += len(ws)
	return true
}

// expect consumes the keyword w or fails.
func (c *cursor) expect(w string) error {
	if !c.accept(w) {
		return c.errHere()
	}
	return nil
}

// errHere is a syntax error at the next token.
func (c *cursor) errHere() error { return c.ps.errNear(c.sp, c.i) }

// end fails unless every token is consumed.
func (c *cursor) end() error {
	if !c.atEnd() {
		return c.errHere()
	}
	return nil
}

// ident consumes an identifier (a bare word or a backquoted name).
func (c *cursor) ident() (string, token, bool) {
	if c.atEnd() {
		return "", token{}, false
	}
	t := c.sp.toks[c.i]
	switch t.kind {
	case tokWord:
		c.i++
		return t.text(c.ps.src), t, true
	case tokQuotedIdent:
		c.i++
		return unquoteIdent(t.text(c.ps.src)), t, true
	}
	return "", token{}, false
}

// objectName consumes [schema.]name; the schema must be empty, public or
// sluice.
func (c *cursor) objectName() (string, error) {
	name, t, ok := c.ident()
	if !ok {
		return "", c.errHere()
	}
	if c.i < len(c.sp.toks) && c.sp.toks[c.i].isOp(c.ps.src, ".") {
		c.i++
		schema := name
		if name, _, ok = c.ident(); !ok {
			return "", c.errHere()
		}
		if err := c.ps.checkSchema(schema, t.pos); err != nil {
			return "", err
		}
	}
	return name, nil
}

// checkSchema accepts the schemas Sluice has: none, public and sluice.
func (ps *parseState) checkSchema(schema string, pos int) error {
	switch strings.ToLower(schema) {
	case "", "public", "sluice":
		return nil
	}
	return ps.errAt(pos, sqlerr.FeatureNotSupported, "schema %q does not exist (objects live in schema public)", schema)
}

// unquoteIdent strips backquotes and undoubles embedded ones.
func unquoteIdent(s string) string {
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		return strings.ReplaceAll(s[1:len(s)-1], "``", "`")
	}
	return s
}

// objectNameOnly reports whether the tokens from i on are exactly one
// object name, and returns it.
func (ps *parseState) objectNameOnly(sp span, i int) (string, bool, error) {
	c := &cursor{ps: ps, sp: sp, i: i}
	n := len(sp.toks) - i
	if n != 1 && n != 3 {
		return "", false, nil
	}
	if n == 1 && sp.toks[i].kind == tokWord && isStatementKeyword(sp.toks[i].text(ps.src)) {
		return "", false, nil
	}
	if n == 3 && !sp.toks[i+1].isOp(ps.src, ".") {
		return "", false, nil
	}
	name, err := c.objectName()
	if err != nil {
		if e, ok := sqlerr.As(err); ok && e.Code == sqlerr.FeatureNotSupported {
			return "", false, err
		}
		return "", false, nil
	}
	return name, c.atEnd(), nil
}

// isStatementKeyword reports whether w starts a statement (so DESCRIBE w
// is EXPLAIN w, not a description of table w).
func isStatementKeyword(w string) bool {
	switch strings.ToUpper(w) {
	case "SELECT", "WITH", "TABLE", "VALUES", "INSERT", "REPLACE", "UPDATE", "DELETE", "FLUSH":
		return true
	}
	return false
}

// drop parses DROP TABLE|MATERIALIZED VIEW|SOURCE|SINK [IF EXISTS] name[, ...].
func (ps *parseState) drop(sp span) (Statement, error) {
	c := &cursor{ps: ps, sp: sp, i: 1}
	st := &Drop{stmtText: stmtText{ps.src[sp.start:sp.end]}}
	switch {
	case c.accept("TABLE"):
		st.Kind = KindTable
	case c.accept("MATERIALIZED"):
		if err := c.expect("VIEW"); err != nil {
			return nil, err
		}
		st.Kind = KindMaterializedView
	case c.accept("SOURCE"):
		st.Kind = KindSource
	case c.accept("SINK"):
		st.Kind = KindSink
	default:
		return nil, c.errHere()
	}
	st.IfExists = c.accept("IF", "EXISTS")
	for {
		name, err := c.objectName()
		if err != nil {
			return nil, err
		}
		st.Names = append(st.Names, name)
		if c.atEnd() || !c.sp.toks[c.i].isOp(ps.src, ",") {
			break
		}
		c.i++
	}
	return st, c.end()
}

// show parses SHOW TABLES | MATERIALIZED VIEWS | SOURCES | SINKS, SHOW
// COLUMNS FROM name and SHOW variable. ok is false for other SHOW forms,
// which go to TiDB.
func (ps *parseState) show(sp span) (Statement, bool, error) {
	c := &cursor{ps: ps, sp: sp, i: 1}
	text := stmtText{ps.src[sp.start:sp.end]}
	kind := ObjectKind(0)
	switch {
	case c.atEnd():
		return nil, true, ps.errAt(sp.end, sqlerr.SyntaxError, "SHOW needs a name")
	case c.accept("TABLES"):
		kind = KindTable
	case c.accept("MATERIALIZED", "VIEWS"):
		kind = KindMaterializedView
	case c.accept("SOURCES"):
		kind = KindSource
	case c.accept("SINKS"):
		kind = KindSink
	case c.accept("COLUMNS") || c.accept("FIELDS"):
		if !c.accept("FROM") && !c.accept("IN") {
			return nil, false, nil
		}
		name, ok, err := ps.objectNameOnly(sp, c.i)
		if !ok || err != nil {
			return nil, err != nil, err
		}
		return &Describe{stmtText: text, Name: name}, true, nil
	case c.accept("TRANSACTION", "ISOLATION", "LEVEL"):
		if c.atEnd() {
			return &ShowVariable{stmtText: text, Name: "transaction isolation level"}, true, nil
		}
		return nil, true, c.errHere()
	}
	if kind != 0 {
		if c.atEnd() {
			return &ShowObjects{stmtText: text, Kind: kind}, true, nil
		}
		return nil, false, nil // SHOW TABLES LIKE ... and friends: TiDB's
	}
	if len(sp.toks) == 2 && (sp.toks[1].kind == tokWord || sp.toks[1].kind == tokQuotedIdent) {
		name, _, _ := c.ident()
		return &ShowVariable{stmtText: text, Name: strings.ToLower(name)}, true, nil
	}
	return nil, false, nil
}

// createMaterializedView parses CREATE MATERIALIZED VIEW [IF NOT EXISTS]
// name AS query; the query goes to TiDB.
func (ps *parseState) createMaterializedView(sp span) (Statement, error) {
	c := &cursor{ps: ps, sp: sp, i: 2}
	st := &CreateMaterializedView{stmtText: stmtText{ps.src[sp.start:sp.end]}}
	if err := c.expect("VIEW"); err != nil {
		return nil, err
	}
	st.IfNotExists = c.accept("IF", "NOT", "EXISTS")
	name, err := c.objectName()
	if err != nil {
		return nil, err
	}
	st.Name = name
	if err := c.expect("AS"); err != nil {
		return nil, err
	}
	if c.atEnd() {
		return nil, ps.errAt(sp.end, sqlerr.SyntaxError, "CREATE MATERIALIZED VIEW needs a query after AS")
	}
	q, eowc := ps.emitOnWindowClose(sub(sp, c.i))
	st.EmitOnWindowClose = eowc
	wedits, tvfs, err := ps.windowEdits(q)
	if err != nil {
		return nil, err
	}
	st.Windows = tvfs
	node, err := ps.tidb(q, wedits)
	if err != nil {
		return nil, err
	}
	switch n := node.(type) {
	case *ast.SelectStmt:
		st.Query = n
	case *ast.SetOprStmt:
		st.Query = n
	default:
		return nil, ps.errAt(q.start, sqlerr.SyntaxError, "a materialized view's query must be a SELECT")
	}
	st.QueryText = ps.src[q.start:q.end]
	return st, nil
}
