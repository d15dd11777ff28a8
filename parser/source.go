package parser

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluicedb/sluice/sqlerr"
)

// CreateSource is CREATE SOURCE [IF NOT EXISTS] name (columns...,
// [WATERMARK FOR ...]) WITH (connector = '...', ...): an external event
// stream that views read and that keeps no rows itself.
type CreateSource struct {
	stmtText
	Name        string
	IfNotExists bool
	Columns     []ColumnDef
	Watermark   *Watermark
	// Options are the WITH options, keys lower-cased, values unquoted.
	Options map[string]string
}

// CreateSink is CREATE SINK [IF NOT EXISTS] name FROM view WITH (...):
// the view's changes written to an external system.
type CreateSink struct {
	stmtText
	Name        string
	IfNotExists bool
	From        string
	Options     map[string]string
}

// createSource parses CREATE SOURCE: the column list goes to TiDB as a
// CREATE TABLE (SOURCE and WITH (...) blanked), the options are ours.
func (ps *parseState) createSource(sp span) (Statement, error) {
	t, src := sp.toks, ps.src
	// Find WITH at paren depth 0 after the column list.
	depth, with := 0, -1
	for i, tk := range t {
		switch {
		case tk.isOp(src, "("):
			depth++
		case tk.isOp(src, ")"):
			depth--
		case depth == 0 && tk.isWord(src, "WITH"):
			with = i
		}
		if with >= 0 {
			break
		}
	}
	if with < 0 {
		return nil, ps.errAt(sp.end, sqlerr.SyntaxError, "CREATE SOURCE needs WITH (connector = '...', ...)")
	}
	opts, end, err := ps.withOptions(sp, with)
	if err != nil {
		return nil, err
	}
	if end != len(t) {
		return nil, ps.errNear(sp, end)
	}
	edits := []edit{{t[1].pos, t[1].end, "TABLE "}}
	for k := with; k < len(t); k++ {
		edits = append(edits, blank(t[k]))
	}
	head := span{start: sp.start, end: sp.end, toks: t}
	wm, wedits, err := ps.watermarkElement(head)
	if err != nil {
		return nil, err
	}
	edits = append(edits, wedits...)
	cols := ps.tableElements(head)
	node, err := ps.tidb(head, edits)
	if err != nil {
		return nil, err
	}
	ct, ok := node.(*ast.CreateTableStmt)
	if !ok {
		return nil, ps.errAt(sp.start, sqlerr.SyntaxError, "CREATE SOURCE needs a column list")
	}
	tbl, err := ps.convertCreateTable(sp, ct, cols)
	if err != nil {
		return nil, err
	}
	if tbl.PrimaryKey != nil {
		return nil, ps.errAt(sp.start, sqlerr.FeatureNotSupported, "a source is an append-only stream and cannot have a primary key")
	}
	if opts["connector"] == "" {
		return nil, ps.errAt(t[with].pos, sqlerr.SyntaxError, "CREATE SOURCE needs a connector option, e.g. WITH (connector = 'kafka', ...)")
	}
	return &CreateSource{stmtText: stmtText{src[sp.start:sp.end]}, Name: tbl.Name, IfNotExists: tbl.IfNotExists,
		Columns: tbl.Columns, Watermark: wm, Options: opts}, nil
}

// createSink parses CREATE SINK [IF NOT EXISTS] name FROM view WITH (...).
func (ps *parseState) createSink(sp span) (Statement, error) {
	c := &cursor{ps: ps, sp: sp, i: 2}
	st := &CreateSink{stmtText: stmtText{ps.src[sp.start:sp.end]}}
	st.IfNotExists = c.accept("IF", "NOT", "EXISTS")
	var err error
	if st.Name, err = c.objectName(); err != nil {
		return nil, err
	}
	if err := c.expect("FROM"); err != nil {
		return nil, err
	}
	if st.From, err = c.objectName(); err != nil {
		return nil, err
	}
	if !c.word("WITH") {
		return nil, c.errHere()
	}
	opts, end, err := ps.withOptions(sp, c.i)
	if err != nil {
		return nil, err
	}
	if end != len(sp.toks) {
		return nil, ps.errNear(sp, end)
	}
	if opts["connector"] == "" {
		return nil, ps.errAt(sp.toks[c.i].pos, sqlerr.SyntaxError, "CREATE SINK needs a connector option, e.g. WITH (connector = 'kafka', ...)")
	}
	st.Options = opts
	return st, nil
}

// withOptions parses WITH (key = value, ...) starting at token i (WITH).
// Keys may be dotted (properties.bootstrap.server); values are strings,
// numbers or bare words. It returns the index after the closing ')'.
func (ps *parseState) withOptions(sp span, i int) (map[string]string, int, error) {
	t, src := sp.toks, ps.src
	c := &cursor{ps: ps, sp: sp, i: i}
	if err := c.expect("WITH"); err != nil {
		return nil, 0, err
	}
	if c.atEnd() || !t[c.i].isOp(src, "(") {
		return nil, 0, c.errHere()
	}
	c.i++
	opts := map[string]string{}
	for {
		if c.atEnd() {
			return nil, 0, c.errHere()
		}
		if t[c.i].isOp(src, ")") && len(opts) == 0 {
			c.i++
			break
		}
		// key: word(.word)*
		var key strings.Builder
		for {
			if c.atEnd() || (t[c.i].kind != tokWord && t[c.i].kind != tokQuotedIdent && t[c.i].kind != tokString) {
				return nil, 0, c.errHere()
			}
			k := t[c.i].text(src)
			if t[c.i].kind == tokString {
				k = unquoteString(k)
			}
			key.WriteString(strings.ToLower(unquoteIdent(k)))
			c.i++
			if !c.atEnd() && t[c.i].isOp(src, ".") {
				key.WriteByte('.')
				c.i++
				continue
			}
			break
		}
		if c.atEnd() || !t[c.i].isOp(src, "=") {
			return nil, 0, c.errHere()
		}
		c.i++
		if c.atEnd() {
			return nil, 0, c.errHere()
		}
		v := t[c.i]
		var val string
		switch v.kind {
		case tokString, tokDQString:
			val = unquoteString(v.text(src))
		case tokNumber, tokWord:
			val = v.text(src)
		case tokOp:
			if v.isOp(src, "-") && c.i+1 < len(t) && t[c.i+1].kind == tokNumber {
				c.i++
				val = "-" + t[c.i].text(src)
				break
			}
			return nil, 0, c.errHere()
		default:
			return nil, 0, c.errHere()
		}
		c.i++
		k := key.String()
		if _, dup := opts[k]; dup {
			return nil, 0, ps.errAt(v.pos, sqlerr.SyntaxError, "option %q given twice", k)
		}
		opts[k] = val
		if c.atEnd() {
			return nil, 0, c.errHere()
		}
		if t[c.i].isOp(src, ",") {
			c.i++
			continue
		}
		if t[c.i].isOp(src, ")") {
			c.i++
			break
		}
		return nil, 0, c.errHere()
	}
	return opts, c.i, nil
}

// unquoteString strips the quotes of a '...' or "..." literal and undoes
// doubled quotes and backslash escapes of quotes.
func unquoteString(s string) string {
	if len(s) < 2 {
		return s
	}
	q := s[0]
	body := s[1 : len(s)-1]
	body = strings.ReplaceAll(body, string([]byte{q, q}), string(q))
	body = strings.ReplaceAll(body, `\`+string(q), string(q))
	return body
}
