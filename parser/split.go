package parser

import "strings"

// Piece is one statement of a script as cut by Split.
type Piece struct {
	// Text is the statement's source text without the trailing ';'. For a
	// statement it runs from its first to its last token (surrounding
	// whitespace and comments are dropped); for an empty piece it is the
	// whitespace-trimmed text (comments only).
	Text string
	// Offset is the byte offset of Text in the input; Line is its 1-based
	// line.
	Offset, Line int
	// Empty is true when the piece holds only whitespace and comments.
	Empty bool
}

// span is a statement's byte range [start, end) in the input with its
// significant tokens (no ';').
type span struct {
	start, end int
	toks       []token
}

// splitTokens groups tokens into statements at ';'. rawStart/rawEnd delimit
// the raw text between separators (used for empty pieces).
func splitTokens(src string, toks []token) (spans []span, raws [][2]int) {
	rawStart, first := 0, 0
	flush := func(last, rawEnd int) {
		sp := span{toks: toks[first:last]}
		if len(sp.toks) > 0 {
			sp.start, sp.end = sp.toks[0].pos, sp.toks[len(sp.toks)-1].end
		} else {
			sp.start, sp.end = rawStart, rawEnd
		}
		spans = append(spans, sp)
		raws = append(raws, [2]int{rawStart, rawEnd})
	}
	for i, t := range toks {
		if t.kind == tokSemi {
			flush(i, t.pos)
			rawStart, first = t.end, i+1
		}
	}
	if first < len(toks) || strings.TrimSpace(src[rawStart:]) != "" {
		flush(len(toks), len(src))
	}
	return spans, raws
}

// Split cuts SQL text into statements without parsing them. It respects
// '...', "..." and `...` quotes (doubled quotes and, except in backquotes,
// backslash escapes), -- and # line comments, /* */ block comments and
// Postgres $$ / $tag$ dollar quotes. An unterminated quote or comment runs to
// the end of the input. A whitespace-only tail after the last ';' is not a
// piece; other pieces holding only whitespace and comments are returned with
// Empty set.
func Split(sql string) []Piece {
	toks, lerr := tokenize(sql)
	if lerr != nil {
		// The unterminated construct swallows the rest of the input: make it
		// one opaque word token so it stays in the last statement.
		toks = append(toks, token{kind: tokWord, pos: lerr.pos, end: len(sql)})
	}
	spans, raws := splitTokens(sql, toks)
	pieces := make([]Piece, 0, len(spans))
	var lc lineCounter
	for i, sp := range spans {
		p := Piece{Empty: len(sp.toks) == 0}
		if p.Empty {
			raw := sql[raws[i][0]:raws[i][1]]
			trimmed := strings.TrimLeft(raw, " \t\r\n\f\v")
			p.Offset = raws[i][0] + len(raw) - len(trimmed)
			p.Text = strings.TrimRight(trimmed, " \t\r\n\f\v")
		} else {
			p.Offset, p.Text = sp.start, sql[sp.start:sp.end]
		}
		p.Line = lc.line(sql, p.Offset)
		pieces = append(pieces, p)
	}
	return pieces
}

// lineCounter computes 1-based line numbers for increasing offsets in
// amortised linear time.
type lineCounter struct {
	off, ln int
}

func (lc *lineCounter) line(src string, off int) int {
	if lc.ln == 0 || off < lc.off {
		lc.off, lc.ln = 0, 1
	}
	lc.ln += strings.Count(src[lc.off:off], "\n")
	lc.off = off
	return lc.ln
}
