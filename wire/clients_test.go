package wire

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
)

// TestLibPQ drives the server through database/sql and lib/pq: parameters,
// binary int results, errors and COPY.
func TestLibPQ(t *testing.T) {
	ts := startServer(t, Config{})
	db, err := sql.Open("postgres", fmt.Sprintf("host=%s port=%d user=tester dbname=sluice sslmode=disable", ts.host, ts.port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3)) APPEND ONLY",
		"CREATE MATERIALIZED VIEW per_item AS SELECT item_id, COUNT(*) AS n FROM clicks GROUP BY item_id",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO clicks VALUES ($1, $2, $3)", 1, 42, time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	// COPY through lib/pq's CopyIn (text format).
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := tx.Prepare(pq.CopyIn("clicks", "user_id", "item_id", "ts"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := stmt.Exec(i, 42+i%3, "2026-01-01 10:00:00.5"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := stmt.Exec(); err != nil {
		t.Fatal(err)
	}
	stmt.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "FLUSH"); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT n FROM per_item WHERE item_id = $1", 42).Scan(&n); err != nil || n != 35 {
		t.Fatalf("n = %d, %v", n, err)
	}
	var tsv time.Time
	if err := db.QueryRowContext(ctx, "SELECT ts FROM clicks WHERE user_id = 1 AND item_id = 42").Scan(&tsv); err != nil || !tsv.Equal(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("ts = %v, %v", tsv, err)
	}
	_, err = db.ExecContext(ctx, "SELECT * FROM missing")
	if pe, ok := err.(*pq.Error); !ok || pe.Code != "42P01" {
		t.Fatalf("error: %#v", err)
	}
}

// needPsql returns the psql path or skips (fails under CI).
func needPsql(t *testing.T) string {
	p, err := exec.LookPath("psql")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("psql is required in CI")
		}
		t.Skip("psql not installed")
	}
	return p
}

func (ts *testServer) psqlEnv() []string {
	return append(os.Environ(), "PGHOST="+ts.host, fmt.Sprint("PGPORT=", ts.port), "PGUSER=tester", "PGDATABASE=sluice",
		"PGSSLMODE=disable", "PSQLRC=/dev/null", "PGCONNECT_TIMEOUT=10")
}

// TestPsqlFile runs a recommendation-style SQL file with psql -f.
func TestPsqlFile(t *testing.T) {
	psql := needPsql(t)
	ts := startServer(t, Config{})
	dir := t.TempDir()
	script := `-- recommendations
CREATE TABLE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3)) APPEND ONLY;
CREATE MATERIALIZED VIEW item_views AS
  SELECT item_id, COUNT(*) AS views FROM clicks GROUP BY item_id;
CREATE TABLE items (item_id BIGINT PRIMARY KEY, title TEXT);
INSERT INTO items VALUES (10, 'ten'), (11, 'eleven'), (12, 'twelve');
CREATE MATERIALIZED VIEW titled AS
  SELECT c.user_id, i.title, COUNT(*) AS n
  FROM clicks c JOIN items i ON c.item_id = i.item_id
  GROUP BY c.user_id, i.title;
INSERT INTO clicks VALUES (1, 10, '2026-11-25 10:00:00'), (1, 11, '2026-11-25 10:01:00'),
  (2, 10, '2026-11-25 10:02:00'), (2, 11, '2026-11-25 10:03:00'), (2, 12, '2026-11-25 10:04:00');
FLUSH;
SELECT item_id, views FROM item_views ORDER BY item_id;
SELECT title, n FROM titled WHERE user_id = 2 ORDER BY title;
BEGIN;
SELECT COUNT(*) AS clicks FROM clicks;
COMMIT;
`
	file := filepath.Join(dir, "recs.sql")
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(psql, "-X", "-v", "ON_ERROR_STOP=1", "-f", file)
	cmd.Env = ts.psqlEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	for _, want := range []string{
		"CREATE MATERIALIZED VIEW", "INSERT 0 5", "FLUSH",
		" item_id | views \n---------+-------\n      10 |     2\n      11 |     2\n      12 |     1\n(3 rows)",
		" title  | n \n--------+---\n eleven | 1\n ten    | 1\n twelve | 1\n(3 rows)",
		" clicks \n--------\n      5\n(1 row)", "BEGIN", "COMMIT",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("psql output lacks %q:\n%s", want, out)
		}
	}
	// An error stops the file with ON_ERROR_STOP and names the position.
	bad := filepath.Join(dir, "bad.sql")
	os.WriteFile(bad, []byte("SELECT 1 AS ok;\nSELECT nope FROM clicks;\nSELECT 2;\n"), 0o644)
	cmd = exec.Command(psql, "-X", "-v", "ON_ERROR_STOP=1", "-f", bad)
	cmd.Env = ts.psqlEnv()
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("want exit code 3, got %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "bad.sql:2: ERROR:") || strings.Contains(string(out), "?column?") {
		t.Errorf("psql error output:\n%s", out)
	}
}

// TestPsqlCopy loads rows with COPY FROM STDIN through psql, where a bad
// row reports its line and the rows before it are kept.
func TestPsqlCopy(t *testing.T) {
	psql := needPsql(t)
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	mustExec(t, c, "CREATE TABLE pc (k BIGINT, name TEXT) APPEND ONLY")
	dir := t.TempDir()
	data := filepath.Join(dir, "data.csv")
	os.WriteFile(data, []byte("k,name\n1,one\n2,two\nthree,3\n4,four\n"), 0o644)
	cmd := exec.Command(psql, "-X", "-c", `\copy pc FROM '`+data+`' WITH (FORMAT csv, HEADER true)`)
	cmd.Env = ts.psqlEnv()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("want an error:\n%s", out)
	}
	if !strings.Contains(string(out), `invalid input syntax for type bigint: "three"`) || !strings.Contains(string(out), "line 4") {
		t.Fatalf("psql output:\n%s", out)
	}
	// COPY from psql's standard input, in text format.
	cmd = exec.Command(psql, "-X", "-v", "ON_ERROR_STOP=1")
	cmd.Env = ts.psqlEnv()
	cmd.Stdin = strings.NewReader("COPY pc FROM STDIN;\n5\tfive\n6\t\\N\n\\.\nFLUSH;\nSELECT COUNT(*) FROM pc;\n")
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "COPY 2") || !strings.Contains(string(out), "     4\n") {
		t.Fatalf("psql output:\n%s", out)
	}
}

// TestPsqlCopySubscribe reads COPY (SUBSCRIBE v) TO STDOUT live from psql,
// then cancels it with SIGINT (psql sends a CancelRequest).
func TestPsqlCopySubscribe(t *testing.T) {
	psql := needPsql(t)
	ts := startServer(t, Config{})
	c := ts.connect(t, "")
	mustExec(t, c, "CREATE TABLE ev (k BIGINT, v BIGINT) APPEND ONLY; CREATE MATERIALIZED VIEW tot AS SELECT k, SUM(v) AS s FROM ev GROUP BY k; INSERT INTO ev VALUES (1, 10); FLUSH")
	// psql flushes COPY output only at the end when stdout is not a
	// terminal; stdbuf makes it line-buffered, as on a terminal.
	stdbuf, err := exec.LookPath("stdbuf")
	if err != nil {
		t.Skip("stdbuf not installed")
	}
	cmd := exec.Command(stdbuf, "-oL", psql, "-X", "-c", "COPY (SUBSCRIBE tot) TO STDOUT")
	cmd.Env = ts.psqlEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("psql ended: %s", stderr.String())
			}
			return l
		case <-time.After(20 * time.Second):
			t.Fatal("no line from psql")
		}
		return ""
	}
	if l := next(); !strings.HasSuffix(l, "\tinsert\t1\t10") {
		t.Fatalf("snapshot line %q", l)
	}
	for i := 2; i <= 3; i++ {
		mustExec(t, c, fmt.Sprintf("INSERT INTO ev VALUES (%d, %d); FLUSH", i, i))
		if l := next(); !strings.HasSuffix(l, fmt.Sprintf("\tinsert\t%d\t%d", i, i)) {
			t.Fatalf("live line %q", l)
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	for range lines {
	}
	err = cmd.Wait()
	if err == nil || !strings.Contains(stderr.String(), "canceling statement due to user request") {
		t.Fatalf("after SIGINT: %v %s", err, stderr.String())
	}
}

// TestNodePostgres runs a node-postgres script (wire/testdata/node).
func TestNodePostgres(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is required in CI")
		}
		t.Skip("node not installed")
	}
	dir, _ := filepath.Abs("testdata/node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "pg")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node-postgres missing: run (cd wire/testdata/node && npm install --no-audit --no-fund pg@8)")
		}
		t.Skip("node-postgres not installed: run (cd wire/testdata/node && npm install --no-audit --no-fund pg@8)")
	}
	ts := startServer(t, Config{})
	cmd := exec.Command(node, "test.js")
	cmd.Dir = dir
	cmd.Env = ts.psqlEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ok") {
		t.Fatalf("node output:\n%s", out)
	}
}
