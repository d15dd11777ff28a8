package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// crashSeedEnv fixes the crash test's random choices (kill moments,
// statements, events) to reproduce a failure; the seed is logged.
const crashSeedEnv = "SLUICE_CRASH_SEED"

// clickBase is the timestamp of click 0: click id i has ts clickBase + i ms,
// so every row of clicks names the statement that inserted it.
var clickBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	crashUsers    = 30 // user ids 1..30 click
	crashProfiles = 25 // user ids 1..25 may have a profile
	crashItems    = 20
	crashPartsN   = 3 // partitions of the views topic
)

var crashSegments = []string{"a", "b", "c", "d"}

// crashViews are the views under test. batch is the same query over the
// tables, run as a SELECT; "" for the Kafka-fed view (the source has no
// rows to query: it is checked against the produced events instead).
var crashViews = []struct{ name, def, batch string }{
	{"click_counts", "SELECT item_id, COUNT(*) AS n FROM clicks GROUP BY item_id",
		"SELECT item_id, COUNT(*) AS n FROM clicks GROUP BY item_id"},
	{"segment_counts", "SELECT p.segment, COUNT(*) AS n FROM clicks c JOIN profiles p ON c.user_id = p.user_id GROUP BY p.segment",
		"SELECT p.segment, COUNT(*) AS n FROM clicks c JOIN profiles p ON c.user_id = p.user_id GROUP BY p.segment"},
	{"segment_items", "SELECT p.segment, c.item_id, COUNT(*) AS n FROM clicks c JOIN profiles p ON c.user_id = p.user_id GROUP BY p.segment, c.item_id",
		"SELECT p.segment, c.item_id, COUNT(*) AS n FROM clicks c JOIN profiles p ON c.user_id = p.user_id GROUP BY p.segment, c.item_id"},
	{"top_items", `SELECT segment, item_id, n, rn FROM (
		SELECT segment, item_id, n, ROW_NUMBER() OVER (PARTITION BY segment ORDER BY n DESC, item_id) AS rn
		FROM segment_items) t WHERE rn <= 3`,
		`SELECT segment, item_id, n, rn FROM (
		SELECT segment, item_id, n, ROW_NUMBER() OVER (PARTITION BY segment ORDER BY n DESC, item_id) AS rn
		FROM (SELECT p.segment, c.item_id, COUNT(*) AS n FROM clicks c JOIN profiles p ON c.user_id = p.user_id
		      GROUP BY p.segment, c.item_id) s) t WHERE rn <= 3`},
	// Last: created (and recovered) well after the source it reads, which
	// must not emit events before this view exists again.
	{"kafka_counts", "SELECT item_id, COUNT(*) AS n FROM views GROUP BY item_id", ""},
}

// TestCrashRecovery is the durability check of issue 6: the server runs as
// a process fed by Kafka (an in-process kfake cluster that outlives it) and
// by INSERT/UPDATE/DELETE through pgx; it is killed with SIGKILL at random
// moments (at least 10 times, 3 with -short), also while it recovers, and
// restarted on the same data directory. After every restart, once it has
// read the topic again, and at the end, every view must equal the same
// query run as a batch over the tables and a recomputation in Go over all
// acknowledged input; the tables must hold every acknowledged statement,
// no failed one, and each statement whose outcome the client could not
// know either wholly or not at all.
func TestCrashRecovery(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, s, err)
		}
		seed = v
	}
	t.Logf("seed %d (rerun with %s=%d)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	kills := 10
	if testing.Short() {
		kills = 3
	}

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(crashPartsN, "views"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]

	srv := &crashServer{t: t, addr: freeAddr(t), dir: t.TempDir()}
	t.Cleanup(srv.kill)
	srv.start()
	srv.waitReady()
	h := &crashHarness{t: t, srv: srv, seed: seed}
	h.gate.init()
	h.createSchema(broker)

	var wg sync.WaitGroup
	for i, f := range []func(*rand.Rand){h.clickWriter, h.profileWriter} {
		r := rand.New(rand.NewPCG(seed, uint64(10+i)))
		wg.Add(1)
		go func() { defer wg.Done(); f(r) }()
	}
	prodRng := rand.New(rand.NewPCG(seed, 20))
	wg.Add(1)
	go func() { defer wg.Done(); h.producer(prodRng, broker) }()
	ckptRng := rand.New(rand.NewPCG(seed, 30))
	wg.Add(1)
	go func() { defer wg.Done(); h.checkpointer(ckptRng) }()
	stopAll := func() { h.gate.stop(); wg.Wait() }
	defer stopAll()

	killed, checks := 0, 0
	for cycle := 1; cycle <= kills; cycle++ {
		// Let the writers and the producer run, then kill at a random moment.
		time.Sleep(time.Duration(100+rng.IntN(701)) * time.Millisecond)
		srv.kill()
		killed++
		h.gate.pause()
		srv.start()
		// Sometimes kill again while the server recovers (replaying its
		// log, or re-reading the topic once it listens).
		if rng.IntN(3) == 0 {
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
			srv.kill()
			killed++
			srv.start()
		}
		srv.waitReady()
		h.check(fmt.Sprintf("restart %d (after %d kills)", cycle, killed))
		checks++
		h.gate.resume()
	}
	time.Sleep(time.Duration(100+rng.IntN(401)) * time.Millisecond)
	h.gate.pause()
	h.check("end")
	checks++
	stopAll()
	t.Logf("%d kills, %d checks, %d server starts; clicks: %s; profiles: %s; %d events produced; %d CHECKPOINTs acknowledged",
		killed, checks, srv.starts, h.clicks.summary(), h.profiles.summary(), h.produced.total, h.checkpoints.Load())
}

// crashServer runs `sluice serve` as a process on a fixed address and data
// directory, killed and restarted by the test.
type crashServer struct {
	t      *testing.T
	addr   string
	dir    string
	cmd    *exec.Cmd
	log    *lockedBuffer
	exited chan struct{}
	starts int
}

// freeAddr returns a loopback address with a port that was free.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (s *crashServer) start() {
	s.t.Helper()
	s.cmd = sluiceCmd(s.t, "serve", "--listen", s.addr, "--data-dir", s.dir, "--barrier-interval", "200ms")
	s.log = &lockedBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.starts++
	exited := make(chan struct{})
	s.exited = exited
	cmd := s.cmd
	go func() { _ = cmd.Wait(); close(exited) }()
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *crashServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.t.Fatal("the server did not die on SIGKILL")
	}
	s.cmd = nil
}

// url is the server's connection string; mode picks pgx's query mode.
func (s *crashServer) url(mode string) string {
	u := "postgres://sluice@" + s.addr + "/sluice?sslmode=disable&connect_timeout=5"
	if mode != "" {
		u += "&default_query_exec_mode=" + mode
	}
	return u
}

// waitReady polls until the server accepts connections and answers.
func (s *crashServer) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			s.t.Fatalf("the server exited while starting:\n%s", s.log.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, s.url(""))
		if err == nil {
			err = c.Ping(ctx)
			c.Close(ctx)
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the server did not accept connections within 30s (%v):\n%s", err, s.log.String())
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// gate lets the main goroutine stop the writers and the producer between
// statements (to check a quiet server) and resume them; each resume starts
// a new generation, after which writers reconnect.
type gate struct {
	mu      sync.Mutex
	cond    *sync.Cond
	paused  bool
	stopped bool
	active  int
	gen     int
	done    chan struct{} // closed by stop
}

func (g *gate) init() { g.cond = sync.NewCond(&g.mu); g.done = make(chan struct{}) }

// enter waits while paused and returns the generation, or false once stopped.
func (g *gate) enter() (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.paused && !g.stopped {
		g.cond.Wait()
	}
	if g.stopped {
		return 0, false
	}
	g.active++
	return g.gen, true
}

func (g *gate) leave() {
	g.mu.Lock()
	g.active--
	g.cond.Broadcast()
	g.mu.Unlock()
}

// pause waits until nothing is in flight; new work waits for resume.
func (g *gate) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused = true
	for g.active > 0 {
		g.cond.Wait()
	}
}

func (g *gate) resume() {
	g.mu.Lock()
	g.paused = false
	g.gen++
	g.cond.Broadcast()
	g.mu.Unlock()
}

// waitNext waits for a generation after gen; false once stopped.
func (g *gate) waitNext(gen int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for (g.gen <= gen || g.paused) && !g.stopped {
		g.cond.Wait()
	}
	return !g.stopped
}

func (g *gate) stop() {
	g.mu.Lock()
	if !g.stopped {
		close(g.done)
	}
	g.stopped = true
	g.cond.Broadcast()
	g.mu.Unlock()
}

// Statement outcomes as the client saw them, and as a check resolved them.
type outcome int

const (
	acked   outcome = iota // no error: must be applied
	failed                 // the server answered with an error: must not be applied
	unknown                // the connection broke: applied wholly or not at all
	applied                // unknown, found applied by a check
	absent                 // unknown, found not applied by a check
)

func (o outcome) String() string {
	return [...]string{"acknowledged", "failed", "unknown", "unknown (applied)", "unknown (absent)"}[o]
}

// counted reports whether a (checked) statement's effect is in the table.
func (o outcome) counted() bool { return o == acked || o == applied }

// classify turns a statement's error into its outcome.
func classify(err error) outcome {
	var pg *pgconn.PgError
	switch {
	case err == nil:
		return acked
	case errors.As(err, &pg):
		return failed
	default:
		return unknown
	}
}

type click struct{ user, item int64 }

// clickStmt is one INSERT INTO clicks of ids first..first+n-1.
type clickStmt struct {
	first, n int64
	out      outcome
	err      error
}

// clickLog is every INSERT INTO clicks the writer sent, in order.
type clickLog struct {
	mu    sync.Mutex
	rows  []click // by id
	stmts []clickStmt
}

func (l *clickLog) summary() string {
	n := map[outcome]int{}
	for _, s := range l.stmts {
		n[s.out]++
	}
	return fmt.Sprintf("%d statements, %d rows (%v)", len(l.stmts), len(l.rows), n)
}

// Profile statement kinds.
const (
	upsertProfiles = iota // INSERT of keys (replaces)
	updateProfiles        // UPDATE ... WHERE user_id BETWEEN lo AND hi
	deleteProfiles        // DELETE ... WHERE user_id BETWEEN lo AND hi
)

type profile struct {
	segment string
	ver     int64
}

// profileStmt is one statement on profiles; ver (its sequence number) is
// written into every row it upserts or updates.
type profileStmt struct {
	kind   int
	keys   []int64
	lo, hi int64
	seg    string
	ver    int64
	out    outcome
	err    error
}

func (s *profileStmt) apply(m map[int64]profile) {
	switch s.kind {
	case upsertProfiles:
		for _, k := range s.keys {
			m[k] = profile{s.seg, s.ver}
		}
	case updateProfiles:
		for k := s.lo; k <= s.hi; k++ {
			if _, ok := m[k]; ok {
				m[k] = profile{s.seg, s.ver}
			}
		}
	case deleteProfiles:
		for k := s.lo; k <= s.hi; k++ {
			delete(m, k)
		}
	}
}

// profileLog is every statement on profiles, in order, and the state the
// last check confirmed.
type profileLog struct {
	mu        sync.Mutex
	stmts     []*profileStmt
	checked   int // statements before this one are resolved
	confirmed map[int64]profile
}

func (l *profileLog) summary() string {
	n := map[outcome]int{}
	for _, s := range l.stmts {
		n[s.out]++
	}
	return fmt.Sprintf("%d statements (%v)", len(l.stmts), n)
}

// produced counts every event written to the views topic.
type producedLog struct {
	mu      sync.Mutex
	total   int64
	perItem map[int64]int64
}

type crashHarness struct {
	t        *testing.T
	srv      *crashServer
	seed     uint64
	gate     gate
	clicks   clickLog
	profiles profileLog
	produced producedLog
	// checkpoints counts acknowledged CHECKPOINT statements.
	checkpoints atomic.Int64
}

func (h *crashHarness) createSchema(broker string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, h.srv.url(""))
	if err != nil {
		h.t.Fatal(err)
	}
	defer c.Close(ctx)
	// The source comes first and its view last (see crashViews).
	ddl := []string{
		fmt.Sprintf(`CREATE SOURCE IF NOT EXISTS views (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3))
			WITH (connector = 'kafka', brokers = '%s', topic = 'views', format = 'json')`, broker),
		"CREATE TABLE IF NOT EXISTS clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3)) APPEND ONLY",
		"CREATE TABLE IF NOT EXISTS profiles (user_id BIGINT PRIMARY KEY, segment TEXT, ver BIGINT)",
	}
	for _, v := range crashViews {
		ddl = append(ddl, "CREATE MATERIALIZED VIEW IF NOT EXISTS "+v.name+" AS "+v.def)
	}
	for _, s := range ddl {
		if _, err := c.Exec(ctx, s); err != nil {
			h.t.Fatalf("%s: %v", s, err)
		}
	}
	h.profiles.confirmed = map[int64]profile{}
	h.produced.perItem = map[int64]int64{}
}

// writerConn keeps a writer's connection, reopened in each generation
// (each generation is a new server process).
type writerConn struct {
	c    *pgx.Conn
	gen  int
	mode string
}

// get returns the connection for gen, or nil when the server does not answer.
func (w *writerConn) get(h *crashHarness, gen int) *pgx.Conn {
	if w.c != nil && w.gen == gen {
		return w.c
	}
	w.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, h.srv.url(w.mode))
	if err != nil {
		return nil
	}
	w.c, w.gen = c, gen
	return c
}

func (w *writerConn) close() {
	if w.c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		w.c.Close(ctx)
		cancel()
		w.c = nil
	}
}

// writerLoop runs one statement at a time through stmt until stopped;
// after a statement with an unknown outcome (or a failed connect) it waits
// for the next generation, so at most one unknown statement per writer
// precedes each check.
func (h *crashHarness) writerLoop(mode string, stmt func(c *pgx.Conn) outcome) {
	w := &writerConn{mode: mode}
	defer w.close()
	for {
		gen, ok := h.gate.enter()
		if !ok {
			return
		}
		c := w.get(h, gen)
		out := unknown
		if c != nil {
			out = stmt(c)
		}
		h.gate.leave()
		if out == unknown {
			w.close()
			if !h.gate.waitNext(gen) {
				return
			}
		}
	}
}

// clickWriter INSERTs 1..5 clicks per statement; the simple protocol.
func (h *crashHarness) clickWriter(rng *rand.Rand) {
	h.writerLoop("simple_protocol", func(c *pgx.Conn) outcome {
		n := 1 + rng.IntN(5)
		var sb strings.Builder
		sb.WriteString("INSERT INTO clicks VALUES ")
		h.clicks.mu.Lock()
		first := int64(len(h.clicks.rows))
		for i := range n {
			ck := click{1 + rng.Int64N(crashUsers), 1 + rng.Int64N(crashItems)}
			h.clicks.rows = append(h.clicks.rows, ck)
			if i > 0 {
				sb.WriteString(", ")
			}
			ts := clickBase.Add(time.Duration(first+int64(i)) * time.Millisecond)
			fmt.Fprintf(&sb, "(%d, %d, '%s')", ck.user, ck.item, ts.Format("2006-01-02 15:04:05.000"))
		}
		h.clicks.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Exec(ctx, sb.String())
		cancel()
		out := classify(err)
		h.clicks.mu.Lock()
		h.clicks.stmts = append(h.clicks.stmts, clickStmt{first: first, n: int64(n), out: out, err: err})
		h.clicks.mu.Unlock()
		return out
	})
}

// profileWriter upserts, updates and deletes profiles, single keys and
// ranges, with parameters (pgx's extended protocol).
func (h *crashHarness) profileWriter(rng *rand.Rand) {
	h.writerLoop("", func(c *pgx.Conn) outcome {
		h.profiles.mu.Lock()
		s := &profileStmt{ver: int64(len(h.profiles.stmts)) + 1, seg: crashSegments[rng.IntN(len(crashSegments))]}
		h.profiles.mu.Unlock()
		var sql string
		var args []any
		switch r := rng.IntN(10); {
		case r < 6:
			s.kind = upsertProfiles
			var ph []string
			for _, k := range rng.Perm(crashProfiles)[:1+rng.IntN(3)] {
				s.keys = append(s.keys, int64(k)+1)
				ph = append(ph, fmt.Sprintf("($%d, $%d, $%d)", len(args)+1, len(args)+2, len(args)+3))
				args = append(args, int64(k)+1, s.seg, s.ver)
			}
			sql = "INSERT INTO profiles VALUES " + strings.Join(ph, ", ")
		case r < 8:
			s.kind = updateProfiles
			s.lo = 1 + rng.Int64N(crashProfiles)
			s.hi = s.lo + rng.Int64N(3)
			sql, args = "UPDATE profiles SET segment = $1, ver = $2 WHERE user_id BETWEEN $3 AND $4", []any{s.seg, s.ver, s.lo, s.hi}
		default:
			s.kind = deleteProfiles
			s.lo = 1 + rng.Int64N(crashProfiles)
			s.hi = s.lo + rng.Int64N(2)
			sql, args = "DELETE FROM profiles WHERE user_id BETWEEN $1 AND $2", []any{s.lo, s.hi}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.Exec(ctx, sql, args...)
		cancel()
		s.out, s.err = classify(err), err
		h.profiles.mu.Lock()
		h.profiles.stmts = append(h.profiles.stmts, s)
		h.profiles.mu.Unlock()
		return s.out
	})
}

// checkpointer runs CHECKPOINT at random moments (the server's own
// interval is longer than the test), so restarts also load checkpoints and
// rewind the Kafka source to their offsets, not only replay the log. A
// server that does not know the statement (42601) is not checkpointed.
func (h *crashHarness) checkpointer(rng *rand.Rand) {
	tick := time.NewTicker(time.Duration(150+rng.IntN(300)) * time.Millisecond) // pacing
	defer tick.Stop()
	w := &writerConn{}
	defer w.close()
	for {
		select {
		case <-tick.C:
		case <-h.gate.done:
			return
		}
		gen, ok := h.gate.enter()
		if !ok {
			return
		}
		var err error
		if c := w.get(h, gen); c != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err = c.Exec(ctx, "CHECKPOINT")
			cancel()
		} else {
			err = errors.New("no connection")
		}
		h.gate.leave()
		var pg *pgconn.PgError
		switch {
		case err == nil:
			h.checkpoints.Add(1)
		case errors.As(err, &pg) && pg.Code == "42601":
			h.t.Logf("the server does not know CHECKPOINT (%v): only the log is exercised", err)
			return
		case errors.As(err, &pg):
			h.t.Errorf("CHECKPOINT: %v", err)
		default: // the server died: wait for the next one
			w.close()
			if !h.gate.waitNext(gen) {
				return
			}
		}
	}
}

// producer writes JSON events to the views topic in small batches, paced,
// counting each one once the cluster has it.
func (h *crashHarness) producer(rng *rand.Rand, broker string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ProducerLinger(0))
	if err != nil {
		h.t.Error(err)
		return
	}
	defer cl.Close()
	tick := time.NewTicker(5 * time.Millisecond) // pacing, not synchronization
	defer tick.Stop()
	var seq int64
	for {
		if _, ok := h.gate.enter(); !ok {
			return
		}
		var recs []*kgo.Record
		items := make([]int64, 0, 20)
		for range 1 + rng.IntN(20) {
			user, item := 1+rng.Int64N(crashUsers), 1+rng.Int64N(crashItems)
			ts := clickBase.Add(time.Duration(seq) * time.Millisecond)
			seq++
			v := fmt.Sprintf(`{"user_id": %d, "item_id": %d, "ts": "%s"}`, user, item, ts.Format("2006-01-02 15:04:05.000"))
			recs = append(recs, &kgo.Record{Topic: "views", Key: []byte(strconv.FormatInt(user, 10)), Value: []byte(v)})
			items = append(items, item)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := cl.ProduceSync(ctx, recs...).FirstErr()
		cancel()
		if err != nil {
			h.gate.leave()
			h.t.Errorf("produce to kfake: %v", err)
			return
		}
		h.produced.mu.Lock()
		h.produced.total += int64(len(recs))
		for _, it := range items {
			h.produced.perItem[it]++
		}
		h.produced.mu.Unlock()
		h.gate.leave()
		<-tick.C
	}
}

// check runs with the writers paused: it waits until the server has read
// the whole topic, FLUSHes, resolves the unknown statements against the
// tables (failing on a lost acknowledged statement, a failed one present
// or a partial one), and compares every view with its batch query and a
// recomputation in Go.
func (h *crashHarness) check(label string) {
	t := h.t
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, %s: %s\nserver log:\n%s", h.seed, label, fmt.Sprintf(format, args...), tail(h.srv.log.String(), 40))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, h.srv.url(""))
	if err != nil {
		fail("connect: %v", err)
	}
	defer c.Close(context.Background())
	for _, line := range strings.Split(h.srv.log.String(), "\n") {
		if strings.Contains(line, "recovered") {
			t.Logf("%s: %s", label, line)
		}
	}

	h.produced.mu.Lock()
	wantKafka := maps.Clone(h.produced.perItem)
	h.produced.mu.Unlock()
	h.waitCaughtUp(ctx, c, fail)
	if _, err := c.Exec(ctx, "FLUSH"); err != nil {
		fail("FLUSH: %v", err)
	}

	appliedClicks := h.checkClicks(ctx, c, fail)
	profiles := h.checkProfiles(ctx, c, fail)

	// Recompute every view in Go from the acknowledged (or resolved) input.
	want := map[string][]string{}
	want["kafka_counts"] = countRows(wantKafka)
	perItem := map[int64]int64{}
	perSeg := map[string]int64{}
	perSegItem := map[[2]string]int64{}
	for _, ck := range appliedClicks {
		perItem[ck.item]++
		if p, ok := profiles[ck.user]; ok {
			perSeg[p.segment]++
			perSegItem[[2]string{p.segment, strconv.FormatInt(ck.item, 10)}]++
		}
	}
	want["click_counts"] = countRows(perItem)
	want["segment_counts"] = countRows(perSeg)
	var segItems, top []string
	bySeg := map[string][][2]int64{}
	for k, n := range perSegItem {
		segItems = append(segItems, k[0]+"|"+k[1]+"|"+strconv.FormatInt(n, 10))
		item, _ := strconv.ParseInt(k[1], 10, 64)
		bySeg[k[0]] = append(bySeg[k[0]], [2]int64{item, n})
	}
	for seg, list := range bySeg {
		sort.Slice(list, func(i, j int) bool {
			if list[i][1] != list[j][1] {
				return list[i][1] > list[j][1]
			}
			return list[i][0] < list[j][0]
		})
		for rn, e := range list[:min(3, len(list))] {
			top = append(top, fmt.Sprintf("%s|%d|%d|%d", seg, e[0], e[1], rn+1))
		}
	}
	sort.Strings(segItems)
	sort.Strings(top)
	want["segment_items"], want["top_items"] = segItems, top

	for _, v := range crashViews {
		got := queryStrings(ctx, c, "SELECT * FROM "+v.name, fail)
		if d := diffRows(got, want[v.name]); d != "" {
			fail("view %s differs from the recomputation over all acknowledged input:\n%s", v.name, d)
		}
		if v.batch != "" {
			batch := queryStrings(ctx, c, v.batch, fail)
			if d := diffRows(got, batch); d != "" {
				fail("view %s differs from its batch query:\n%s", v.name, d)
			}
		}
	}
}

// waitCaughtUp polls until the Kafka source has read every produced event.
func (h *crashHarness) waitCaughtUp(ctx context.Context, c *pgx.Conn, fail func(string, ...any)) {
	h.produced.mu.Lock()
	total := h.produced.total
	h.produced.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var parts, next, lag int64
		var srcErr *string
		err := c.QueryRow(ctx, "SELECT COUNT(*), COALESCE(SUM(next_offset), 0), COALESCE(SUM(lag_records), 0) FROM sluice_source_lag").Scan(&parts, &next, &lag)
		if err == nil {
			err = c.QueryRow(ctx, "SELECT error FROM sluice_sources WHERE name = 'views'").Scan(&srcErr)
		}
		if err != nil {
			fail("source progress: %v", err)
		}
		if srcErr != nil {
			fail("the Kafka source failed: %s", *srcErr)
		}
		if parts == crashPartsN && next == total && lag == 0 {
			return
		}
		if next > total {
			fail("the source read %d records, only %d were produced", next, total)
		}
		if time.Now().After(deadline) {
			fail("the source did not catch up: %d partitions, next offsets sum %d, lag %d, want %d records", parts, next, lag, total)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// checkClicks compares clicks with the INSERTs sent and returns the rows
// of the statements that count, resolving unknown ones.
func (h *crashHarness) checkClicks(ctx context.Context, c *pgx.Conn, fail func(string, ...any)) []click {
	h.clicks.mu.Lock()
	defer h.clicks.mu.Unlock()
	rows, err := c.Query(ctx, "SELECT user_id, item_id, ts FROM clicks")
	if err != nil {
		fail("read clicks: %v", err)
	}
	present := make([]bool, len(h.clicks.rows))
	for rows.Next() {
		var u, it int64
		var ts time.Time
		if err := rows.Scan(&u, &it, &ts); err != nil {
			fail("read clicks: %v", err)
		}
		d := ts.Sub(clickBase)
		id := int64(d / time.Millisecond)
		if d%time.Millisecond != 0 || id < 0 || id >= int64(len(present)) {
			fail("clicks holds a row no statement inserted: (%d, %d, %v)", u, it, ts)
		}
		if present[id] {
			fail("clicks holds click %d twice", id)
		}
		if ck := h.clicks.rows[id]; ck.user != u || ck.item != it {
			fail("click %d is (%d, %d), inserted as (%d, %d)", id, u, it, ck.user, ck.item)
		}
		present[id] = true
	}
	if err := rows.Err(); err != nil {
		fail("read clicks: %v", err)
	}
	var out []click
	inStmt := 0
	for i := range h.clicks.stmts {
		s := &h.clicks.stmts[i]
		k := int64(0)
		for id := s.first; id < s.first+s.n; id++ {
			if present[id] {
				k++
			}
		}
		inStmt += int(s.n)
		switch {
		case k != 0 && k != s.n:
			fail("INSERT of clicks %d..%d (%s) is partly there: %d of %d rows", s.first, s.first+s.n-1, s.out, k, s.n)
		case s.out == unknown:
			s.out = absent
			if k == s.n {
				s.out = applied
			}
		case s.out.counted() && k == 0:
			fail("INSERT of clicks %d..%d was %s but is missing", s.first, s.first+s.n-1, s.out)
		case !s.out.counted() && k != 0:
			fail("INSERT of clicks %d..%d %s (%v) but is there", s.first, s.first+s.n-1, s.out, s.err)
		}
		if s.out.counted() {
			for id := s.first; id < s.first+s.n; id++ {
				out = append(out, h.clicks.rows[id])
			}
		}
	}
	if inStmt != len(present) {
		fail("internal: %d click rows built, %d in statements", len(present), inStmt)
	}
	return out
}

// checkProfiles compares profiles with the confirmed state plus the
// statements since the last check, choosing for each unknown statement
// whether it was applied; exactly some choice must give the table.
func (h *crashHarness) checkProfiles(ctx context.Context, c *pgx.Conn, fail func(string, ...any)) map[int64]profile {
	h.profiles.mu.Lock()
	defer h.profiles.mu.Unlock()
	got := map[int64]profile{}
	rows, err := c.Query(ctx, "SELECT user_id, segment, ver FROM profiles")
	if err != nil {
		fail("read profiles: %v", err)
	}
	for rows.Next() {
		var k, ver int64
		var seg string
		if err := rows.Scan(&k, &seg, &ver); err != nil {
			fail("read profiles: %v", err)
		}
		if _, dup := got[k]; dup {
			fail("profiles holds key %d twice", k)
		}
		got[k] = profile{seg, ver}
	}
	if err := rows.Err(); err != nil {
		fail("read profiles: %v", err)
	}
	recent := h.profiles.stmts[h.profiles.checked:]
	var unknowns []int
	for i, s := range recent {
		if s.out == unknown {
			unknowns = append(unknowns, i)
		}
	}
	if len(unknowns) > 10 {
		fail("internal: %d unknown profile statements since the last check", len(unknowns))
	}
	var closest map[int64]profile
	for mask := 0; mask < 1<<len(unknowns); mask++ {
		m := maps.Clone(h.profiles.confirmed)
		u := 0
		for _, s := range recent {
			use := s.out == acked
			if s.out == unknown {
				use = mask&(1<<u) != 0
				u++
			}
			if use {
				s.apply(m)
			}
		}
		if maps.Equal(m, got) {
			for b, i := range unknowns {
				recent[i].out = absent
				if mask&(1<<b) != 0 {
					recent[i].out = applied
				}
			}
			h.profiles.checked = len(h.profiles.stmts)
			h.profiles.confirmed = got
			return got
		}
		if mask == 0 {
			closest = m
		}
	}
	var lines []string
	for _, s := range recent {
		if s.out != acked {
			lines = append(lines, fmt.Sprintf("  statement ver %d kind %d keys %v range %d..%d: %s %v", s.ver, s.kind, s.keys, s.lo, s.hi, s.out, s.err))
		}
	}
	fail("profiles matches no outcome of the statements since the last check (%d statements, %d unknown):\n%s\n%s",
		len(recent), len(unknowns), diffRows(profileRows(got), profileRows(closest)), strings.Join(lines, "\n"))
	return nil
}

func profileRows(m map[int64]profile) []string {
	var out []string
	for k, p := range m {
		out = append(out, fmt.Sprintf("%d|%s|%d", k, p.segment, p.ver))
	}
	sort.Strings(out)
	return out
}

// countRows renders key → count as sorted "key|count" rows.
func countRows[K comparable](m map[K]int64) []string {
	out := make([]string, 0, len(m))
	for k, n := range m {
		out = append(out, fmt.Sprintf("%v|%d", k, n))
	}
	sort.Strings(out)
	return out
}

// queryStrings runs a query and renders its rows as sorted "a|b|c" strings.
func queryStrings(ctx context.Context, c *pgx.Conn, sql string, fail func(string, ...any)) []string {
	rows, err := c.Query(ctx, sql)
	if err != nil {
		fail("%s: %v", sql, err)
	}
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			fail("%s: %v", sql, err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		fail("%s: %v", sql, err)
	}
	sort.Strings(out)
	return out
}

// diffRows describes how got differs from want (sorted rows), or "".
func diffRows(got, want []string) string {
	if slices.Equal(got, want) {
		return ""
	}
	var missing, extra []string
	i, j := 0, 0
	for i < len(got) || j < len(want) {
		switch {
		case j == len(want) || (i < len(got) && got[i] < want[j]):
			extra = append(extra, got[i])
			i++
		case i == len(got) || want[j] < got[i]:
			missing = append(missing, want[j])
			j++
		default:
			i++
			j++
		}
	}
	cut := func(s []string) []string { return s[:min(len(s), 20)] }
	return fmt.Sprintf("  %d rows, want %d\n  missing (want, not got): %v\n  extra (got, not wanted): %v",
		len(got), len(want), cut(missing), cut(extra))
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestRecoveryReadsSourceOnlyOnceViewsExist: on restart a checkpoint
// recreates a Kafka source, then restores a large table, then the view
// over the source; the events produced after the checkpoint are read while
// that happens. The view must still count every event of the topic: a
// recovering source must not emit (and so drop) events before the views
// that read it exist again. A second restart, from the same checkpoint,
// must agree.
func TestRecoveryReadsSourceOnlyOnceViewsExist(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(crashPartsN, "views"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	broker := cluster.ListenAddrs()[0]
	srv := &crashServer{t: t, addr: freeAddr(t), dir: t.TempDir()}
	t.Cleanup(srv.kill)
	srv.start()
	srv.waitReady()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, srv.url("simple_protocol"))
	if err != nil {
		t.Fatal(err)
	}
	sqlExec := func(sql string) {
		t.Helper()
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("%.80s: %v", sql, err)
		}
	}
	sqlExec(fmt.Sprintf(`CREATE SOURCE views (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3))
		WITH (connector = 'kafka', brokers = '%s', topic = 'views', format = 'json')`, broker))
	sqlExec("CREATE TABLE filler (a BIGINT PRIMARY KEY, b TEXT)")
	for k := range 200 {
		var sb strings.Builder
		for i := range 2000 {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "(%d, 'filler row %d')", k*2000+i, i)
		}
		sqlExec("INSERT INTO filler VALUES " + sb.String())
	}
	// The topic is still empty: the view sees the whole of it.
	sqlExec("CREATE MATERIALIZED VIEW kafka_counts AS SELECT item_id, COUNT(*) AS n FROM views GROUP BY item_id")
	sqlExec("CHECKPOINT")
	c.Close(ctx)

	prod, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	want := map[int64]int64{}
	var recs []*kgo.Record
	const events = 20000
	for i := range events {
		item := int64(i%crashItems) + 1
		want[item]++
		v := fmt.Sprintf(`{"user_id": %d, "item_id": %d, "ts": "2026-11-25 10:00:00.000"}`, i%crashUsers, item)
		recs = append(recs, &kgo.Record{Topic: "views", Key: []byte(strconv.Itoa(i % crashUsers)), Value: []byte(v)})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	h := &crashHarness{t: t, srv: srv}
	h.produced.total, h.produced.perItem = events, want
	for round := 1; round <= 2; round++ {
		srv.kill()
		srv.start()
		srv.waitReady()
		c, err := pgx.Connect(ctx, srv.url(""))
		if err != nil {
			t.Fatal(err)
		}
		h.waitCaughtUp(ctx, c, func(format string, args ...any) { t.Fatalf(format, args...) })
		if _, err := c.Exec(ctx, "FLUSH"); err != nil {
			t.Fatal(err)
		}
		got := queryStrings(ctx, c, "SELECT item_id, n FROM kafka_counts", func(format string, args ...any) { t.Fatalf(format, args...) })
		if d := diffRows(got, countRows(want)); d != "" {
			t.Fatalf("restart %d: kafka_counts lost (or counted twice) events read during recovery:\n%s\nserver log:\n%s", round, d, tail(srv.log.String(), 20))
		}
		c.Close(ctx)
	}
}
