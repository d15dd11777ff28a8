// Package parser parses Sluice's SQL dialect: MySQL syntax as TiDB's parser
// accepts it, plus Sluice's streaming extensions (CREATE MATERIALIZED VIEW,
// APPEND ONLY tables, DROP/SHOW of sources, sinks and views, FLUSH, ...) and
// the bits of Postgres syntax that Postgres clients send ($1 parameters,
// expr::type casts).
//
// A small token-level lexer (lexer.go) finds statement boundaries and the
// extension keywords. Extensions are either parsed here entirely (DROP,
// SHOW, DESCRIBE, FLUSH) or removed from the text before TiDB sees it: an
// extension keyword is blanked with spaces of the same length, so TiDB's
// error offsets still match the original text, and larger rewrites (casts)
// keep an offset map to translate positions back. Every error is a
// *sqlerr.Error with the 1-based character position, line and column in the
// whole input.
package parser

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	tidb "github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/sluicedb/sluice/sqlerr"
)

// TiDB parsers are not safe for concurrent use and cost a few allocations
// to build: keep a pool.
var tidbPool = sync.Pool{New: func() any { return tidb.New() }}

// Parse parses one or more ';'-separated statements. Input holding only
// whitespace and comments yields no statements and no error.
func Parse(sql string) (stmts []Statement, err error) {
	defer func() {
		if r := recover(); r != nil {
			stmts, err = nil, &sqlerr.Error{Phase: sqlerr.Parse, Code: sqlerr.InternalError,
				Msg: fmt.Sprintf("internal parser error: %v", r)}
		}
	}()
	ps := &parseState{src: sql}
	toks, lerr := tokenize(sql)
	if lerr != nil {
		return nil, ps.errAt(lerr.pos, sqlerr.SyntaxError, "%s", lerr.msg)
	}
	spans, _ := splitTokens(sql, toks)
	for _, sp := range spans {
		if len(sp.toks) == 0 {
			continue
		}
		st, err := ps.parseSpan(sp)
		if err != nil {
			return nil, err
		}
		stmts = append(stmts, st)
	}
	return stmts, nil
}

// ParseOne parses exactly one statement; none or several is an error.
func ParseOne(sql string) (Statement, error) {
	stmts, err := Parse(sql)
	if err != nil {
		return nil, err
	}
	switch len(stmts) {
	case 1:
		return stmts[0], nil
	case 0:
		return nil, sqlerr.New(sqlerr.Parse, sqlerr.SyntaxError, "empty statement")
	}
	ps := &parseState{src: sql}
	toks, _ := tokenize(sql)
	spans, _ := splitTokens(sql, toks)
	n := 0
	for _, sp := range spans {
		if len(sp.toks) > 0 {
			if n++; n == 2 {
				return nil, ps.errAt(sp.start, sqlerr.SyntaxError, "expected one statement, got %d", len(stmts))
			}
		}
	}
	return nil, sqlerr.New(sqlerr.Parse, sqlerr.SyntaxError, "expected one statement, got %d", len(stmts))
}

// parseState is the input being parsed.
type parseState struct {
	src string
}

// errAt returns a parse error located at byte offset pos of the input.
func (ps *parseState) errAt(pos int, code, format string, args ...any) *sqlerr.Error {
	e := sqlerr.New(sqlerr.Parse, code, format, args...)
	ps.locate(e, pos)
	return e
}

// locate sets e's position, line and column (in characters) from a byte
// offset.
func (ps *parseState) locate(e *sqlerr.Error, pos int) {
	pos = min(max(pos, 0), len(ps.src))
	before := ps.src[:pos]
	lineStart := strings.LastIndexByte(before, '\n') + 1
	e.Position = utf8.RuneCountInString(before) + 1
	e.Line = strings.Count(before, "\n") + 1
	e.Column = utf8.RuneCountInString(before[lineStart:]) + 1
}

// errNear returns a syntax error at token index i of sp, or at the end of
// the statement when i is past its last token.
func (ps *parseState) errNear(sp span, i int) *sqlerr.Error {
	if i >= len(sp.toks) {
		return ps.errAt(sp.end, sqlerr.SyntaxError, "syntax error at end of input")
	}
	return ps.errAt(sp.toks[i].pos, sqlerr.SyntaxError, "syntax error near %q", sp.toks[i].text(ps.src))
}

// sub returns the part of sp from token i on.
func sub(sp span, i int) span {
	if i >= len(sp.toks) {
		return span{start: sp.end, end: sp.end}
	}
	return span{start: sp.toks[i].pos, end: sp.end, toks: sp.toks[i:]}
}

// parseSpan parses one statement. Extensions dispatch here on their
// leading keywords (CREATE SOURCE/SINK, SUBSCRIBE and COPY slot in the same
// way); trailing clauses (APPEND ONLY, later EMIT ON WINDOW CLOSE) are
// blanked out with edits before the rest goes to TiDB.
func (ps *parseState) parseSpan(sp span) (Statement, error) {
	t, src := sp.toks, ps.src
	text := stmtText{src[sp.start:sp.end]}
	kw := func(i int, w string) bool { return i < len(t) && t[i].isWord(src, w) }
	switch {
	case kw(0, "CREATE") && kw(1, "MATERIALIZED"):
		return ps.createMaterializedView(sp)
	case kw(0, "CREATE") && kw(1, "SOURCE"):
		return ps.createSource(sp)
	case kw(0, "CREATE") && kw(1, "SINK"):
		return ps.createSink(sp)
	case kw(0, "CREATE"):
		return ps.create(sp)
	case kw(0, "DROP") && (kw(1, "TABLE") || kw(1, "MATERIALIZED") || kw(1, "SOURCE") || kw(1, "SINK")):
		return ps.drop(sp)
	case kw(0, "SHOW"):
		if st, ok, err := ps.show(sp); ok || err != nil {
			return st, err
		}
	case kw(0, "DESCRIBE") || kw(0, "DESC"):
		if name, ok, err := ps.objectNameOnly(sp, 1); ok || err != nil {
			return &Describe{stmtText: text, Name: name}, err
		}
		return ps.explain(sp)
	case kw(0, "EXPLAIN"):
		return ps.explain(sp)
	case kw(0, "FLUSH") && len(t) == 1:
		return &Flush{stmtText: text}, nil
	case kw(0, "CHECKPOINT") && len(t) == 1:
		return &Checkpoint{stmtText: text}, nil
	}
	if st, ok, err := ps.wireStatement(sp); ok {
		return st, err
	}
	var wedits []edit
	var tvfs []*WindowTVF
	if kw(0, "SELECT") || (len(t) > 0 && t[0].isOp(src, "(")) {
		var err error
		if wedits, tvfs, err = ps.windowEdits(sp); err != nil {
			return nil, err
		}
	}
	node, err := ps.tidb(sp, wedits)
	if err != nil {
		return nil, err
	}
	st := wrapNode(text, node)
	if sel, ok := st.(*Select); ok {
		sel.Windows = tvfs
	}
	return st, nil
}

// wrapNode turns a TiDB statement into a Statement.
func wrapNode(text stmtText, node ast.StmtNode) Statement {
	switch n := node.(type) {
	case *ast.SelectStmt:
		return &Select{stmtText: text, Node: n}
	case *ast.SetOprStmt:
		return &Select{stmtText: text, Node: n}
	case *ast.InsertStmt:
		return &Insert{stmtText: text, Node: n}
	case *ast.UpdateStmt:
		return &Update{stmtText: text, Node: n}
	case *ast.DeleteStmt:
		return &Delete{stmtText: text, Node: n}
	}
	return &Other{stmtText: text, Node: node}
}

// explain parses EXPLAIN stmt (or DESCRIBE stmt).
func (ps *parseState) explain(sp span) (Statement, error) {
	if len(sp.toks) < 2 {
		return nil, ps.errAt(sp.end, sqlerr.SyntaxError, "%s needs a statement", strings.ToUpper(sp.toks[0].text(ps.src)))
	}
	inner, err := ps.parseSpan(sub(sp, 1))
	if err != nil {
		return nil, err
	}
	return &Explain{stmtText: stmtText{ps.src[sp.start:sp.end]}, Stmt: inner}, nil
}

// edit replaces the input bytes [pos, end) with repl before TiDB parses.
type edit struct {
	pos, end int
	repl     string
}

// blank returns an edit that replaces token t with spaces.
func blank(t token) edit { return edit{t.pos, t.end, strings.Repeat(" ", t.end-t.pos)} }

// rewritten is a statement's text as handed to TiDB, with the map back to
// input offsets.
type rewritten struct {
	text  string
	base  int    // input offset of text[0]
	edits []edit // sorted, with ns filled
	ns    []int  // start of each edit's replacement in text
}

// orig maps an offset in text to an input offset; an offset inside a
// replacement maps to the start of the replaced input.
func (rw *rewritten) orig(n int) int {
	// The last edit whose replacement starts at or before n.
	k := sort.SearchInts(rw.ns, n+1) - 1
	if k < 0 {
		return rw.base + n
	}
	e, ns := rw.edits[k], rw.ns[k]
	if n < ns+len(e.repl) {
		return e.pos
	}
	return e.end + (n - ns - len(e.repl))
}

func rewrite(src string, sp span, edits []edit) *rewritten {
	rw := &rewritten{base: sp.start}
	if len(edits) == 0 {
		rw.text = src[sp.start:sp.end]
		return rw
	}
	// By position; an insertion sorts before a replacement at the same
	// position so that both apply.
	sort.SliceStable(edits, func(a, b int) bool {
		ea, eb := edits[a], edits[b]
		if ea.pos != eb.pos {
			return ea.pos < eb.pos
		}
		return ea.end == ea.pos && eb.end != eb.pos
	})
	var b strings.Builder
	b.Grow(sp.end - sp.start + 16*len(edits))
	cur := sp.start
	for _, e := range edits {
		if e.pos < cur { // overlapping edits: keep the first
			continue
		}
		b.WriteString(src[cur:e.pos])
		rw.ns = append(rw.ns, b.Len())
		rw.edits = append(rw.edits, e)
		b.WriteString(e.repl)
		cur = e.end
	}
	b.WriteString(src[cur:sp.end])
	rw.text = b.String()
	return rw
}

// tidb parses sp with TiDB after applying edits (plus the Postgres
// rewrites of $n parameters and :: casts) and returns its one statement.
func (ps *parseState) tidb(sp span, edits []edit) (ast.StmtNode, error) {
	pg, err := ps.pgEdits(sp, edits)
	if err != nil {
		return nil, err
	}
	rw := rewrite(ps.src, sp, append(edits, pg...))
	p := tidbPool.Get().(*tidb.Parser)
	stmts, _, err := p.Parse(rw.text, "", "")
	var node ast.StmtNode
	n := len(stmts)
	if n > 0 {
		node = stmts[0]
	}
	// The result slice belongs to the parser: read it before reuse.
	tidbPool.Put(p)
	if err != nil {
		return nil, ps.tidbError(err, sp, rw)
	}
	if n != 1 {
		return nil, ps.errAt(sp.start, sqlerr.SyntaxError, "expected one statement, got %d", n)
	}
	if err := ps.numberParams(node, sp, rw); err != nil {
		return nil, err
	}
	return node, nil
}

// tidbError converts a TiDB parse error into a positioned *sqlerr.Error.
// TiDB reports `line L column C near "<rest of the text>"<extra>`, where
// the rest starts at the offending token (the column points past it), so
// the length of the rest gives the exact offset.
func (ps *parseState) tidbError(err error, sp span, rw *rewritten) *sqlerr.Error {
	msg := err.Error()
	const nearMark = " near \""
	i := strings.Index(msg, nearMark)
	if !strings.HasPrefix(msg, "line ") || i < 0 {
		return ps.errAt(sp.start, sqlerr.SyntaxError, "%s", cleanTiDBMessage(msg))
	}
	rest := msg[i+len(nearMark):]
	off, extra := -1, ""
	text := rw.text
	if j := strings.LastIndex(rest, "(total length "); j >= 0 {
		if n, err := strconv.Atoi(strings.TrimSuffix(rest[j+len("(total length "):], ")")); err == nil && n <= len(text) {
			off = len(text) - n
		}
	} else if val, ok := strings.CutSuffix(rest, "\" "); ok && strings.HasSuffix(text, val) {
		off = len(text) - len(val)
	} else {
		for k := max(0, len(text)-len(rest)); k <= len(text); k++ {
			if strings.HasPrefix(rest, text[k:]) && len(rest) > len(text)-k && rest[len(text)-k] == '"' {
				off, extra = k, strings.TrimSpace(rest[len(text)-k+1:])
				break
			}
		}
	}
	if off < 0 {
		return ps.errAt(sp.start, sqlerr.SyntaxError, "%s", cleanTiDBMessage(msg))
	}
	pos := rw.orig(off)
	var e *sqlerr.Error
	k, found := slices.BinarySearchFunc(sp.toks, pos, func(t token, p int) int { return t.pos - p })
	switch {
	case pos >= sp.end:
		e = ps.errAt(sp.end, sqlerr.SyntaxError, "syntax error at end of input")
	case found:
		e = ps.errAt(pos, sqlerr.SyntaxError, "syntax error near %q", sp.toks[k].text(ps.src))
	default:
		near := ps.src[pos:sp.end]
		if j := strings.IndexAny(near, " \t\r\n"); j >= 0 {
			near = near[:j]
		}
		if len(near) > 40 {
			near = near[:40]
		}
		e = ps.errAt(pos, sqlerr.SyntaxError, "syntax error near %q", near)
	}
	if extra != "" {
		e.Detail = extra
	}
	return e
}

// cleanTiDBMessage drops TiDB's error class prefix and MySQL manual prose.
func cleanTiDBMessage(msg string) string {
	if strings.HasPrefix(msg, "[") {
		if j := strings.IndexByte(msg, ']'); j >= 0 {
			msg = msg[j+1:]
		}
	}
	if strings.Contains(msg, "You have an error in your SQL syntax") {
		return "syntax error"
	}
	return strings.TrimSpace(msg)
}

// numberParams sets the order of the statement's parameter markers: $n is
// parameter n; plain ? markers are numbered left to right. Mixing both is an
// error.
func (ps *parseState) numberParams(node ast.StmtNode, sp span, rw *rewritten) error {
	v := &paramCollector{}
	node.Accept(v)
	if len(v.params) == 0 {
		return nil
	}
	slices.SortFunc(v.params, func(a, b *test_driver.ParamMarkerExpr) int { return a.Offset - b.Offset })
	dollar, plain := 0, 0
	for i, p := range v.params {
		pos := rw.orig(p.Offset)
		k, found := slices.BinarySearchFunc(sp.toks, pos, func(t token, p int) int { return t.pos - p })
		if found && sp.toks[k].kind == tokParam {
			n, err := strconv.Atoi(sp.toks[k].text(ps.src)[1:])
			if err != nil || n < 1 || n > 65535 {
				return ps.errAt(pos, sqlerr.SyntaxError, "invalid parameter %s", sp.toks[k].text(ps.src))
			}
			p.SetOrder(n - 1)
			dollar++
		} else {
			p.SetOrder(i)
			plain++
		}
		if dollar > 0 && plain > 0 {
			return ps.errAt(pos, sqlerr.SyntaxError, "cannot mix ? and $n parameters")
		}
	}
	return nil
}

// paramCollector gathers parameter markers.
type paramCollector struct {
	params []*test_driver.ParamMarkerExpr
}

// Enter implements ast.Visitor.
func (v *paramCollector) Enter(n ast.Node) (ast.Node, bool) {
	if p, ok := n.(*test_driver.ParamMarkerExpr); ok {
		v.params = append(v.params, p)
	}
	return n, false
}

// Leave implements ast.Visitor.
func (v *paramCollector) Leave(n ast.Node) (ast.Node, bool) { return n, true }
