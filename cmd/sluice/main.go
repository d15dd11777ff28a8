// Command sluice is the Sluice streaming SQL engine.
//
//	sluice run FILE.sql ...   run SQL files in an embedded engine and print the results
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/parser"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return usage()
	}
	switch args[0] {
	case "run":
		if len(args) < 2 {
			return fmt.Errorf("usage: sluice run FILE.sql ...")
		}
		return runFiles(args[1:], out)
	case "help", "-h", "--help":
		fmt.Fprint(out, usageText)
		return nil
	}
	return usage()
}

const usageText = `usage: sluice <command> [arguments]

commands:
  run FILE.sql ...   run SQL files in an embedded engine, printing each result
`

func usage() error { return fmt.Errorf("%s", strings.TrimSpace(usageText)) }

// runFiles executes SQL files statement by statement in one embedded
// engine, stopping at the first error with its file:line.
func runFiles(files []string, out io.Writer) error {
	eng, err := executor.Open(executor.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()
	ctx := context.Background()
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, piece := range parser.Split(string(text)) {
			if piece.Empty {
				continue
			}
			res, err := eng.Execute(ctx, piece.Text)
			if err != nil {
				return fmt.Errorf("%s:%d: %w", f, piece.Line, err)
			}
			for _, r := range res {
				printResult(out, r)
			}
		}
	}
	return nil
}

// printResult prints a result like psql's aligned format.
func printResult(w io.Writer, r *executor.Result) {
	for _, n := range r.Notices {
		fmt.Fprintln(w, "NOTICE: ", n)
	}
	if !r.HasRows() {
		fmt.Fprintln(w, r.Tag)
		return
	}
	widths := make([]int, len(r.Columns))
	cells := make([][]string, len(r.Rows))
	for i, c := range r.Columns {
		widths[i] = utf8.RuneCountInString(c.Name)
	}
	for i, row := range r.Rows {
		cells[i] = make([]string, len(row))
		for j, d := range row {
			s := ""
			if !d.Null {
				s = d.String()
			}
			cells[i][j] = s
			widths[j] = max(widths[j], utf8.RuneCountInString(s))
		}
	}
	line := func(vals []string, center bool) {
		parts := make([]string, len(vals))
		for i, v := range vals {
			pad := widths[i] - utf8.RuneCountInString(v)
			if center {
				left := pad / 2
				parts[i] = strings.Repeat(" ", left) + v + strings.Repeat(" ", pad-left)
			} else {
				parts[i] = v + strings.Repeat(" ", pad)
			}
		}
		fmt.Fprintln(w, " "+strings.TrimRight(strings.Join(parts, " | "), " "))
	}
	names := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		names[i] = c.Name
	}
	line(names, true)
	seps := make([]string, len(widths))
	for i, wd := range widths {
		seps[i] = strings.Repeat("-", wd+2)
	}
	fmt.Fprintln(w, strings.Join(seps, "+"))
	for _, row := range cells {
		line(row, false)
	}
	if len(r.Rows) == 1 {
		fmt.Fprintln(w, "(1 row)")
	} else {
		fmt.Fprintf(w, "(%d rows)\n", len(r.Rows))
	}
	fmt.Fprintln(w)
}
