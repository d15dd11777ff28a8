package parser

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicedb/sluice/sqlerr"
)

// WindowKind is the kind of a window table function.
type WindowKind uint8

// The window table functions.
const (
	Tumble WindowKind = iota + 1
	Hop
	Session
)

// String names the function.
func (k WindowKind) String() string {
	switch k {
	case Tumble:
		return "TUMBLE"
	case Hop:
		return "HOP"
	case Session:
		return "SESSION"
	}
	return "WINDOW"
}

// WindowTVF is a window table function in FROM:
//
//	TUMBLE(t, ts, size)
//	HOP(t, ts, slide, size)
//	SESSION(t, ts, gap [, key ...])   -- sessions per key (all rows when no key)
//
// TiDB's grammar has no table functions, so the call is replaced in the
// text TiDB parses by a table named Placeholder; the planner resolves that
// name to this function.
type WindowTVF struct {
	Placeholder string
	Kind        WindowKind
	Table       string
	TimeCol     string
	// Size is the window length (TUMBLE, HOP), Slide the HOP step, Gap the
	// SESSION inactivity gap, all in microseconds.
	Size, Slide, Gap int64
	// Keys partition SESSION windows.
	Keys []string
}

// WindowPlaceholderPrefix starts the table names that stand for window
// table functions in TiDB ASTs.
const WindowPlaceholderPrefix = "__sluice_window_"

// Watermark is `WATERMARK FOR col AS col - INTERVAL ...` in CREATE TABLE:
// rows older than the largest Column value seen minus Delay are late.
type Watermark struct {
	Column string
	Delay  int64 // microseconds
}

// windowEdits finds window table functions in FROM clauses of sp and
// returns the edits that replace them with placeholder table names.
func (ps *parseState) windowEdits(sp span) ([]edit, []*WindowTVF, error) {
	t, src := sp.toks, ps.src
	var edits []edit
	var tvfs []*WindowTVF
	inFrom := make(map[int]bool) // paren depth → inside a FROM clause
	depth := 0
	for i := 0; i < len(t); i++ {
		tk := t[i]
		switch {
		case tk.isOp(src, "("):
			depth++
			inFrom[depth] = false
			continue
		case tk.isOp(src, ")"):
			depth--
			continue
		case tk.isWord(src, "FROM"):
			inFrom[depth] = true
			continue
		case tk.isWord(src, "WHERE") || tk.isWord(src, "GROUP") || tk.isWord(src, "HAVING") ||
			tk.isWord(src, "ORDER") || tk.isWord(src, "LIMIT") || tk.isWord(src, "SELECT") || tk.isWord(src, "ON"):
			inFrom[depth] = false
			continue
		}
		if !inFrom[depth] || tk.kind != tokWord || i+1 >= len(t) || !t[i+1].isOp(src, "(") {
			continue
		}
		var kind WindowKind
		switch strings.ToUpper(tk.text(src)) {
		case "TUMBLE":
			kind = Tumble
		case "HOP":
			kind = Hop
		case "SESSION":
			kind = Session
		default:
			continue
		}
		if i > 0 && !(t[i-1].isWord(src, "FROM") || t[i-1].isWord(src, "JOIN") || t[i-1].isOp(src, ",")) {
			continue
		}
		tvf, end, err := ps.windowCall(sp, i, kind)
		if err != nil {
			return nil, nil, err
		}
		tvf.Placeholder = fmt.Sprintf("%s%d", WindowPlaceholderPrefix, len(tvfs)+1)
		tvfs = append(tvfs, tvf)
		edits = append(edits, edit{tk.pos, t[end].end, tvf.Placeholder})
		i = end
	}
	return edits, tvfs, nil
}

// windowCall parses the window function call starting at token i; it
// returns the index of its closing parenthesis.
func (ps *parseState) windowCall(sp span, i int, kind WindowKind) (*WindowTVF, int, error) {
	t, src := sp.toks, ps.src
	// Split the arguments at top-level commas.
	var args [][2]int // token index ranges [from, to)
	depth, start, end := 0, i+2, -1
	for j := i + 1; j < len(t); j++ {
		switch {
		case t[j].isOp(src, "("):
			depth++
		case t[j].isOp(src, ")"):
			depth--
			if depth == 0 {
				args = append(args, [2]int{start, j})
				end = j
			}
		case depth == 1 && t[j].isOp(src, ","):
			args = append(args, [2]int{start, j})
			start = j + 1
		}
		if end >= 0 {
			break
		}
	}
	if end < 0 {
		return nil, 0, ps.errAt(sp.end, sqlerr.SyntaxError, "syntax error at end of input: %s( is not closed", kind)
	}
	want := map[WindowKind]string{
		Tumble:  "TUMBLE(table, time_column, INTERVAL size)",
		Hop:     "HOP(table, time_column, INTERVAL slide, INTERVAL size)",
		Session: "SESSION(table, time_column, INTERVAL gap [, key_column ...])",
	}[kind]
	bad := func(at int, what string) error {
		pos := sp.end
		if at < len(t) {
			pos = t[at].pos
		}
		return ps.errAt(pos, sqlerr.SyntaxError, "%s; the form is %s", what, want)
	}
	nArgs := map[WindowKind]int{Tumble: 3, Hop: 4, Session: 3}[kind]
	if len(args) < nArgs || (kind != Session && len(args) > nArgs) {
		return nil, 0, bad(i, fmt.Sprintf("%s takes %d arguments, got %d", kind, nArgs, len(args)))
	}
	ident := func(a [2]int, what string) (string, error) {
		if a[1]-a[0] != 1 || (t[a[0]].kind != tokWord && t[a[0]].kind != tokQuotedIdent) {
			return "", bad(a[0], fmt.Sprintf("%s must be a name", what))
		}
		return unquoteIdent(t[a[0]].text(src)), nil
	}
	tvf := &WindowTVF{Kind: kind}
	var err error
	if tvf.Table, err = ident(args[0], "the first argument (the table)"); err != nil {
		return nil, 0, err
	}
	if tvf.TimeCol, err = ident(args[1], "the second argument (the time column)"); err != nil {
		return nil, 0, err
	}
	iv := func(a [2]int, what string) (int64, error) {
		c := &cursor{ps: ps, sp: span{start: sp.start, end: sp.end, toks: t[:a[1]]}, i: a[0]}
		us, err := c.interval()
		if err != nil {
			return 0, err
		}
		if !c.atEnd() {
			return 0, bad(c.i, fmt.Sprintf("%s must be an INTERVAL", what))
		}
		if us <= 0 {
			return 0, bad(a[0], fmt.Sprintf("%s must be positive", what))
		}
		return us, nil
	}
	switch kind {
	case Tumble:
		if tvf.Size, err = iv(args[2], "the window size"); err != nil {
			return nil, 0, err
		}
		tvf.Slide = tvf.Size
	case Hop:
		if tvf.Slide, err = iv(args[2], "the slide"); err != nil {
			return nil, 0, err
		}
		if tvf.Size, err = iv(args[3], "the window size"); err != nil {
			return nil, 0, err
		}
		if tvf.Size%tvf.Slide != 0 {
			return nil, 0, bad(args[3][0], "the HOP window size must be a multiple of the slide")
		}
	case Session:
		if tvf.Gap, err = iv(args[2], "the session gap"); err != nil {
			return nil, 0, err
		}
		for _, a := range args[3:] {
			k, err := ident(a, "a session key")
			if err != nil {
				return nil, 0, err
			}
			tvf.Keys = append(tvf.Keys, k)
		}
	}
	return tvf, end, nil
}

// interval parses INTERVAL n UNIT, INTERVAL 'n' UNIT or INTERVAL 'n units'
// into microseconds. Units of variable length (MONTH, YEAR) are refused:
// windows and watermarks need fixed durations.
func (c *cursor) interval() (int64, error) {
	if !c.accept("INTERVAL") {
		return 0, c.errHere()
	}
	if c.atEnd() {
		return 0, c.errHere()
	}
	src := c.ps.src
	tk := c.sp.toks[c.i]
	var num, unit string
	switch tk.kind {
	case tokNumber:
		num = tk.text(src)
	case tokString, tokDQString:
		s := strings.TrimSpace(tk.text(src)[1 : len(tk.text(src))-1])
		if f := strings.Fields(s); len(f) == 2 {
			num, unit = f[0], f[1]
		} else {
			num = s
		}
	default:
		return 0, c.errHere()
	}
	c.i++
	if unit == "" {
		if c.atEnd() || c.sp.toks[c.i].kind != tokWord {
			return 0, c.errHere()
		}
		unit = c.sp.toks[c.i].text(src)
		c.i++
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, c.ps.errAt(tk.pos, sqlerr.SyntaxError, "invalid interval value %q", num)
	}
	u := strings.ToUpper(unit)
	if pg, ok := intervalUnits[strings.ToLower(unit)]; ok {
		u = pg
	}
	scale, ok := unitMicros[u]
	if !ok {
		return 0, c.ps.errAt(tk.pos, sqlerr.SyntaxError, "interval unit %q is not a fixed duration (use MICROSECOND ... WEEK)", unit)
	}
	return int64(n * float64(scale)), nil
}

// unitMicros is the length of each fixed-duration interval unit.
var unitMicros = map[string]int64{
	"MICROSECOND": 1, "SECOND": 1e6, "MINUTE": 60e6, "HOUR": 3600e6, "DAY": 86400e6, "WEEK": 7 * 86400e6,
}

// watermarkElement finds `WATERMARK FOR col AS expr` among the elements of
// CREATE TABLE's column list; it returns the parsed watermark and the edits
// that remove the element (with its separating comma) from the text TiDB
// parses.
func (ps *parseState) watermarkElement(sp span) (*Watermark, []edit, error) {
	t, src := sp.toks, ps.src
	depth := 0
	for i, tk := range t {
		switch {
		case tk.isOp(src, "("):
			depth++
			continue
		case tk.isOp(src, ")"):
			depth--
			continue
		}
		if depth != 1 || !tk.isWord(src, "WATERMARK") || i == 0 || !(t[i-1].isOp(src, ",") || t[i-1].isOp(src, "(")) {
			continue
		}
		// The element runs to the next top-level ',' or ')'.
		end, d := i, 0
		for end = i; end < len(t); end++ {
			if t[end].isOp(src, "(") {
				d++
			} else if t[end].isOp(src, ")") {
				if d == 0 {
					break
				}
				d--
			} else if d == 0 && t[end].isOp(src, ",") {
				break
			}
		}
		c := &cursor{ps: ps, sp: span{start: sp.start, end: sp.end, toks: t[:end]}, i: i + 1}
		if err := c.expect("FOR"); err != nil {
			return nil, nil, err
		}
		col, _, ok := c.ident()
		if !ok {
			return nil, nil, c.errHere()
		}
		if err := c.expect("AS"); err != nil {
			return nil, nil, err
		}
		col2, _, ok := c.ident()
		if !ok || !strings.EqualFold(col, col2) {
			return nil, nil, c.ps.errAt(t[c.i-1].pos, sqlerr.SyntaxError, "a watermark is written WATERMARK FOR %s AS %s - INTERVAL ...", col, col)
		}
		wm := &Watermark{Column: col}
		if !c.atEnd() {
			if !c.sp.toks[c.i].isOp(src, "-") {
				return nil, nil, c.errHere()
			}
			c.i++
			var err error
			if wm.Delay, err = c.interval(); err != nil {
				return nil, nil, err
			}
			if err := c.end(); err != nil {
				return nil, nil, err
			}
		}
		var edits []edit
		// Remove the element and one adjacent comma.
		from := i
		if t[i-1].isOp(src, ",") {
			from = i - 1
		} else if end < len(t) && t[end].isOp(src, ",") {
			end++
		}
		for k := from; k < end; k++ {
			edits = append(edits, blank(t[k]))
		}
		return wm, edits, nil
	}
	return nil, nil, nil
}

// emitOnWindowClose finds a trailing EMIT ON WINDOW CLOSE and returns the
// span without it.
func (ps *parseState) emitOnWindowClose(sp span) (span, bool) {
	t, src := sp.toks, ps.src
	n := len(t)
	if n >= 4 && t[n-4].isWord(src, "EMIT") && t[n-3].isWord(src, "ON") && t[n-2].isWord(src, "WINDOW") && t[n-1].isWord(src, "CLOSE") {
		return span{start: sp.start, end: t[n-5].end, toks: t[:n-4]}, true
	}
	return sp, false
}
