package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/sqlerr"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunFilesStringsCommentsAndFirstError(t *testing.T) {
	dir := t.TempDir()
	f1 := writeFile(t, dir, "a.sql", `-- a comment; with a semicolon
CREATE TABLE notes (id BIGINT PRIMARY KEY, body VARCHAR(40));
/* block comment;
   spanning lines; */
INSERT INTO notes VALUES (1, 'semi;colon'), (2, 'it''s -- not a comment');
FLUSH;
SELECT id, body FROM notes ORDER BY id;
`)
	f2 := writeFile(t, dir, "b.sql", `SELECT 1;

SELECT body
  FROM missing_table;
SELECT 'never runs';
`)
	var out bytes.Buffer
	err := runFilesFresh(t, []string{f1, f2}, &out)
	if err == nil {
		t.Fatal("expected an error")
	}
	var fe *fileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %T %v is not a fileError", err, err)
	}
	if fe.File != f2 || fe.Line < 3 || fe.Line > 4 {
		t.Fatalf("error at %s:%d, want %s:3 or 4: %v", fe.File, fe.Line, f2, err)
	}
	if sqlerr.Code(err) != sqlerr.UndefinedTable {
		t.Fatalf("code %s: %v", sqlerr.Code(err), err)
	}
	if !strings.HasPrefix(err.Error(), f2+":") {
		t.Fatalf("message %q does not start with the file", err.Error())
	}
	got := out.String()
	for _, want := range []string{"semi;colon", "it's -- not a comment", "(2 rows)", "CREATE TABLE"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "never runs") {
		t.Errorf("ran past the error:\n%s", got)
	}
}

func TestRunErrorLineAndColumn(t *testing.T) {
	dir := t.TempDir()
	// The syntax error sits on line 4 of the file, inside the second statement.
	f := writeFile(t, dir, "c.sql", "CREATE TABLE t (a INT) APPEND ONLY;\n\nSELECT a\n  FROM t WHERE ORDER;\n")
	err := runFilesFresh(t, []string{f}, nil)
	var fe *fileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %T %v is not a fileError", err, err)
	}
	se, ok := sqlerr.As(err)
	if !ok || se.Position == 0 {
		t.Fatalf("parser error carries no position: %v", err)
	}
	if fe.Line != 4 || fe.Col != 16 {
		t.Fatalf("located at %d:%d, want 4:16 (the ORDER keyword): %v", fe.Line, fe.Col, err)
	}
	if !strings.HasPrefix(err.Error(), f+":4:") || !strings.Contains(err.Error(), "SQLSTATE 42601") {
		t.Fatalf("message %q", err.Error())
	}
}

func TestSQLFilesDirectoryOrder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "20_b.sql", "")
	writeFile(t, dir, "10_a.sql", "")
	writeFile(t, dir, "notes.txt", "")
	files, err := sqlFiles([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || filepath.Base(files[0]) != "10_a.sql" || filepath.Base(files[1]) != "20_b.sql" {
		t.Fatalf("files %v", files)
	}
	if _, err := sqlFiles([]string{filepath.Join(dir, "absent.sql")}); err == nil {
		t.Fatal("missing file accepted")
	}
}

func runFilesFresh(t *testing.T, files []string, out *bytes.Buffer) error {
	t.Helper()
	eng, err := executor.Open(executor.Options{BarrierInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if out == nil {
		return runFiles(context.Background(), eng, files, nil)
	}
	return runFiles(context.Background(), eng, files, out)
}
