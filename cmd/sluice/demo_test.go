package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/testdata/recs"
)

// process is a running sluice subprocess whose stdout and stderr are
// collected.
type process struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	waited         chan error
	exited         bool
	err            error
}

// startSluice runs this binary as `sluice args...` and waits until its
// stderr has a line matching ready; it returns the process and the
// submatches of that line. The process is killed at the end of the test
// if still running.
func startSluice(t *testing.T, ready string, args ...string) (*process, []string) {
	t.Helper()
	p := &process{t: t, cmd: sluiceCmd(t, args...), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, waited: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if !p.exited {
			_ = p.cmd.Process.Kill()
			<-p.waited
		}
	})
	re := regexp.MustCompile(ready)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.stderr.String()); m != nil {
			return p, m
		}
		select {
		case err := <-p.waited:
			p.exited, p.err = true, err
			t.Fatalf("sluice %s exited (%v) before it was ready:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, p.stdout, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("sluice %s not ready after 60s:\nstderr:\n%s", strings.Join(args, " "), p.stderr)
		}
	}
}

// stop sends sig and waits for the process to exit, failing the test
// unless it exits with status 0 within 30 seconds.
func (p *process) stop(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.waited:
		p.exited, p.err = true, err
		if err != nil {
			p.t.Fatalf("exit after %v: %v\nstderr:\n%s", sig, err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		p.t.Fatalf("no exit 30s after %v\nstderr:\n%s", sig, p.stderr)
	}
}

// psql runs one statement with psql against port and returns its
// unaligned, tuples-only output.
func psql(t *testing.T, port, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", port, "-U", "sluice", "-d", "sluice", "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10", "PGPASSWORD=", "PGSSLMODE=disable")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql -c %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// pollUntil calls f until it returns true or 60 seconds pass.
func pollUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDemoWithPsql is the check: `sluice demo` runs as a
// process, psql connects to it and reads recommendations that change
// over time, and Ctrl-C (SIGINT) stops it cleanly.
func TestDemoWithPsql(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("psql is not installed (CI needs it)")
		}
		t.Skip("psql is not installed")
	}
	p, m := startSluice(t, `listening on 127\.0\.0\.1:(\d+)\n(?s:.*)ready to accept connections`,
		"demo", "--listen", "127.0.0.1:0", "--rate", "5000", "--seed", "1")
	port := m[1]

	// The connection help names the actual port, and its example queries
	// all run.
	help := p.stdout.String()
	if want := "psql -h 127.0.0.1 -p " + port + " -U sluice sluice"; !strings.Contains(help, want) {
		t.Fatalf("the help lacks %q:\n%s", want, help)
	}
	queries := demoHelpQueries(help)
	if len(queries) < 5 {
		t.Fatalf("expected at least 5 example queries, found %q in:\n%s", queries, help)
	}
	for _, q := range queries {
		psql(t, port, q)
	}
	item := regexp.MustCompile(`items similar to item (\d+)`).FindStringSubmatch(help)
	user := regexp.MustCompile(`recommendations for user (\d+)`).FindStringSubmatch(help)
	if item == nil || user == nil {
		t.Fatalf("the help names no example item or user:\n%s", help)
	}

	// Events flow: the source's count grows between two reads.
	events := func() int64 {
		n, err := strconv.ParseInt(psql(t, port, "SELECT events FROM sluice_sources WHERE name = 'clicks'"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := events()
	pollUntil(t, "the source's event count to grow", func() bool { return events() > first })

	// Recommendations appear and then change: the items similar to the
	// example item (scores move as co-occurrences accumulate), and the
	// trending counts.
	similar := "SELECT other, ROUND(score, 4) FROM similar WHERE item = " + item[1] + " ORDER BY other"
	var before string
	pollUntil(t, "similar items for item "+item[1], func() bool { before = psql(t, port, similar); return before != "" })
	pollUntil(t, "the similar items to change", func() bool { return psql(t, port, similar) != before })

	trending := "SELECT window_start, item_id, views FROM trending ORDER BY window_start DESC, views DESC, item_id LIMIT 5"
	var top string
	pollUntil(t, "trending rows", func() bool { top = psql(t, port, trending); return top != "" })
	pollUntil(t, "trending to change", func() bool { return psql(t, port, trending) != top })

	// The personalised query of the help finds items for its user.
	var personal string
	for _, q := range queries {
		if strings.Contains(q, "r.user_id = "+user[1]) {
			personal = q
		}
	}
	if personal == "" {
		t.Fatalf("no personalised query for user %s among %q", user[1], queries)
	}
	pollUntil(t, "recommendations for user "+user[1], func() bool { return psql(t, port, personal) != "" })

	// Live figures are appended (stdout is not a terminal).
	pollUntil(t, "live figures", func() bool {
		return regexp.MustCompile(`source clicks: [\d,]+ events/s`).MatchString(p.stdout.String())
	})

	p.stop(syscall.SIGINT)
	if !strings.Contains(p.stderr.String(), "sluice: stopped") {
		t.Errorf("stderr lacks the clean stop:\n%s", p.stderr)
	}
}

// demoHelpQueries returns the SQL lines of the help's "Try:" section.
func demoHelpQueries(help string) []string {
	_, after, ok := strings.Cut(help, "\nTry:\n")
	if !ok {
		return nil
	}
	var out []string
	for _, line := range strings.Split(after, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		if !strings.HasPrefix(line, "--") {
			out = append(out, line)
		}
	}
	return out
}

func TestDemoViewFiles(t *testing.T) {
	got, err := demoViewFiles(fstest.MapFS{
		"00_clicks.sql": {}, "b.sql": {}, "a.sql": {}, "events.sql": {}, "a_query.sql": {}, "notes.txt": {},
	})
	if err != nil || strings.Join(got, " ") != "a.sql b.sql" {
		t.Fatalf("demoViewFiles = %v, %v", got, err)
	}
	if _, err := demoViewFiles(fstest.MapFS{"00_clicks.sql": {}}); err == nil {
		t.Fatal("no view files: no error")
	}
	// The embedded directory: every view file, in dependency order.
	got, err = demoViewFiles(recs.Files)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 5 || got[0] != "a_cooc.sql" || got[1] != "b_similar.sql" {
		t.Fatalf("embedded view files: %v", got)
	}
}

func TestPersonalisedQuery(t *testing.T) {
	q, err := personalisedQuery(4242)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(q, "$1") || !strings.Contains(q, "r.user_id = 4242") || strings.Contains(q, "--") || strings.Contains(q, "\n") {
		t.Fatalf("query: %s", q)
	}
}

func TestParseDemoArgs(t *testing.T) {
	opt, err := parseDemoArgs([]string{"--rate", "150.5", "--users", "7", "--items", "9", "--seed", "3", "--listen", "127.0.0.1:1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if opt.rate != 150.5 || opt.users != 7 || opt.items != 9 || opt.seed != 3 || opt.listen != "127.0.0.1:1" {
		t.Fatalf("options: %+v", opt)
	}
	sql := opt.sourceSQL()
	for _, want := range []string{"rate = 150.5", "users = 7", "items = 9", "seed = 3", "WATERMARK FOR ts AS ts - INTERVAL 5 SECOND"} {
		if !strings.Contains(sql, want) {
			t.Errorf("source SQL lacks %q:\n%s", want, sql)
		}
	}
	for _, args := range [][]string{
		{"--rate", "0"}, {"--rate", "-5"}, {"--rate", "NaN"}, {"--users", "0"}, {"--items", "1"},
		{"--seed", "18446744073709551615"}, {"--bogus"}, {"extra"},
	} {
		if _, err := parseDemoArgs(args, io.Discard); err == nil {
			t.Errorf("demo %v: no error", args)
		}
	}
	if opt, err := parseDemoArgs([]string{"--help"}, io.Discard); opt != nil || err != nil {
		t.Errorf("--help: %v, %v", opt, err)
	}
}

// TestDemoEngineAndLiveFigures sets the demo up in an in-process engine:
// the source feeds the views, the figures read from the system tables
// show it, and on a terminal a redraw moves the cursor up over the
// previous drawing.
func TestDemoEngineAndLiveFigures(t *testing.T) {
	eng, err := executor.Open(executor.Options{BarrierInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	opt := &demoOptions{rate: 5000, users: 500, items: 100, seed: 1}
	views, err := setupDemo(ctx, eng, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(views) < 5 {
		t.Fatalf("views: %v", views)
	}
	var out lockedBuffer
	st := &demoStats{eng: eng, w: &out, tty: true}
	t0 := time.Now()
	if _, err := st.sample(ctx, t0); err != nil {
		t.Fatal(err)
	}
	var snap *demoSnapshot
	pollUntil(t, "events and a changed cooc view", func() bool {
		snap, err = st.sample(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range snap.views {
			if v.name == "cooc" && v.rows > 0 && !v.lastChange.IsZero() {
				return len(snap.sources) == 1 && snap.sources[0].events > 0
			}
		}
		return false
	})
	if src := snap.sources[0]; src.name != "clicks" || src.eventsPerSecond < 0 || src.err != "" {
		t.Fatalf("source figures: %+v", src)
	}
	names := map[string]bool{}
	for _, v := range snap.views {
		names[v.name] = true
		if v.err != "" {
			t.Errorf("view %s: %s", v.name, v.err)
		}
		if !v.lastChange.IsZero() && (v.lastChange.Before(t0.Add(-time.Second)) || v.lastChange.After(time.Now())) {
			t.Errorf("view %s last changed at %v, outside the test", v.name, v.lastChange)
		}
	}
	for _, want := range []string{"cooc", "similar", "trending", "user_recent", "session_also_viewed"} {
		if !names[want] {
			t.Errorf("no figures for view %s: %v", want, names)
		}
	}

	st.update(ctx, time.Now())
	first := out.String()
	n := strings.Count(first, "\n")
	if regexp.MustCompile(`\x1b\[\d+A`).MatchString(first) {
		t.Fatalf("the first drawing moves the cursor:\n%q", first)
	}
	if n != 3+len(snap.views) {
		t.Fatalf("the drawing has %d lines, want %d:\n%s", n, 3+len(snap.views), first)
	}
	st.update(ctx, time.Now())
	second := strings.TrimPrefix(out.String(), first)
	if want := "\x1b[" + strconv.Itoa(n) + "A"; !strings.HasPrefix(second, want) {
		t.Fatalf("the redraw does not start with cursor-up %q:\n%q", want, second)
	}
}

func TestFormatDemoSnapshot(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 10, 0, time.UTC)
	snap := &demoSnapshot{
		at: at,
		sources: []demoSource{
			{name: "clicks", events: 123456, late: 7, bad: 1, eventsPerSecond: 2000.4},
			{name: "other", eventsPerSecond: -1, err: "boom"},
		},
		views: []demoView{
			{name: "cooc", rows: 1234567, lastChange: at.Add(-1500 * time.Millisecond)},
			{name: "a_much_longer_name", rows: 0},
		},
	}
	got := strings.Join(formatDemoSnapshot(snap, 65*time.Second), "\n")
	want := strings.Join([]string{
		"12:00:10  up 1m05s  (Ctrl-C to stop)",
		"source clicks: 2,000 events/s, 123,456 events, 7 late, 1 bad",
		"source other: - events/s, 0 events, 0 late, 0 bad  ERROR: boom",
		"  view                       rows  last change",
		"  cooc                  1,234,567  1.5s ago",
		"  a_much_longer_name            0  never",
	}, "\n")
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}
