package parser

import (
	"strings"

	"github.com/sluicedb/sluice/sqlerr"
)

// This file holds the statements the wire server handles itself:
// SUBSCRIBE, COPY ... FROM STDIN, COPY (SUBSCRIBE ...) TO STDOUT and
// transaction control.

// Subscribe is SUBSCRIBE [TO] name [WITH (snapshot [=] true|false)]: stream
// a view's rows (when Snapshot) and then its changes until cancelled.
type Subscribe struct {
	stmtText
	Name string
	// Snapshot is true (the default) to start with the view's current rows.
	Snapshot bool
}

// CopyFormat is the data format of a COPY.
type CopyFormat uint8

// The COPY formats.
const (
	CopyText CopyFormat = iota
	CopyCSV
	CopyBinary
)

// String returns the format's SQL name.
func (f CopyFormat) String() string {
	switch f {
	case CopyCSV:
		return "csv"
	case CopyBinary:
		return "binary"
	}
	return "text"
}

// CopyFrom is COPY name [(columns)] FROM STDIN [[WITH] (option, ...)], also
// in the older form COPY name FROM STDIN [WITH] [BINARY] [DELIMITER [AS] 'x']
// [NULL [AS] 'x'] [CSV [HEADER] [QUOTE [AS] 'q'] [ESCAPE [AS] 'e']].
type CopyFrom struct {
	stmtText
	Table string
	// Columns lists the columns the data holds, in order; nil means all
	// of the table's columns.
	Columns []string
	Format  CopyFormat
	// Header is set when the first line is a header to skip.
	Header bool
	// Delimiter separates fields: tab for text, ',' for CSV by default.
	Delimiter byte
	// Null is the string that stands for NULL: `\N` for text, the empty
	// unquoted string for CSV by default.
	Null string
	// Quote and Escape are CSV's quote and escape characters ('"' both by
	// default).
	Quote, Escape byte
}

// CopySubscribe is COPY (SUBSCRIBE ...) TO STDOUT [[WITH] (FORMAT text)]:
// a subscription streamed as COPY text-format lines.
type CopySubscribe struct {
	stmtText
	Subscribe *Subscribe
}

// TxKind is the kind of a transaction-control statement.
type TxKind uint8

// The transaction-control statements.
const (
	TxBegin    TxKind = iota + 1 // BEGIN, START TRANSACTION
	TxCommit                     // COMMIT, END
	TxRollback                   // ROLLBACK, ABORT
)

// Transaction is BEGIN / START TRANSACTION / COMMIT / END / ROLLBACK /
// ABORT, with optional WORK or TRANSACTION and transaction modes (which are
// accepted and ignored).
type Transaction struct {
	stmtText
	Kind TxKind
}

// wireStatement parses the statements of this file; ok is false for any
// other statement.
func (ps *parseState) wireStatement(sp span) (Statement, bool, error) {
	t, src := sp.toks, ps.src
	kw := func(i int, w string) bool { return i < len(t) && t[i].isWord(src, w) }
	var (
		st  Statement
		err error
	)
	switch {
	case kw(0, "SUBSCRIBE"):
		st, err = ps.subscribe(sp, 0)
	case kw(0, "COPY"):
		st, err = ps.copyStmt(sp)
	case kw(0, "BEGIN"), kw(0, "START") && kw(1, "TRANSACTION"):
		st, err = ps.transaction(sp, TxBegin)
	case kw(0, "COMMIT"), kw(0, "END"):
		st, err = ps.transaction(sp, TxCommit)
	case kw(0, "ROLLBACK"), kw(0, "ABORT"):
		st, err = ps.transaction(sp, TxRollback)
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	return st, true, nil
}

// transaction parses a transaction-control statement.
func (ps *parseState) transaction(sp span, kind TxKind) (Statement, error) {
	c := &cursor{ps: ps, sp: sp, i: 1}
	if kind == TxBegin && sp.toks[0].isWord(ps.src, "START") {
		c.i = 2
	} else if c.word("TRANSACTION") || c.word("WORK") {
		c.i++
	}
	st := &Transaction{stmtText: stmtText{ps.src[sp.start:sp.end]}, Kind: kind}
	switch kind {
	case TxBegin:
		// Transaction modes: ISOLATION LEVEL ..., READ WRITE|ONLY,
		// [NOT] DEFERRABLE, separated by commas.
		for !c.atEnd() {
			switch {
			case c.accept("ISOLATION", "LEVEL"):
				switch {
				case c.accept("SERIALIZABLE"), c.accept("REPEATABLE", "READ"),
					c.accept("READ", "COMMITTED"), c.accept("READ", "UNCOMMITTED"):
				default:
					return nil, c.errHere()
				}
			case c.accept("READ", "WRITE"), c.accept("READ", "ONLY"),
				c.accept("NOT", "DEFERRABLE"), c.accept("DEFERRABLE"):
			default:
				return nil, c.errHere()
			}
			if c.op(",") {
				c.i++
			}
		}
	case TxCommit, TxRollback:
		if kind == TxRollback && (c.word("TO") || c.word("PREPARED")) {
			return nil, ps.errAt(sp.toks[c.i].pos, sqlerr.FeatureNotSupported, "savepoints and prepared transactions are not supported")
		}
		if !c.accept("AND", "CHAIN") {
			c.accept("AND", "NO", "CHAIN")
		}
	}
	return st, c.end()
}

// subscribe parses SUBSCRIBE [TO] name [WITH (snapshot [=] bool)], the
// SUBSCRIBE keyword being token i of sp.
func (ps *parseState) subscribe(sp span, i int) (*Subscribe, error) {
	c := &cursor{ps: ps, sp: sp, i: i + 1}
	st := &Subscribe{stmtText: stmtText{ps.src[sp.start:sp.end]}, Snapshot: true}
	c.accept("TO")
	name, err := c.copyName()
	if err != nil {
		return nil, err
	}
	st.Name = name
	if c.accept("WITH") {
		err := c.optionList(func(opt string, pos int) error {
			if opt == "snapshot" {
				b, err := c.optBool(true)
				st.Snapshot = b
				return err
			}
			return ps.errAt(pos, sqlerr.SyntaxError, "unknown SUBSCRIBE option %q (options: snapshot)", opt)
		})
		if err != nil {
			return nil, err
		}
	}
	return st, c.end()
}

// copyStmt parses COPY name ... FROM STDIN and COPY (SUBSCRIBE ...) TO
// STDOUT.
func (ps *parseState) copyStmt(sp span) (Statement, error) {
	c := &cursor{ps: ps, sp: sp, i: 1}
	text := stmtText{ps.src[sp.start:sp.end]}
	if c.op("(") {
		return ps.copySubscribe(sp, c, text)
	}
	st := &CopyFrom{stmtText: text, Delimiter: '\t', Null: `\N`, Quote: '"', Escape: '"'}
	name, err := c.copyName()
	if err != nil {
		return nil, err
	}
	st.Table = name
	if c.op("(") {
		c.i++
		for {
			col, err := c.copyIdent()
			if err != nil {
				return nil, err
			}
			st.Columns = append(st.Columns, col)
			if c.op(",") {
				c.i++
				continue
			}
			if !c.op(")") {
				return nil, c.errHere()
			}
			c.i++
			break
		}
	}
	if c.word("TO") {
		return nil, ps.errAt(sp.toks[c.i].pos, sqlerr.FeatureNotSupported, "COPY table TO is not supported; use SELECT or COPY (SUBSCRIBE name) TO STDOUT")
	}
	if err := c.expect("FROM"); err != nil {
		return nil, err
	}
	if !c.accept("STDIN") {
		if c.atEnd() {
			return nil, c.errHere()
		}
		return nil, ps.errAt(sp.toks[c.i].pos, sqlerr.FeatureNotSupported, "COPY FROM supports only STDIN (psql: use \\copy to send a file)")
	}
	set := map[string]bool{}
	option := func(opt string, pos int) error {
		set[opt] = true
		switch opt {
		case "format":
			f, err := c.optWord()
			if err != nil {
				return err
			}
			switch f {
			case "text":
				st.Format = CopyText
			case "csv":
				st.Format = CopyCSV
			case "binary":
				st.Format = CopyBinary
			default:
				return ps.errAt(pos, sqlerr.InvalidParameter, "COPY format %q not recognized", f)
			}
		case "header":
			b, err := c.optBool(true)
			if err != nil {
				return err
			}
			st.Header = b
		case "delimiter", "null", "quote", "escape", "encoding":
			s, err := c.optString()
			if err != nil {
				return err
			}
			return st.setOption(opt, s, pos, ps)
		case "freeze":
			_, err := c.optBool(true)
			return err
		default:
			return ps.errAt(pos, sqlerr.SyntaxError, "COPY option %q not recognized", opt)
		}
		return nil
	}
	c.accept("WITH")
	if c.op("(") {
		if err := c.optionList(option); err != nil {
			return nil, err
		}
	} else {
		// The pre-9.0 option syntax, which psql's \copy and old drivers send.
		for !c.atEnd() {
			t := sp.toks[c.i]
			w := strings.ToLower(t.text(ps.src))
			switch {
			case c.accept("BINARY"):
				st.Format = CopyBinary
			case c.accept("CSV"):
				st.Format = CopyCSV
			case c.accept("HEADER"):
				st.Header = true
			case c.word("DELIMITER"), c.word("NULL"), c.word("QUOTE"), c.word("ESCAPE"), c.word("ENCODING"):
				c.i++
				c.accept("AS")
				if err := option(w, t.pos); err != nil {
					return nil, err
				}
			default:
				return nil, c.errHere()
			}
		}
	}
	if st.Format == CopyCSV {
		if !set["delimiter"] {
			st.Delimiter = ','
		}
		if !set["null"] {
			st.Null = ""
		}
		if !set["escape"] {
			st.Escape = st.Quote
		}
	}
	return st, c.end()
}

// copySubscribe parses COPY (SUBSCRIBE ...) TO STDOUT [[WITH] (FORMAT
// text)]; the cursor is at the "(".
func (ps *parseState) copySubscribe(sp span, c *cursor, text stmtText) (Statement, error) {
	open, closeAt, depth := c.i, -1, 0
	for j := open; j < len(sp.toks) && closeAt < 0; j++ {
		switch {
		case sp.toks[j].isOp(ps.src, "("):
			depth++
		case sp.toks[j].isOp(ps.src, ")"):
			if depth--; depth == 0 {
				closeAt = j
			}
		}
	}
	if closeAt < 0 {
		return nil, ps.errAt(sp.end, sqlerr.SyntaxError, "syntax error at end of input")
	}
	if closeAt == open+1 || !sp.toks[open+1].isWord(ps.src, "SUBSCRIBE") {
		return nil, ps.errAt(sp.toks[open+1].pos, sqlerr.FeatureNotSupported, "COPY (query) TO supports only SUBSCRIBE")
	}
	inner := span{start: sp.toks[open+1].pos, end: sp.toks[closeAt-1].end, toks: sp.toks[open+1 : closeAt]}
	sub, err := ps.subscribe(inner, 0)
	if err != nil {
		return nil, err
	}
	c.i = closeAt + 1
	if err := c.expect("TO"); err != nil {
		return nil, err
	}
	if !c.accept("STDOUT") {
		if c.atEnd() {
			return nil, c.errHere()
		}
		return nil, ps.errAt(sp.toks[c.i].pos, sqlerr.FeatureNotSupported, "COPY (SUBSCRIBE ...) supports only TO STDOUT")
	}
	c.accept("WITH")
	if c.op("(") {
		err := c.optionList(func(opt string, pos int) error {
			f := ""
			if opt == "format" {
				var err error
				if f, err = c.optWord(); err != nil {
					return err
				}
			}
			if f != "text" {
				return ps.errAt(pos, sqlerr.FeatureNotSupported, "COPY (SUBSCRIBE ...) TO STDOUT supports only FORMAT text")
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return &CopySubscribe{stmtText: text, Subscribe: sub}, c.end()
}

// setOption sets a string-valued COPY option.
func (st *CopyFrom) setOption(opt, s string, pos int, ps *parseState) error {
	one := func() (byte, error) {
		if len(s) != 1 {
			return 0, ps.errAt(pos, sqlerr.InvalidParameter, "COPY %s must be a single one-byte character", opt)
		}
		return s[0], nil
	}
	var err error
	switch opt {
	case "delimiter":
		st.Delimiter, err = one()
		if err == nil && (st.Delimiter == '\n' || st.Delimiter == '\r' || st.Delimiter == '\\') {
			err = ps.errAt(pos, sqlerr.InvalidParameter, "COPY delimiter cannot be newline, carriage return or backslash")
		}
	case "null":
		st.Null = s
	case "quote":
		st.Quote, err = one()
	case "escape":
		st.Escape, err = one()
	case "encoding":
		if n := strings.ToLower(strings.ReplaceAll(s, "-", "")); n != "utf8" && n != "unicode" {
			err = ps.errAt(pos, sqlerr.FeatureNotSupported, "COPY encoding %q is not supported (only UTF8)", s)
		}
	}
	return err
}

// op reports whether the next token is the operator o.
func (c *cursor) op(o string) bool {
	return c.i < len(c.sp.toks) && c.sp.toks[c.i].isOp(c.ps.src, o)
}

// copyIdent consumes an identifier: a bare word, a backquoted name, or a
// Postgres "double-quoted" name (which drivers send in COPY).
func (c *cursor) copyIdent() (string, error) {
	if c.atEnd() {
		return "", c.errHere()
	}
	t := c.sp.toks[c.i]
	switch t.kind {
	case tokWord:
		c.i++
		return t.text(c.ps.src), nil
	case tokQuotedIdent:
		c.i++
		return unquoteIdent(t.text(c.ps.src)), nil
	case tokDQString:
		c.i++
		s := t.text(c.ps.src)
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`), nil
	}
	return "", c.errHere()
}

// copyName consumes [schema.]name, each part a copyIdent.
func (c *cursor) copyName() (string, error) {
	if c.atEnd() {
		return "", c.errHere()
	}
	pos := c.sp.toks[c.i].pos
	name, err := c.copyIdent()
	if err != nil {
		return "", err
	}
	if c.op(".") {
		c.i++
		schema := name
		if name, err = c.copyIdent(); err != nil {
			return "", err
		}
		if err := c.ps.checkSchema(schema, pos); err != nil {
			return "", err
		}
	}
	return name, nil
}

// optionList parses "( name [[=] value], ... )", calling fn with each
// lower-cased option name and its position; fn consumes the value. The
// cursor must be at the "(".
func (c *cursor) optionList(fn func(opt string, pos int) error) error {
	if !c.op("(") {
		return c.errHere()
	}
	c.i++
	for {
		if c.atEnd() || c.sp.toks[c.i].kind != tokWord {
			return c.errHere()
		}
		t := c.sp.toks[c.i]
		c.i++
		if c.op("=") {
			c.i++
		}
		if err := fn(strings.ToLower(t.text(c.ps.src)), t.pos); err != nil {
			return err
		}
		if c.op(",") {
			c.i++
			continue
		}
		if !c.op(")") {
			return c.errHere()
		}
		c.i++
		return nil
	}
}

// optBool parses an optional boolean option value (true/false/on/off/1/0,
// quoted or not); a missing value means def.
func (c *cursor) optBool(def bool) (bool, error) {
	if c.atEnd() || c.op(",") || c.op(")") {
		return def, nil
	}
	t := c.sp.toks[c.i]
	s := t.text(c.ps.src)
	if t.kind == tokString {
		s = s[1 : len(s)-1]
	} else if t.kind != tokWord && t.kind != tokNumber {
		return false, c.errHere()
	}
	switch strings.ToLower(s) {
	case "true", "on", "1", "yes":
		c.i++
		return true, nil
	case "false", "off", "0", "no":
		c.i++
		return false, nil
	}
	return false, c.ps.errAt(t.pos, sqlerr.InvalidParameter, "%q is not a boolean value", s)
}

// optWord parses a bare or quoted word option value, lower-cased.
func (c *cursor) optWord() (string, error) {
	if c.atEnd() {
		return "", c.errHere()
	}
	t := c.sp.toks[c.i]
	switch t.kind {
	case tokWord:
		c.i++
		return strings.ToLower(t.text(c.ps.src)), nil
	case tokString:
		c.i++
		s := t.text(c.ps.src)
		return strings.ToLower(s[1 : len(s)-1]), nil
	}
	return "", c.errHere()
}

// optString parses a string option value: 'x' (Postgres rules: ”
// doubles a quote, backslash is literal) or E'x' (backslash escapes).
func (c *cursor) optString() (string, error) {
	if c.atEnd() {
		return "", c.errHere()
	}
	t := c.sp.toks[c.i]
	escape := false
	if t.kind == tokWord && strings.EqualFold(t.text(c.ps.src), "E") && c.i+1 < len(c.sp.toks) {
		if next := c.sp.toks[c.i+1]; next.kind == tokString && next.pos == t.end {
			escape = true
			c.i++
			t = next
		}
	}
	if t.kind != tokString {
		return "", c.errHere()
	}
	c.i++
	s := t.text(c.ps.src)
	s = s[1 : len(s)-1]
	if !escape {
		return strings.ReplaceAll(s, "''", "'"), nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == '\'' && i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		if ch != '\\' || i+1 >= len(s) {
			b.WriteByte(ch)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
