package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startServe runs `sluice serve` and returns its address once it is
// ready, with a function that stops it by SIGTERM and returns its stderr.
func startServe(t *testing.T, args ...string) (addr string, stop func() string) {
	t.Helper()
	cmd := sluiceCmd(t, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", ""}, args...)...)
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	ready := make(chan string, 1)
	scanDone := make(chan struct{})
	go func() {
		defer close(scanDone)
		sc := bufio.NewScanner(pr)
		re := regexp.MustCompile(`listening on (\S+)`)
		var a string
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				a = m[1]
			}
			if strings.Contains(sc.Text(), "ready to accept connections") {
				ready <- a
			}
		}
		close(ready)
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); pw.Close() }()
	select {
	case a, ok := <-ready:
		if !ok {
			<-scanDone
			t.Fatalf("serve exited before it was ready:\n%s", log.String())
		}
		addr = a
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve did not become ready")
	}
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-waited:
				if err != nil {
					t.Errorf("serve exited with %v", err)
				}
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Error("serve did not stop on SIGTERM")
			}
			<-scanDone
		}
		return log.String()
	}
	t.Cleanup(func() { stop() })
	return addr, stop
}

// TestServeInitAndRemoteREPL starts the server with an init directory and
// talks to it with `sluice sql URL`: the same REPL code over the wire.
func TestServeInitAndRemoteREPL(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "01_tables.sql", "CREATE TABLE clicks (user_id BIGINT, item_id BIGINT) APPEND ONLY;\n")
	writeFile(t, dir, "02_views.sql", `-- counts; per item
CREATE MATERIALIZED VIEW item_counts AS
  SELECT item_id, COUNT(*) AS n FROM clicks GROUP BY item_id;
INSERT INTO clicks VALUES (1, 10), (2, 10), (3, 20);
FLUSH;
`)
	addr, stop := startServe(t, "--init", dir)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := sluiceCmd(t, "sql", "postgres://sluice@"+addr+"/sluice?sslmode=disable")
	cmd.Stdin = strings.NewReader(`SELECT item_id, n FROM item_counts ORDER BY item_id;
\d
\d item_counts
SELECT nope FROM item_counts;
\conninfo
`)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sluice sql: %v\n%s\n%s", err, out.String(), errb.String())
		}
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		t.Fatalf("sluice sql hung:\n%s\n%s", out.String(), errb.String())
	}
	for _, want := range []string{
		" item_id | n \n---------+---\n      10 | 2\n      20 | 1\n(2 rows)",
		" clicks      | table", " item_counts | materialized view",
		`Materialized view "item_counts"`,
		"You are connected to database",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errb.String(), "ERROR:  42703: ") {
		t.Errorf("error output lacks the undefined-column SQLSTATE:\n%s", errb.String())
	}
	log := stop()
	if !strings.Contains(log, "ran 2 init file(s)") || !strings.Contains(log, "stopped") {
		t.Errorf("server log:\n%s", log)
	}
}

// TestServeInitFailsFast shows --init stops at the first error, naming
// file:line, and the server never listens.
func TestServeInitFailsFast(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.sql", "CREATE TABLE t (a BIGINT) APPEND ONLY;\nINSERT INTO missing VALUES (1);\n")
	cmd := sluiceCmd(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", "", "--init", filepath.Join(dir, "a.sql"))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("serve with a failing --init succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), filepath.Join(dir, "a.sql")+":2") || strings.Contains(string(out), "listening") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestServeRejectsBadFlags(t *testing.T) {
	os.Unsetenv("SLUICE_TEST_NO_SUCH_VAR")
	for _, args := range [][]string{
		{"--tls-cert", "x.pem"},
		{"--password-env", "SLUICE_TEST_NO_SUCH_VAR"},
		{"extra"},
	} {
		if err := serveCommand(args, io.Discard); err == nil {
			t.Errorf("serve %v succeeded", args)
		}
	}
}
