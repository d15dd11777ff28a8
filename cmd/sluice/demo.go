package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicedb/sluice/connectors/datagen"
	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/testdata/recs"
	"github.com/sluicedb/sluice/wire"
)

// demoUsage documents `sluice demo`.
const demoUsage = `usage: sluice demo [flags]

Runs the recommendation views of testdata/recs on a generated clickstream
in an in-memory engine, serves them over the Postgres protocol, prints how
to connect and then live figures (events/s, each view's freshness) every
2 seconds until Ctrl-C. No Kafka and no data directory are needed.

  --listen ADDR   address to listen on (default 127.0.0.1:5488)
  --rate N        clicks per second (default 2000)
  --users N       users (default 20000)
  --items N       items (default 2000)
  --seed N        random seed of the clickstream (default 1)
`

// demoStatsInterval is the time between two redraws of the live figures.
const demoStatsInterval = 2 * time.Second

// demoOptions is a parsed `sluice demo` command line.
type demoOptions struct {
	listen       string
	rate         float64
	users, items int
	seed         uint64
}

func parseDemoArgs(args []string, stderr io.Writer) (*demoOptions, error) {
	fs := flag.NewFlagSet("sluice demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", wire.DefaultListen, "")
	rate := fs.Float64("rate", 2000, "")
	users := fs.Int("users", 20000, "")
	items := fs.Int("items", 2000, "")
	seed := fs.Uint64("seed", 1, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, demoUsage)
			return nil, nil
		}
		return nil, fmt.Errorf("demo: %w\n%s", err, strings.TrimSpace(demoUsage))
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("demo: unexpected argument %q\n%s", fs.Arg(0), strings.TrimSpace(demoUsage))
	}
	switch {
	case !(*rate > 0) || *rate > 1e8:
		return nil, fmt.Errorf("demo: --rate %v: want a positive number of clicks per second", *rate)
	case *users < 1 || *users > datagen.MaxUsers:
		return nil, fmt.Errorf("demo: --users %d: want 1 to %d", *users, datagen.MaxUsers)
	case *items < 2 || *items > datagen.MaxItems:
		return nil, fmt.Errorf("demo: --items %d: want 2 to %d", *items, datagen.MaxItems)
	case *seed > 1<<63-1:
		return nil, fmt.Errorf("demo: --seed %d is too large", *seed)
	}
	return &demoOptions{listen: *listen, rate: *rate, users: *users, items: *items, seed: *seed}, nil
}

// Fixed choices of the demo's clickstream: out-of-order lag under the
// watermark's 5 seconds, and brisk sessions (5 s between a user's clicks
// rather than 30 s) so co-occurrences show up within seconds.
const (
	demoMaxDelayMs = 2000
	demoThinkMs    = 5000
)

// sourceSQL is the demo's clicks source: the columns and watermark of
// testdata/recs/00_clicks.sql, fed by the datagen connector.
func (o *demoOptions) sourceSQL() string {
	return fmt.Sprintf(`CREATE SOURCE clicks (
  user_id BIGINT,
  item_id BIGINT,
  ts      TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL 5 SECOND
) WITH (connector = 'datagen', rate = %s, users = %d, items = %d, seed = %d,
        max_delay_ms = %d, think_ms = %d)`,
		strconv.FormatFloat(o.rate, 'f', -1, 64), o.users, o.items, o.seed, demoMaxDelayMs, demoThinkMs)
}

// demoViewFiles lists the view files of testdata/recs the demo runs, in
// lexical order (the order the files depend on each other): all but the
// table (the demo has a source instead), the fixed event log and the
// parameterised queries.
func demoViewFiles(fsys fs.FS) ([]string, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if n == "00_clicks.sql" || n == "events.sql" || strings.HasSuffix(n, "_query.sql") {
			continue
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no view files embedded")
	}
	return out, nil
}

// setupDemo creates the clicks source and the recommendation views in eng.
//
// A source keeps no rows, so a view sees only the events that arrive
// after it is created: the views are created right after the source (they
// read it, so it must exist first), and the first few milliseconds of
// clicks may be missed by the views created last. It makes no difference
// to a live stream.
func setupDemo(ctx context.Context, eng *executor.Engine, opt *demoOptions) (views []string, err error) {
	if _, err := eng.Execute(ctx, opt.sourceSQL()); err != nil {
		return nil, fmt.Errorf("create source clicks: %w", err)
	}
	files, err := demoViewFiles(recs.Files)
	if err != nil {
		return nil, fmt.Errorf("recommendation views: %w", err)
	}
	for _, f := range files {
		text, err := fs.ReadFile(recs.Files, f)
		if err != nil {
			return nil, fmt.Errorf("recommendation views: %w", err)
		}
		if err := runScript(ctx, eng, "testdata/recs/"+f, string(text), nil); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// demoExampleIDs returns the user and the item of the stream's first
// click: a user who is in a browsing session from the start, so the
// personalised query has something to work with within seconds.
func demoExampleIDs(opt *demoOptions) (user, item int64, err error) {
	cfg := datagen.DefaultConfig()
	cfg.Users, cfg.Items, cfg.Seed = opt.users, opt.items, opt.seed
	cfg.Rate = opt.rate
	cfg.MaxDelay = demoMaxDelayMs * time.Millisecond
	cfg.ThinkMean = demoThinkMs * time.Millisecond
	g, err := datagen.NewGenerator(cfg)
	if err != nil {
		return 0, 0, err
	}
	var e datagen.Event
	g.Next(&e)
	return e.UserID, e.ItemID, nil
}

// personalisedQuery is d_personalised_query.sql without its comments,
// on one line, with $1 replaced by the user id.
func personalisedQuery(user int64) (string, error) {
	text, err := fs.ReadFile(recs.Files, "d_personalised_query.sql")
	if err != nil {
		return "", err
	}
	var parts []string
	for _, line := range strings.Split(string(text), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "--") {
			parts = append(parts, line)
		}
	}
	q := strings.Join(parts, " ")
	if !strings.Contains(q, "$1") {
		return "", errors.New("d_personalised_query.sql has no $1")
	}
	return strings.ReplaceAll(q, "$1", strconv.FormatInt(user, 10)) + ";", nil
}

// printDemoHelp prints how to connect to addr and example queries.
func printDemoHelp(w io.Writer, addr net.Addr, opt *demoOptions, views []string) error {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return err
	}
	user, item, err := demoExampleIDs(opt)
	if err != nil {
		return err
	}
	personal, err := personalisedQuery(user)
	if err != nil {
		return err
	}
	url := "postgres://sluice@" + net.JoinHostPort(host, port) + "/sluice"
	fmt.Fprintf(w, `Sluice demo: %s clicks/s from the datagen source into the recommendation
views of testdata/recs, in memory:
  %s

Connect with:
  psql -h %s -p %s -U sluice sluice
or, without psql:
  go run ./cmd/sluice sql %s

Try:
  -- trending now: the 10 most viewed items of the 10-minute window ending next
  SELECT item_id, views FROM trending WHERE window_start = DATE_TRUNC('minute', NOW()) - INTERVAL 9 MINUTE ORDER BY views DESC, item_id;
  -- items similar to item %d
  SELECT other, ROUND(score, 4) AS score FROM similar WHERE item = %d ORDER BY score DESC, other;
  -- personalised recommendations for user %d
  %s
  -- the stream and the views themselves
  SELECT * FROM sluice_sources;
  SELECT name, row_count, last_change FROM sluice_views;

The source is:
%s;

`, genGroup(int64(opt.rate)), strings.Join(views, ", "), host, port, url, item, item, user, personal, opt.sourceSQL())
	return nil
}

// demoCommand is `sluice demo`.
func demoCommand(args []string, stdout, stderr io.Writer) error {
	opt, err := parseDemoArgs(args, stderr)
	if err != nil || opt == nil {
		return err
	}
	eng, err := executor.Open(executor.Options{})
	if err != nil {
		return fmt.Errorf("demo: open engine: %w", err)
	}
	defer eng.Close()
	ctx := context.Background()
	views, err := setupDemo(ctx, eng, opt)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	cfg := wire.Config{
		Listen: opt.listen,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	srv, ln, err := listenWire(eng, cfg, stderr)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := printDemoHelp(stdout, ln.Addr(), opt, views); err != nil {
		srv.Close()
		return fmt.Errorf("demo: %w", err)
	}
	live := func(stop <-chan struct{}) {
		st := &demoStats{eng: eng, w: stdout, tty: genIsTerminal(stdout)}
		tick := time.NewTicker(demoStatsInterval)
		defer tick.Stop()
		st.sample(ctx, time.Now()) // the baseline of the first rates
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				st.update(ctx, now)
			}
		}
	}
	if err := serveUntilSignal(srv, ln, stderr, live); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := eng.Close(); err != nil {
		return fmt.Errorf("demo: close engine: %w", err)
	}
	return nil
}

// demoSource is one row of sluice_sources.
type demoSource struct {
	name            string
	events, bad     int64
	late            int64
	err             string
	eventsPerSecond float64 // since the previous sample; -1 when unknown
}

// demoView is one row of sluice_views.
type demoView struct {
	name       string
	rows       int64
	lastChange time.Time // zero: never changed
	err        string
}

// demoSnapshot is the live figures at one moment.
type demoSnapshot struct {
	at      time.Time
	sources []demoSource
	views   []demoView
}

// demoStats samples the system tables and draws the live figures.
type demoStats struct {
	eng   *executor.Engine
	w     io.Writer
	tty   bool
	start time.Time
	prev  *demoSnapshot
	lines int // lines of the previous drawing (tty)
}

// sample reads the system tables at now, computing event rates against
// the previous sample.
func (s *demoStats) sample(ctx context.Context, now time.Time) (*demoSnapshot, error) {
	if s.start.IsZero() {
		s.start = now
	}
	snap := &demoSnapshot{at: now}
	res, err := s.eng.Execute(ctx, "SELECT name, events, bad_events, late_rows, error FROM sluice_sources ORDER BY name")
	if err != nil {
		return nil, err
	}
	for _, r := range res[0].Rows {
		src := demoSource{name: r[0].S, events: r[1].I, bad: r[2].I, late: r[3].I, eventsPerSecond: -1}
		if !r[4].Null {
			src.err = r[4].S
		}
		snap.sources = append(snap.sources, src)
	}
	res, err = s.eng.Execute(ctx, "SELECT name, row_count, last_change, error FROM sluice_views")
	if err != nil {
		return nil, err
	}
	for _, r := range res[0].Rows {
		v := demoView{name: r[0].S, rows: r[1].I}
		if !r[2].Null {
			v.lastChange = time.UnixMicro(r[2].I)
		}
		if !r[3].Null {
			v.err = r[3].S
		}
		snap.views = append(snap.views, v)
	}
	if s.prev != nil {
		dt := now.Sub(s.prev.at).Seconds()
		for i := range snap.sources {
			for _, p := range s.prev.sources {
				if p.name == snap.sources[i].name && dt > 0 {
					snap.sources[i].eventsPerSecond = float64(snap.sources[i].events-p.events) / dt
				}
			}
		}
	}
	s.prev = snap
	return snap, nil
}

// update samples and draws: in place on a terminal (the cursor moves up
// over the previous drawing), appended otherwise.
func (s *demoStats) update(ctx context.Context, now time.Time) {
	snap, err := s.sample(ctx, now)
	var lines []string
	if err != nil {
		lines = []string{"live figures unavailable: " + err.Error()}
	} else {
		lines = formatDemoSnapshot(snap, now.Sub(s.start))
	}
	var b strings.Builder
	if s.tty {
		if s.lines > 0 {
			fmt.Fprintf(&b, "\x1b[%dA", s.lines)
		}
		for _, l := range lines {
			b.WriteString("\r" + l + "\x1b[K\n")
		}
		b.WriteString("\x1b[J") // clear what a longer drawing left below
		s.lines = len(lines)
	} else {
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
		b.WriteString("\n")
	}
	io.WriteString(s.w, b.String())
}

// formatDemoSnapshot renders the live figures as a compact table.
func formatDemoSnapshot(snap *demoSnapshot, up time.Duration) []string {
	lines := []string{fmt.Sprintf("%s  up %s  (Ctrl-C to stop)", snap.at.Format("15:04:05"), genElapsed(up))}
	for _, src := range snap.sources {
		rate := "-"
		if src.eventsPerSecond >= 0 {
			rate = genGroup(int64(src.eventsPerSecond + 0.5))
		}
		l := fmt.Sprintf("source %s: %s events/s, %s events, %s late, %s bad",
			src.name, rate, genGroup(src.events), genGroup(src.late), genGroup(src.bad))
		if src.err != "" {
			l += "  ERROR: " + src.err
		}
		lines = append(lines, l)
	}
	width := len("view")
	for _, v := range snap.views {
		width = max(width, len(v.name))
	}
	lines = append(lines, fmt.Sprintf("  %-*s %12s  %s", width, "view", "rows", "last change"))
	for _, v := range snap.views {
		fresh := "never"
		if !v.lastChange.IsZero() {
			fresh = fmt.Sprintf("%.1fs ago", max(snap.at.Sub(v.lastChange).Seconds(), 0))
		}
		l := fmt.Sprintf("  %-*s %12s  %s", width, v.name, genGroup(v.rows), fresh)
		if v.err != "" {
			l += "  ERROR: " + v.err
		}
		lines = append(lines, l)
	}
	return lines
}
