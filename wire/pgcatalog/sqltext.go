package pgcatalog

import (
	"regexp"
	"strings"
)

// normalize returns the canonical form of a statement that catalog
// recognisers match against: comments removed, whitespace outside quotes
// collapsed to one space (none just inside parentheses or around commas),
// text outside quotes lower-cased, trailing semicolons dropped. String
// literals ('...', E'...') and quoted identifiers ("...") are kept verbatim.
func normalize(sql string) string {
	var b strings.Builder
	b.Grow(len(sql))
	pending := false // a space is owed before the next token
	var last byte    // last byte written outside quotes
	emit := func(c byte) {
		if pending && b.Len() > 0 && last != '(' && last != ',' && c != ')' && c != ',' {
			b.WriteByte(' ')
		}
		pending = false
		b.WriteByte(c)
		last = c
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			pending = true
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			depth := 0
			for i < len(sql) {
				if strings.HasPrefix(sql[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(sql[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			pending = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			pending = true
			i++
		case c == '\'' || c == '"':
			escapes := c == '\'' && last == 'e' && i > 0 && (sql[i-1] == 'e' || sql[i-1] == 'E') && (i < 2 || !isIdentByte(sql[i-2]))
			emit(c)
			j := i + 1
			for j < len(sql) {
				if escapes && sql[j] == '\\' && j+1 < len(sql) {
					j += 2
					continue
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(sql) {
				b.WriteString(sql[i+1:])
				i = len(sql)
				last = c
				break
			}
			b.WriteString(sql[i+1 : j+1])
			last = c
			i = j + 1
		default:
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			emit(c)
			i++
		}
	}
	s := b.String()
	for {
		t := strings.TrimRight(s, " ;")
		if t == s {
			break
		}
		s = t
	}
	return s
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// scanTop calls f for every byte of s at parenthesis depth 0 outside quotes,
// with its index; f returns false to stop.
func scanTop(s string, f func(i int) bool) {
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\'', '"':
			j := i + 1
			for j < len(s) {
				if c == '\'' && s[j] == '\\' && j+1 < len(s) && i > 0 && s[i-1] == 'e' {
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j
			continue
		case '(':
			depth++
			continue
		case ')':
			depth--
			continue
		}
		if depth == 0 && !f(i) {
			return
		}
	}
}

// indexTop returns the first index of word (which should include its
// surrounding spaces) in s at depth 0 outside quotes, or -1.
func indexTop(s, word string) int {
	at := -1
	scanTop(s, func(i int) bool {
		if strings.HasPrefix(s[i:], word) {
			at = i
			return false
		}
		return true
	})
	return at
}

// splitTop splits s on sep at depth 0 outside quotes.
func splitTop(s string, sep string) []string {
	var parts []string
	start := 0
	scanTop(s, func(i int) bool {
		if i >= start && strings.HasPrefix(s[i:], sep) {
			parts = append(parts, s[start:i])
			start = i + len(sep)
		}
		return true
	})
	return append(parts, s[start:])
}

// selectParts cuts a normalized "select LIST from REST" into the select
// list items and the text after FROM ("" when there is no FROM).
func selectParts(q string) (items []string, from string, ok bool) {
	if !strings.HasPrefix(q, "select ") {
		return nil, "", false
	}
	body := q[len("select "):]
	if strings.HasPrefix(body, "distinct ") {
		return nil, "", false
	}
	list := body
	if i := indexTop(body, " from "); i >= 0 {
		list, from = body[:i], body[i+len(" from "):]
	}
	for _, it := range splitTop(list, ",") {
		items = append(items, strings.TrimSpace(it))
	}
	return items, from, true
}

var (
	reAliasQuoted = regexp.MustCompile(`\s+as\s+"((?:[^"]|"")*)"$`)
	reAliasBare   = regexp.MustCompile(`[)a-z0-9_"'](?:\s+as)?\s+([a-z_][a-z0-9_$]*)$`)
	reColumnRef   = regexp.MustCompile(`^(?:[a-z_][a-z0-9_]*\.)?([a-z_][a-z0-9_$]*)$`)
	reFuncCall    = regexp.MustCompile(`^(?:[a-z_][a-z0-9_]*\.)?([a-z_][a-z0-9_]*)\(`)
	reCastSuffix  = regexp.MustCompile(`::(?:[a-z_][a-z0-9_]*\.)?([a-z_][a-z0-9_]*)(?:\[\])?$`)
)

// notAlias are words that end an expression rather than name it.
var notAlias = map[string]bool{"end": true, "null": true, "true": true, "false": true, "asc": true, "desc": true,
	"and": true, "or": true, "not": true, "is": true, "distinct": true, "from": true, "default": true}

// columnName derives the output column name Postgres gives a select item:
// its alias, the column's name, the function's name, "case", or
// "?column?".
func columnName(item string) string {
	if m := reAliasQuoted.FindStringSubmatch(item); m != nil {
		return strings.ReplaceAll(m[1], `""`, `"`)
	}
	if m := reAliasBare.FindStringSubmatch(item); m != nil && !notAlias[m[1]] {
		return m[1]
	}
	return exprName(item)
}

func exprName(e string) string {
	e = strings.TrimSpace(e)
	if m := reCastSuffix.FindStringSubmatchIndex(e); m != nil {
		if n := exprName(e[:m[0]]); n != "?column?" {
			return n
		}
		return e[m[2]:m[3]]
	}
	if m := reColumnRef.FindStringSubmatch(e); m != nil {
		switch m[1] {
		case "true", "false":
			return "bool"
		case "null":
			return "?column?"
		}
		return m[1]
	}
	if strings.HasPrefix(e, "case ") {
		return "case"
	}
	if strings.HasPrefix(e, "(select ") && strings.HasSuffix(e, ")") && wrapped(e) {
		items, _, ok := selectParts(e[1 : len(e)-1])
		if ok && len(items) > 0 {
			return columnName(items[0])
		}
	}
	if m := reFuncCall.FindStringSubmatch(e); m != nil && strings.HasSuffix(e, ")") && wrapped(e[len(m[0])-1:]) {
		return m[1]
	}
	return "?column?"
}

// wrapped reports whether s is one parenthesised group: its first '('
// closes at its last byte.
func wrapped(s string) bool {
	if len(s) < 2 || s[0] != '(' {
		return false
	}
	closeAt := -1
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'', '"':
			q := s[i]
			i++
			for i < len(s) && s[i] != q {
				i++
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				closeAt = i
				i = len(s)
			}
		}
	}
	return closeAt == len(s)-1
}

// unquoteLiteral returns the value of a SQL string literal ('..' or E'..').
func unquoteLiteral(s string) (string, bool) {
	escapes := false
	if strings.HasPrefix(s, "e'") || strings.HasPrefix(s, "E'") {
		escapes = true
		s = s[1:]
	}
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return "", false
	}
	body := s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\'' && i+1 < len(body) && body[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case escapes && c == '\\' && i+1 < len(body):
			i++
			switch body[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(body[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// literalPattern is a SQL string literal inside a regular expression.
const literalPattern = `(e?'(?:[^'\\]|''|\\.)*')`

// findLiteral finds the first match of re (whose first group is a SQL
// string literal) and returns the literal's value.
func findLiteral(re *regexp.Regexp, q string) (string, bool) {
	m := re.FindStringSubmatch(q)
	if m == nil {
		return "", false
	}
	return unquoteLiteral(m[1])
}

// likeToRegexp compiles a SQL LIKE pattern (with \ as the escape) into an
// anchored regular expression.
func likeToRegexp(p string, fold bool) (*regexp.Regexp, error) {
	var b strings.Builder
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteString(`(?s)^`)
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(p[i : i+1]))
			}
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// matchParen returns the index of the ')' closing the '(' at s[open], or -1.
func matchParen(s string, open int) int {
	if open >= len(s) || s[open] != '(' {
		return -1
	}
	depth := 0
	inQuote := byte(0)
	for i := open; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote != 0:
			if c == inQuote {
				inQuote = 0
			}
		case c == '\'' || c == '"':
			inQuote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
