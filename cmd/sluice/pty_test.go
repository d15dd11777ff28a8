package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestMain lets the test binary act as the sluice command when
// SLUICE_TEST_MAIN is set, so the pseudo-terminal tests run the real
// program (signals, terminal modes) without building it separately.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_TEST_MAIN") == "1" {
		if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "sluice:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// sluiceCmd returns a command running this binary as sluice.
func sluiceCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN=1", "SLUICE_HISTORY="+filepath.Join(t.TempDir(), "history"), "TERM=xterm")
	return cmd
}

// console collects a pseudo-terminal's output and waits for strings in it.
type console struct {
	t    *testing.T
	f    *os.File
	mu   sync.Mutex
	cond *sync.Cond
	buf  bytes.Buffer
	mark int // expect searches from here
	eof  bool
	done chan struct{}
}

func newConsole(t *testing.T, f *os.File) *console {
	c := &console{t: t, f: f, done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	go func() {
		defer close(c.done)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			c.mu.Lock()
			c.buf.Write(b[:n])
			if err != nil {
				c.eof = true
			}
			c.cond.Broadcast()
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c
}

// expect waits until s appears in the output after the last match and
// moves the mark past it. It fails the test at the deadline.
func (c *console) expect(s string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	timer := time.AfterFunc(30*time.Second, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if i := strings.Index(c.buf.String()[c.mark:], s); i >= 0 {
			c.mark += i + len(s)
			return
		}
		if c.eof || time.Now().After(deadline) {
			c.t.Fatalf("did not see %q; output so far:\n%s", s, c.buf.String())
		}
		c.cond.Wait()
	}
}

func (c *console) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.f, s); err != nil {
		c.t.Fatalf("write to pty: %v", err)
	}
}

// TestREPLOnPTY drives `sluice sql` (embedded engine) through a
// pseudo-terminal: a query shows an aligned table, an error shows its
// SQLSTATE, Ctrl-C cancels a running SUBSCRIBE and the session goes on,
// and Ctrl-D ends it with the history saved.
func TestREPLOnPTY(t *testing.T) {
	dir := t.TempDir()
	load := filepath.Join(dir, "load.sql")
	if err := os.WriteFile(load, []byte(`CREATE TABLE t (k BIGINT PRIMARY KEY, v VARCHAR(10));
INSERT INTO t VALUES (1, 'one'), (2, 'semi;colon');
CREATE MATERIALIZED VIEW mv AS SELECT v, COUNT(*) AS n FROM t GROUP BY v;
FLUSH;
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := sluiceCmd(t, "sql")
	hist := strings.TrimPrefix(cmd.Env[len(cmd.Env)-2], "SLUICE_HISTORY=")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatalf("start on a pty: %v", err)
	}
	defer f.Close()
	c := newConsole(t, f)
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	c.expect("sluice=> ")
	c.send(`\i ` + load + "\r")
	c.expect("FLUSH")
	c.expect("sluice=> ")

	// A query, typed over two lines.
	c.send("SELECT k, v\r")
	c.expect("sluice-> ")
	c.send("FROM t ORDER BY k;\r")
	c.expect(" k |     v      \r\n---+------------\r\n 1 | one\r\n 2 | semi;colon\r\n(2 rows)")
	c.expect("Time: ")
	c.expect("sluice=> ")

	// An error with its SQLSTATE and a caret under the position.
	c.send("SELECT k FROM t WHERE;\r")
	c.expect("ERROR:  42601: ")
	c.expect("LINE 1: SELECT k FROM t WHERE")
	c.expect("sluice=> ")

	// Ctrl-C cancels a running statement and keeps the session.
	c.send("SUBSCRIBE mv;\r")
	c.expect(" epoch | op | v | n")
	c.expect("| insert | semi;colon | 1")
	c.send("\x03")
	c.expect("ERROR:  57014: canceling statement due to user request")
	c.expect("sluice=> ")
	c.send("SELECT COUNT(*) AS after_cancel FROM mv;\r")
	c.expect(" after_cancel \r\n--------------\r\n            2\r\n(1 row)")
	c.expect("sluice=> ")

	// Ctrl-C at the prompt drops the typed line.
	c.send("SELECT 'discarded'")
	c.send("\x03")
	c.expect("^C")
	c.send(`\timing off` + "\r")
	c.expect("Timing is off.")
	c.expect("sluice=> ") // readline is in raw mode once the prompt shows

	// Ctrl-D quits.
	c.send("\x04")
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("sluice sql exited with %v; output:\n%s", waitErr, c.buf.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sluice sql did not exit on Ctrl-D")
	}
	<-c.done
	data, err := os.ReadFile(hist)
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	for _, want := range []string{"SELECT k, v FROM t ORDER BY k;", "SUBSCRIBE mv;", `\timing off`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("history lacks %q:\n%s", want, data)
		}
	}
	if strings.Contains(string(data), "discarded") {
		t.Errorf("history holds the interrupted line:\n%s", data)
	}
	st, err := os.Stat(hist)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("history mode %v, want 0600", st.Mode().Perm())
	}
}
