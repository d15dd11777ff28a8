package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/sqlerr"
)

// fileError is a statement error located in a SQL file.
type fileError struct {
	File      string
	Line, Col int // Col is 0 when the error has no position
	Err       error
}

// Error prints "file:line[:col]: message (SQLSTATE code)".
func (e *fileError) Error() string {
	loc := fmt.Sprintf("%s:%d", e.File, e.Line)
	if e.Col > 0 {
		loc += fmt.Sprintf(":%d", e.Col)
	}
	if se, ok := sqlerr.As(e.Err); ok {
		msg := fmt.Sprintf("%s: ERROR:  %s (SQLSTATE %s)", loc, se.Msg, se.Code)
		if se.Detail != "" {
			msg += "\nDETAIL:  " + se.Detail
		}
		if se.Hint != "" {
			msg += "\nHINT:  " + se.Hint
		}
		return msg
	}
	return fmt.Sprintf("%s: %v", loc, e.Err)
}

// Unwrap returns the statement's error.
func (e *fileError) Unwrap() error { return e.Err }

// sqlFiles expands the arguments: a file stands for itself, a directory
// for its *.sql files in lexical order.
func sqlFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(a, "*.sql"))
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", a, err)
		}
		sort.Strings(matches)
		out = append(out, matches...)
	}
	return out, nil
}

// runCommand is `sluice run FILE.sql ...`: the files run in one embedded
// engine, each result printed; the first error stops the run.
func runCommand(args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: sluice run FILE.sql ...")
	}
	files, err := sqlFiles(args)
	if err != nil {
		return err
	}
	eng, err := executor.Open(executor.Options{})
	if err != nil {
		return fmt.Errorf("open engine: %w", err)
	}
	defer eng.Close()
	return runFiles(context.Background(), eng, files, out)
}

// runFiles executes SQL files statement by statement in eng, printing
// each result to out (nil: discard). It stops at the first error, a
// *fileError naming the file and the line (and column, when the error has
// a position) in it.
func runFiles(ctx context.Context, eng *executor.Engine, files []string, out io.Writer) error {
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := runScript(ctx, eng, f, string(text), out); err != nil {
			return err
		}
	}
	return nil
}

// runScript runs one file's text.
func runScript(ctx context.Context, eng *executor.Engine, name, text string, out io.Writer) error {
	for _, piece := range parser.Split(text) {
		if piece.Empty {
			continue
		}
		res, err := eng.Execute(ctx, piece.Text)
		if err != nil {
			line, col := errorLocation(text, piece, err)
			return &fileError{File: name, Line: line, Col: col, Err: err}
		}
		if out == nil {
			continue
		}
		for _, r := range res {
			rs := fromEngineResult(r)
			for _, n := range rs.Notices {
				fmt.Fprintf(out, "NOTICE:  %s\n", n)
			}
			printResult(out, rs, printOpts{})
		}
	}
	return nil
}

// errorLocation maps an error in a piece of text to a line and column of
// the whole text: the statement's line when the error has no position,
// else the line and column of the character the position points at.
func errorLocation(text string, piece parser.Piece, err error) (line, col int) {
	e, ok := sqlerr.As(err)
	if !ok || e.Position < 1 {
		return piece.Line, 0
	}
	// Byte offset of the error within the piece (Position counts runes).
	off, n := 0, 1
	for off < len(piece.Text) && n < e.Position {
		_, size := utf8.DecodeRuneInString(piece.Text[off:])
		off += size
		n++
	}
	abs := piece.Offset + off
	if abs > len(text) {
		abs = len(text)
	}
	before := text[:abs]
	line = strings.Count(before, "\n") + 1
	col = utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
	return line, col
}
