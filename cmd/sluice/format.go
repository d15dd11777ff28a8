package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicedb/sluice/sqlerr"
)

// column is one column of a result set as the printer sees it.
type column struct {
	Name string
	// Numeric columns are right-aligned, as psql aligns numbers.
	Numeric bool
}

// cell is one value in text form; Null prints as an empty cell.
type cell struct {
	S    string
	Null bool
}

// resultSet is one statement's outcome in a form both backends produce:
// either a row set (Columns non-nil) or only a command tag.
type resultSet struct {
	Tag     string
	Columns []column
	Rows    [][]cell
	Notices []string
}

// hasRows reports whether the statement returned a row set.
func (r *resultSet) hasRows() bool { return r.Columns != nil }

// printOpts adjusts printResult.
type printOpts struct {
	// Title is centred above the table (psql's "List of relations").
	Title string
	// NoFooter drops the "(N rows)" line (psql's \d NAME has none).
	NoFooter bool
}

// printResult writes r the way psql's aligned format does: a centred
// header, a rule, the rows (numbers right-aligned, NULL empty, a '+' at
// the right edge of a cell that continues on the next line) and "(N rows)"
// followed by a blank line. A statement without rows prints its tag.
// The options add a centred title and drop the footer.
func printResult(w io.Writer, r *resultSet, opt printOpts) {
	title := opt.Title
	if !r.hasRows() {
		if r.Tag != "" {
			fmt.Fprintln(w, r.Tag)
		}
		return
	}
	ncol := len(r.Columns)
	widths := make([]int, ncol)
	header := make([][]string, ncol)
	for i, c := range r.Columns {
		header[i] = strings.Split(c.Name, "\n")
		for _, l := range header[i] {
			widths[i] = max(widths[i], displayWidth(l))
		}
	}
	// Split every cell into its lines once.
	lines := make([][][]string, len(r.Rows))
	for i, row := range r.Rows {
		lines[i] = make([][]string, ncol)
		for j := 0; j < ncol && j < len(row); j++ {
			c := row[j]
			if c.Null {
				lines[i][j] = []string{""}
				continue
			}
			lines[i][j] = strings.Split(c.S, "\n")
			for _, l := range lines[i][j] {
				widths[j] = max(widths[j], displayWidth(l))
			}
		}
		for j := len(row); j < ncol; j++ {
			lines[i][j] = []string{""}
		}
	}
	if title != "" {
		total := 0
		for _, wd := range widths {
			total += wd + 3
		}
		total-- // the outer borders are one space each, separators three
		pad := max(0, (total-displayWidth(title))/2)
		fmt.Fprintln(w, strings.Repeat(" ", pad)+title)
	}
	var sb strings.Builder
	writeRow(&sb, header, widths, nil, true)
	for i, wd := range widths {
		if i > 0 {
			sb.WriteByte('+')
		}
		sb.WriteString(strings.Repeat("-", wd+2))
	}
	sb.WriteByte('\n')
	right := make([]bool, ncol)
	for i, c := range r.Columns {
		right[i] = c.Numeric
	}
	for _, row := range lines {
		writeRow(&sb, row, widths, right, false)
	}
	if !opt.NoFooter {
		if len(r.Rows) == 1 {
			sb.WriteString("(1 row)\n")
		} else {
			fmt.Fprintf(&sb, "(%d rows)\n", len(r.Rows))
		}
	}
	sb.WriteByte('\n')
	io.WriteString(w, sb.String())
}

// writeRow writes one logical row, which spans as many physical lines as
// its tallest cell. Header cells are centred and padded to the full width
// (psql leaves a trailing space after the header); data cells are
// left-aligned, or right-aligned where right is set, and the last column
// is not padded unless it continues on the next line.
func writeRow(sb *strings.Builder, cells [][]string, widths []int, right []bool, header bool) {
	height := 1
	for _, c := range cells {
		height = max(height, len(c))
	}
	last := len(cells) - 1
	for k := 0; k < height; k++ {
		var line strings.Builder
		line.WriteByte(' ')
		for j, c := range cells {
			text := ""
			if k < len(c) {
				text = c[k]
			}
			more := k < len(c)-1
			pad := widths[j] - displayWidth(text)
			switch {
			case header:
				left := pad / 2
				line.WriteString(strings.Repeat(" ", left) + text + strings.Repeat(" ", pad-left))
			case right != nil && right[j]:
				line.WriteString(strings.Repeat(" ", pad) + text)
			default:
				line.WriteString(text)
				if j < last || more {
					line.WriteString(strings.Repeat(" ", pad))
				}
			}
			marker := " "
			if more {
				marker = "+"
			}
			if j < last {
				line.WriteString(marker + "| ")
			} else if more || header {
				line.WriteString(marker)
			}
		}
		sb.WriteString(line.String())
		sb.WriteByte('\n')
	}
}

// displayWidth is the number of terminal columns s takes (one per rune;
// wide characters are not special-cased).
func displayWidth(s string) int { return utf8.RuneCountInString(s) }

// printTiming writes psql's "Time: 1.234 ms" line.
func printTiming(w io.Writer, d time.Duration) {
	ms := float64(d.Nanoseconds()) / 1e6
	if ms < 1000 {
		fmt.Fprintf(w, "Time: %.3f ms\n", ms)
		return
	}
	fmt.Fprintf(w, "Time: %.3f ms (%s)\n", ms, d.Round(time.Millisecond))
}

// printError writes an error the way psql does with VERBOSITY verbose:
// "ERROR:  SQLSTATE: message", then DETAIL/HINT lines and, when the error
// has a position in stmt, the offending line with a caret under the
// position.
func printError(w io.Writer, err error, stmt string) {
	e, ok := sqlerr.As(err)
	if !ok {
		fmt.Fprintf(w, "ERROR:  %v\n", err)
		return
	}
	fmt.Fprintf(w, "ERROR:  %s: %s\n", e.Code, e.Msg)
	if e.Detail != "" {
		fmt.Fprintf(w, "DETAIL:  %s\n", e.Detail)
	}
	if e.Hint != "" {
		fmt.Fprintf(w, "HINT:  %s\n", e.Hint)
	}
	if e.Position > 0 && stmt != "" {
		line, col, text, ok := locate(stmt, e.Position)
		if ok {
			prefix := fmt.Sprintf("LINE %d: ", line)
			fmt.Fprintf(w, "%s%s\n", prefix, text)
			fmt.Fprintf(w, "%s^\n", strings.Repeat(" ", displayWidth(prefix)+col-1))
		}
	}
}

// locate finds the 1-based line and column of the 1-based character
// position pos in s, and the text of that line.
func locate(s string, pos int) (line, col int, text string, ok bool) {
	if pos < 1 || pos > utf8.RuneCountInString(s)+1 {
		return 0, 0, "", false
	}
	line, col = 1, 1
	lineStart := 0
	n := 1
	for i, r := range s {
		if n == pos {
			break
		}
		n++
		if r == '\n' {
			line, col, lineStart = line+1, 1, i+1
		} else {
			col++
		}
	}
	end := strings.IndexByte(s[lineStart:], '\n')
	if end < 0 {
		end = len(s) - lineStart
	}
	return line, col, strings.TrimRight(s[lineStart:lineStart+end], "\r"), true
}
