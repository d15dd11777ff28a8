package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/sqlerr"
)

func TestPrintResultGolden(t *testing.T) {
	rs := &resultSet{
		Tag:     "SELECT 2",
		Columns: []column{{Name: "id", Numeric: true}, {Name: "name"}, {Name: "note"}},
		Rows: [][]cell{
			{{S: "1"}, {S: "alice"}, {Null: true}},
			{{S: "42"}, {S: "bob"}, {S: "two\nlines"}},
		},
	}
	var b bytes.Buffer
	printResult(&b, rs, printOpts{})
	want := "" +
		" id | name  | note  \n" +
		"----+-------+-------\n" +
		"  1 | alice | \n" +
		" 42 | bob   | two  +\n" +
		"    |       | lines\n" +
		"(2 rows)\n" +
		"\n"
	if got := b.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", quoteLines(got), quoteLines(want))
	}
}

func TestPrintResultSingleColumnAndTitle(t *testing.T) {
	rs := &resultSet{Columns: []column{{Name: "?column?", Numeric: true}}, Rows: [][]cell{{{S: "1"}}}}
	var b bytes.Buffer
	printResult(&b, rs, printOpts{})
	want := " ?column? \n----------\n        1\n(1 row)\n\n"
	if got := b.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", quoteLines(got), quoteLines(want))
	}

	b.Reset()
	rs = &resultSet{Columns: []column{{Name: "Name"}, {Name: "Type"}}, Rows: [][]cell{
		{{S: "clicks"}, {S: "table"}}, {{S: "multi\nline"}, {S: "materialized view"}},
	}}
	printResult(&b, rs, printOpts{Title: "List of relations", NoFooter: true})
	want = "" +
		"     List of relations\n" +
		"  Name  |       Type        \n" +
		"--------+-------------------\n" +
		" clicks | table\n" +
		" multi +| materialized view\n" +
		" line   | \n" +
		"\n"
	if got := b.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", quoteLines(got), quoteLines(want))
	}
}

func TestPrintResultEmptyAndTag(t *testing.T) {
	var b bytes.Buffer
	printResult(&b, &resultSet{Columns: []column{{Name: "a"}, {Name: "bb", Numeric: true}}}, printOpts{})
	if want := " a | bb \n---+----\n(0 rows)\n\n"; b.String() != want {
		t.Fatalf("got %q want %q", b.String(), want)
	}
	b.Reset()
	printResult(&b, &resultSet{Tag: "CREATE TABLE"}, printOpts{})
	if b.String() != "CREATE TABLE\n" {
		t.Fatalf("got %q", b.String())
	}
}

func TestPrintError(t *testing.T) {
	var b bytes.Buffer
	err := &sqlerr.Error{Code: "42P01", Msg: `relation "nope" does not exist`, Position: 19, Hint: "create it"}
	stmt := "SELECT *\n  FROM   nope"
	printError(&b, errors.Join(errors.New("ctx"), err), stmt)
	want := "" +
		"ERROR:  42P01: relation \"nope\" does not exist\n" +
		"HINT:  create it\n" +
		"LINE 2:   FROM   nope\n" +
		"                 ^\n"
	if got := b.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", quoteLines(got), quoteLines(want))
	}
	b.Reset()
	printError(&b, errors.New("boom"), "")
	if b.String() != "ERROR:  boom\n" {
		t.Fatalf("got %q", b.String())
	}
}

func TestPrintTiming(t *testing.T) {
	var b bytes.Buffer
	printTiming(&b, 1234567*time.Nanosecond)
	printTiming(&b, 2500*time.Millisecond)
	if want := "Time: 1.235 ms\nTime: 2500.000 ms (2.5s)\n"; b.String() != want {
		t.Fatalf("got %q want %q", b.String(), want)
	}
}

// quoteLines shows trailing spaces in a failure message.
func quoteLines(s string) string {
	return strings.ReplaceAll(s, " \n", "·\n")
}
