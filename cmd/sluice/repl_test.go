package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicedb/sluice/sqlerr"
)

// fakeBackend records statements and answers SHOW/DESCRIBE.
type fakeBackend struct {
	stmts []string
}

func (f *fakeBackend) Exec(_ context.Context, sql string) (*resultSet, error) {
	f.stmts = append(f.stmts, sql)
	switch {
	case sql == "SHOW TABLES":
		return &resultSet{Columns: []column{{Name: "name"}}, Rows: [][]cell{{{S: "clicks"}}}}, nil
	case sql == "SHOW MATERIALIZED VIEWS":
		return &resultSet{Columns: []column{{Name: "name"}}, Rows: [][]cell{{{S: "trending"}}}}, nil
	case strings.HasPrefix(sql, "DESCRIBE nope"):
		return nil, sqlerr.Planf(sqlerr.UndefinedTable, `relation "nope" does not exist`)
	case strings.HasPrefix(sql, "DESCRIBE"):
		return &resultSet{Columns: []column{{Name: "name"}, {Name: "type"}}, Rows: [][]cell{{{S: "item_id"}, {S: "bigint"}}}}, nil
	case strings.HasPrefix(sql, "BAD"):
		return nil, &sqlerr.Error{Code: sqlerr.SyntaxError, Msg: "syntax error", Position: 1}
	}
	return &resultSet{Tag: "OK"}, nil
}

func (f *fakeBackend) ConnInfo() string { return "fake connection" }
func (f *fakeBackend) Close() error     { return nil }

func TestSplitInput(t *testing.T) {
	cases := []struct {
		in    string
		stmts []string
		rest  string
		done  bool
	}{
		{"SELECT 1", nil, "SELECT 1", false},
		{"SELECT 1;", []string{"SELECT 1"}, "", true},
		{"SELECT 1; -- trailing ; comment", []string{"SELECT 1"}, "", true},
		{"SELECT 1 -- not the end;", nil, "SELECT 1 -- not the end;", false},
		{"SELECT 'a;b'", nil, "SELECT 'a;b'", false},
		{"SELECT 'a;\nb';", []string{"SELECT 'a;\nb'"}, "", true},
		{"SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}, "", true},
		{"SELECT 1; SELECT", []string{"SELECT 1"}, "SELECT", false},
		{"/* open ; comment", nil, "/* open ; comment", false},
		{"/* closed */ SELECT 1;", []string{"SELECT 1"}, "", true},
		{"-- only a comment", nil, "", true},
		{"SELECT $$a;b$$;", []string{"SELECT $$a;b$$"}, "", true},
	}
	for _, c := range cases {
		stmts, rest, done := splitInput(c.in)
		var texts []string
		for _, p := range stmts {
			texts = append(texts, p.Text)
		}
		if !reflect.DeepEqual(texts, c.stmts) || rest != c.rest || done != c.done {
			t.Errorf("splitInput(%q) = %q, %q, %v; want %q, %q, %v", c.in, texts, rest, done, c.stmts, c.rest, c.done)
		}
	}
}

func TestParseMeta(t *testing.T) {
	cases := []struct {
		in   string
		want metaCommand
	}{
		{`\q`, metaCommand{Name: "q"}},
		{`  \d  `, metaCommand{Name: "d"}},
		{`\d+ clicks`, metaCommand{Name: "d", Args: []string{"clicks"}}},
		{`\i 'my file.sql'`, metaCommand{Name: "i", Args: []string{"my file.sql"}}},
		{`\timing   off`, metaCommand{Name: "timing", Args: []string{"off"}}},
		{"\\dm\tx", metaCommand{Name: "dm", Args: []string{"x"}}},
		{`\d "Mixed Case"`, metaCommand{Name: "d", Args: []string{"Mixed Case"}}},
	}
	for _, c := range cases {
		if got := parseMeta(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseMeta(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// feedAll runs lines through a REPL with timing off.
func feedAll(t *testing.T, lines ...string) (*fakeBackend, string, string, bool) {
	t.Helper()
	fb := &fakeBackend{}
	var out, errw bytes.Buffer
	r := newREPL(fb, &out, &errw)
	r.timing = false
	quit := false
	for _, l := range lines {
		r.srcLine++
		if q, _ := r.feed(l); q {
			quit = true
			break
		}
	}
	return fb, out.String(), errw.String(), quit
}

func TestMultiLineAccumulation(t *testing.T) {
	fb, _, _, _ := feedAll(t,
		"SELECT a,",
		"  'x;y' -- comment ;",
		"FROM t;",
		"INSERT INTO t VALUES (1); INSERT INTO t",
		"VALUES (2);",
	)
	want := []string{"SELECT a,\n  'x;y' -- comment ;\nFROM t", "INSERT INTO t VALUES (1)", "INSERT INTO t\nVALUES (2)"}
	if !reflect.DeepEqual(fb.stmts, want) {
		t.Fatalf("statements %q, want %q", fb.stmts, want)
	}
}

func TestPromptFollowsBuffer(t *testing.T) {
	r := newREPL(&fakeBackend{}, io.Discard, io.Discard)
	if r.prompt() != "sluice=> " {
		t.Fatalf("prompt %q", r.prompt())
	}
	r.feed("SELECT")
	if r.prompt() != "sluice-> " {
		t.Fatalf("continuation prompt %q", r.prompt())
	}
	r.feed("1;")
	if r.prompt() != "sluice=> " {
		t.Fatalf("prompt after statement %q", r.prompt())
	}
}

func TestMetaCommands(t *testing.T) {
	fb, out, errw, quit := feedAll(t, `\d`, `\dt`, `\dm`, `\d trending`, `\d nope`, `\conninfo`, `\timing`, `\bogus`, `\q`, "SELECT 1;")
	if !quit {
		t.Fatal(`\q did not quit`)
	}
	for _, s := range fb.stmts {
		if s == "SELECT 1" {
			t.Fatal("statement after \\q ran")
		}
	}
	for _, want := range []string{
		"List of relations", " clicks   | table", " trending | materialized view",
		`Materialized view "trending"`, " item_id | bigint", "fake connection", "Timing is on.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{`Did not find any relation named "nope".`, `invalid command \bogus`} {
		if !strings.Contains(errw, want) {
			t.Errorf("errors lack %q:\n%s", want, errw)
		}
	}
}

func TestIncludeNamesFileLine(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "in.sql")
	if err := os.WriteFile(f, []byte("SELECT 1;\n\n-- comment\nBAD\n  stuff;\nSELECT 2;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fb, _, errw, _ := feedAll(t, `\i `+f, "SELECT 3;")
	want := []string{"SELECT 1", "BAD\n  stuff", "SELECT 2", "SELECT 3"}
	if !reflect.DeepEqual(fb.stmts, want) {
		t.Fatalf("statements %q, want %q", fb.stmts, want)
	}
	if !strings.Contains(errw, f+":4: ERROR:  42601: syntax error") {
		t.Fatalf("error output lacks file:line:\n%s", errw)
	}
}

// TestInterruptCancelsCPUBoundStatement runs a large cross join in the
// embedded engine and interrupts it as Ctrl-C does: the statement ends
// with 57014 and the next statement runs.
func TestInterruptCancelsCPUBoundStatement(t *testing.T) {
	be, err := newEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	var out, errw bytes.Buffer
	r := newREPL(be, &out, &errw)
	r.timing = false
	r.feed("CREATE TABLE big (id BIGINT PRIMARY KEY);")
	// Many small inserts give the scan many chunks, between which the
	// engine checks for cancellation.
	for c := 0; c < 200; c++ {
		var sb strings.Builder
		sb.WriteString("INSERT INTO big VALUES ")
		for i := 0; i < 100; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "(%d)", c*100+i)
		}
		sb.WriteByte(';')
		r.feed(sb.String())
	}
	r.feed("FLUSH;")
	if errw.Len() > 0 {
		t.Fatalf("setup: %s", errw.String())
	}
	started := make(chan struct{})
	var once sync.Once
	r.onExec = func() { once.Do(func() { close(started) }) }
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		r.feed("SELECT COUNT(*) FROM big a, big b WHERE a.id + b.id > 0;")
	}()
	<-started
	r.interrupt()
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		t.Fatal("the statement was not cancelled")
	}
	if !strings.Contains(errw.String(), "ERROR:  57014: canceling statement due to user request") {
		t.Fatalf("error output:\n%s", errw.String())
	}
	r.onExec = nil
	r.feed("SELECT COUNT(*) AS n FROM big;")
	if !strings.Contains(out.String(), " 20000\n(1 row)") {
		t.Fatalf("the session did not go on:\n%s", out.String())
	}
}
