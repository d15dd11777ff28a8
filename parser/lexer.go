package parser

import "strings"

// tokKind classifies a lexical token. The lexer is deliberately shallow: it
// knows enough about MySQL and Postgres quoting and comments to find
// statement boundaries and to recognise Sluice's extension keywords, and it
// leaves real grammar work to TiDB.
type tokKind uint8

const (
	tokWord        tokKind = iota + 1 // bare identifier or keyword
	tokQuotedIdent                    // `identifier`
	tokString                         // 'string'
	tokDQString                       // "string" (a string in MySQL's default mode)
	tokDollarStr                      // $$...$$ or $tag$...$tag$
	tokNumber                         // 12, 1.5e3, 0x1F
	tokParam                          // $1
	tokOp                             // operator or punctuation
	tokSemi                           // ;
)

// token is one significant token; comments and whitespace are skipped.
// pos and end are byte offsets into the lexed string.
type token struct {
	kind     tokKind
	pos, end int
}

// lexError is a lexical error at a byte offset.
type lexError struct {
	pos int
	msg string
}

// multi-character operators, longest first.
var multiOps = []string{"<=>", "->>", "::", "<=", ">=", "<>", "!=", ":=", "||", "&&", "<<", ">>", "->"}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c == '$' || (c >= '0' && c <= '9')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// tokenize lexes src into significant tokens. On a lexical error (an
// unterminated quote or comment) it returns the tokens before the error
// together with the error.
func tokenize(src string) ([]token, *lexError) {
	toks := make([]token, 0, len(src)/4+1)
	i, n := 0, len(src)
	for i < n {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '#':
			i = skipLine(src, i)
			continue
		case c == '-' && i+1 < n && src[i+1] == '-' && (i+2 >= n || src[i+2] <= ' '):
			// MySQL requires whitespace (or a control character) after "--".
			i = skipLine(src, i)
			continue
		case c == '/' && i+1 < n && src[i+1] == '*':
			j := strings.Index(src[i+2:], "*/")
			if j < 0 {
				return toks, &lexError{i, "unterminated /* comment"}
			}
			i += 2 + j + 2
			continue
		}
		start := i
		var kind tokKind
		switch {
		case c == ';':
			kind, i = tokSemi, i+1
		case c == '\'' || c == '"' || c == '`':
			end, ok := skipQuoted(src, i, c)
			if !ok {
				what := "quoted string"
				if c == '`' {
					what = "quoted identifier"
				}
				return toks, &lexError{i, "unterminated " + what}
			}
			kind, i = quoteKind(c), end
		case c == '$':
			kind, i = lexDollar(src, i)
			if kind == 0 {
				return toks, &lexError{start, "unterminated dollar-quoted string"}
			}
		case isDigit(c) || (c == '.' && i+1 < n && isDigit(src[i+1])):
			i = lexNumber(src, i)
			kind = tokNumber
			if i < n && isIdentChar(src[i]) {
				// MySQL identifiers may start with digits (1abc).
				for i < n && isIdentChar(src[i]) {
					i++
				}
				kind = tokWord
			}
		case isIdentStart(c):
			for i < n && isIdentChar(src[i]) {
				i++
			}
			kind = tokWord
		default:
			kind = tokOp
			i++
			for _, op := range multiOps {
				if strings.HasPrefix(src[start:], op) {
					i = start + len(op)
					break
				}
			}
		}
		toks = append(toks, token{kind: kind, pos: start, end: i})
	}
	return toks, nil
}

func quoteKind(q byte) tokKind {
	switch q {
	case '\'':
		return tokString
	case '"':
		return tokDQString
	}
	return tokQuotedIdent
}

// skipLine returns the offset just after the end of the line containing i.
func skipLine(src string, i int) int {
	j := strings.IndexByte(src[i:], '\n')
	if j < 0 {
		return len(src)
	}
	return i + j + 1
}

// skipQuoted returns the offset after the quoted token starting at i with
// quote q. Doubled quotes escape the quote; backslash escapes apply to
// strings but not to backquoted identifiers, as in MySQL.
func skipQuoted(src string, i int, q byte) (int, bool) {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			if j+1 < len(src) && src[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return len(src), false
}

// lexDollar lexes a token starting with '$': a parameter ($1), a
// dollar-quoted string ($$...$$, $tag$...$tag$) or a MySQL identifier that
// starts with '$'. It returns kind 0 for an unterminated dollar quote.
func lexDollar(src string, i int) (tokKind, int) {
	n := len(src)
	j := i + 1
	if j < n && isDigit(src[j]) {
		for j < n && isDigit(src[j]) {
			j++
		}
		if j < n && isIdentChar(src[j]) {
			for j < n && isIdentChar(src[j]) {
				j++
			}
			return tokWord, j
		}
		return tokParam, j
	}
	for j < n && isIdentChar(src[j]) && src[j] != '$' {
		j++
	}
	if j < n && src[j] == '$' {
		tag := src[i : j+1]
		k := strings.Index(src[j+1:], tag)
		if k < 0 {
			return 0, n
		}
		return tokDollarStr, j + 1 + k + len(tag)
	}
	for j < n && isIdentChar(src[j]) {
		j++
	}
	if j == i+1 {
		return tokOp, j
	}
	return tokWord, j
}

// lexNumber returns the end of the number starting at i.
func lexNumber(src string, i int) int {
	n := len(src)
	if src[i] == '0' && i+1 < n && (src[i+1] == 'x' || src[i+1] == 'X' || src[i+1] == 'b' || src[i+1] == 'B') {
		j := i + 2
		for j < n && (isDigit(src[j]) || (src[j]|0x20 >= 'a' && src[j]|0x20 <= 'f')) {
			j++
		}
		if j > i+2 {
			return j
		}
	}
	for i < n && isDigit(src[i]) {
		i++
	}
	if i < n && src[i] == '.' {
		i++
		for i < n && isDigit(src[i]) {
			i++
		}
	}
	if i < n && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < n && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j < n && isDigit(src[j]) {
			for j < n && isDigit(src[j]) {
				j++
			}
			i = j
		}
	}
	return i
}

// text returns the source text of t.
func (t token) text(src string) string { return src[t.pos:t.end] }

// isWord reports whether t is the bare word kw (case-insensitive).
func (t token) isWord(src, kw string) bool {
	return t.kind == tokWord && t.end-t.pos == len(kw) && strings.EqualFold(src[t.pos:t.end], kw)
}

// isOp reports whether t is the operator or punctuation op.
func (t token) isOp(src, op string) bool {
	return t.kind == tokOp && src[t.pos:t.end] == op
}
