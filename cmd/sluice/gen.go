package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicedb/sluice/connectors/datagen"
)

// genUsage documents `sluice gen`.
const genUsage = `usage: sluice gen [flags]

Writes the clickstream of the datagen model (the stream the 'datagen'
source produces inside the engine), one event per line.

  --rate N           events per second, paced against the clock so event
                     time tracks now (default 10000); 0 = unpaced, as fast
                     as possible
  --event-rate N     events per second of event time when unpaced (default 10000)
  --users N          users (default 100000)
  --items N          items (default 5000)
  --zipf S           item popularity exponent, any S > 0 (default 1.1)
  --session-mean N   mean events per session (default 8)
  --think D          mean time between a session's events (default 30s)
  --categories N     item categories (default 20; 1 = none)
  --seed N           random seed (default 1)
  --max-delay D      out-of-order lag bound of ts, e.g. 5s (default 0)
  --start T          event time origin: now (default) or 'YYYY-MM-DD HH:MM:SS';
                     with a fixed --start the output is the same for a seed
  --count N          stop after N events (default 0: until Ctrl-C)
  --to DEST          stdout (default) or kafka://host:port[,host:port]/topic:
                     one message per event, the line as value, user_id as
                     key (the topic is created if the broker allows it)
  --format F         json (default) or csv (user_id,item_id,ts,session_id,event)
  --header           csv: write a header line first
`

// genFlushInterval bounds how long a paced event waits in the output buffer.
const genFlushInterval = 50 * time.Millisecond

// genChunk is how many events are produced between checks of the context
// and the clock.
const genChunk = 4096

// genOptions is a parsed `sluice gen` command line.
type genOptions struct {
	cfg      datagen.Config
	rate     float64 // 0: unpaced
	startNow bool
	count    int64
	brokers  []string // kafka: seed brokers (nil: stdout)
	topic    string
	json     bool
	header   bool
}

// runGen implements `sluice gen`: it stops cleanly on Ctrl-C or SIGTERM.
func runGen(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return genMain(ctx, args, stdout, stderr)
}

func genMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opt, err := parseGenArgs(args, stderr)
	if err != nil {
		return err
	}
	if opt == nil { // --help
		return nil
	}
	run, err := newGenRun(ctx, opt, stdout)
	if err != nil {
		return err
	}
	defer run.close()
	return run.withProgress(ctx, stderr)
}

func parseGenArgs(args []string, stderr io.Writer) (*genOptions, error) {
	d := datagen.DefaultConfig()
	fs := flag.NewFlagSet("sluice gen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	rate := fs.Float64("rate", d.Rate, "")
	eventRate := fs.Float64("event-rate", d.Rate, "")
	users := fs.Int("users", d.Users, "")
	items := fs.Int("items", d.Items, "")
	zipf := fs.Float64("zipf", d.ZipfS, "")
	sessionMean := fs.Float64("session-mean", d.SessionMean, "")
	think := fs.Duration("think", d.ThinkMean, "")
	categories := fs.Int("categories", d.Categories, "")
	seed := fs.Uint64("seed", d.Seed, "")
	maxDelay := fs.Duration("max-delay", 0, "")
	start := fs.String("start", "now", "")
	count := fs.Int64("count", 0, "")
	to := fs.String("to", "stdout", "")
	format := fs.String("format", "json", "")
	header := fs.Bool("header", false, "")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprint(stderr, genUsage)
			return nil, nil
		}
		return nil, fmt.Errorf("gen: %w\n%s", err, strings.TrimSpace(genUsage))
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("gen: unexpected argument %q\n%s", fs.Arg(0), strings.TrimSpace(genUsage))
	}
	opt := &genOptions{rate: *rate, count: *count, header: *header}
	if *to != "stdout" && *to != "-" {
		var err error
		if opt.brokers, opt.topic, err = genParseKafka(*to); err != nil {
			return nil, err
		}
	}
	switch {
	case *rate < 0 || *rate != *rate:
		return nil, fmt.Errorf("gen: --rate %v must be 0 (unpaced) or positive", *rate)
	case *count < 0:
		return nil, fmt.Errorf("gen: --count %d is negative", *count)
	}
	switch strings.ToLower(*format) {
	case "json":
		opt.json = true
	case "csv":
	default:
		return nil, fmt.Errorf("gen: --format %q: want json or csv", *format)
	}
	cfg := d
	cfg.Rate = *rate
	if *rate == 0 {
		cfg.Rate = *eventRate
	}
	cfg.Users, cfg.Items, cfg.ZipfS = *users, *items, *zipf
	cfg.SessionMean, cfg.ThinkMean, cfg.Categories = *sessionMean, *think, *categories
	cfg.Seed, cfg.MaxDelay = *seed, *maxDelay
	for name, v := range map[string]float64{"users": float64(*users), "items": float64(*items), "zipf": *zipf,
		"session-mean": *sessionMean, "think": float64(*think), "categories": float64(*categories), "event-rate": *eventRate} {
		if v <= 0 || v != v { // zero would silently mean "default" to datagen
			return nil, fmt.Errorf("gen: --%s must be positive", name)
		}
	}
	if s := strings.TrimSpace(*start); strings.EqualFold(s, "now") {
		opt.startNow = true
	} else {
		t, err := genParseTime(s)
		if err != nil {
			return nil, fmt.Errorf("gen: --start: %w", err)
		}
		cfg.Start = t
	}
	opt.cfg = cfg
	return opt, nil
}

func genParseTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999", time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a time (want now or 'YYYY-MM-DD HH:MM:SS')", s)
}

// genParseKafka reads kafka://host:port[,host:port...]/topic.
func genParseKafka(to string) (brokers []string, topic string, err error) {
	u, err := url.Parse(to)
	if err != nil || u.Scheme != "kafka" {
		return nil, "", fmt.Errorf("gen: --to %q: want stdout or kafka://host:port/topic", to)
	}
	topic = strings.Trim(u.Path, "/")
	if topic == "" || strings.Contains(topic, "/") {
		return nil, "", fmt.Errorf("gen: --to %q: want kafka://host:port/topic", to)
	}
	for _, hp := range strings.Split(u.Host, ",") {
		if _, port, err := net.SplitHostPort(hp); err != nil || port == "" {
			return nil, "", fmt.Errorf("gen: --to %q: broker %q is not host:port", to, hp)
		}
		brokers = append(brokers, hp)
	}
	return brokers, topic, nil
}

// Kafka producing: how long to wait for a broker at start, and how long
// buffered events may take to be delivered after Ctrl-C.
var (
	genKafkaPingTimeout = 10 * time.Second
	genKafkaStopGrace   = 5 * time.Second
)

// genKafkaOut produces events to a Kafka topic: the value is the event's
// JSON or CSV line (without the newline), the key its user_id, so one
// user's events keep their order in one partition.
type genKafkaOut struct {
	cl      *kgo.Client
	topic   string
	ctx     context.Context // records' context: outlives Ctrl-C by genKafkaStopGrace
	cancel  context.CancelFunc
	slab    []byte       // values and keys are sliced from here
	recs    []kgo.Record // records are taken from here
	acked   atomic.Int64
	failed  atomic.Int64
	errOnce sync.Once
	err     error
	promise func(*kgo.Record, error)
}

func newGenKafkaOut(ctx context.Context, brokers []string, topic string) (*genKafkaOut, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(100000),
	)
	if err != nil {
		return nil, fmt.Errorf("gen: kafka client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, genKafkaPingTimeout)
	err = cl.Ping(pctx)
	cancel()
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("gen: cannot reach Kafka at %s: %w", strings.Join(brokers, ","), err)
	}
	k := &genKafkaOut{cl: cl, topic: topic}
	k.ctx, k.cancel = context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, func() { time.AfterFunc(genKafkaStopGrace, k.cancel) })
	k.promise = func(_ *kgo.Record, err error) {
		if err != nil {
			k.failed.Add(1)
			k.errOnce.Do(func() { k.err = err })
			return
		}
		k.acked.Add(1)
	}
	return k, nil
}

// send produces one formatted event (line without its newline).
func (k *genKafkaOut) send(e *datagen.Event, format func([]byte, *datagen.Event) []byte) {
	if cap(k.slab)-len(k.slab) < 512 {
		k.slab = make([]byte, 0, 1<<20) // earlier records keep the old slab alive
	}
	if len(k.recs) == 0 {
		k.recs = make([]kgo.Record, genChunk)
	}
	start := len(k.slab)
	k.slab = strconv.AppendInt(k.slab, e.UserID, 10)
	mid := len(k.slab)
	k.slab = format(k.slab, e)
	end := len(k.slab) - 1 // drop the newline
	k.slab = k.slab[:end]
	rec := &k.recs[0]
	k.recs = k.recs[1:]
	rec.Key = k.slab[start:mid:mid]
	rec.Value = k.slab[mid:end:end]
	rec.Topic = k.topic
	k.cl.Produce(k.ctx, rec, k.promise)
}

// finish waits for the buffered events (until the grace after Ctrl-C).
func (k *genKafkaOut) finish() error {
	if err := k.cl.Flush(k.ctx); err != nil {
		return fmt.Errorf("gen: kafka: %d events not delivered: %w", k.cl.BufferedProduceRecords(), err)
	}
	if n := k.failed.Load(); n > 0 {
		return fmt.Errorf("gen: kafka: %d of %d events failed, the first with: %w", n, n+k.acked.Load(), k.err)
	}
	return nil
}

func (k *genKafkaOut) close() {
	k.cancel()
	k.cl.Close()
}

// genRun writes events to an output.
type genRun struct {
	opt   *genOptions
	g     *datagen.Generator
	w     io.Writer
	kafka *genKafkaOut // nil: write to w
	buf   []byte
	count atomic.Int64 // events written (to buf) or produced

	// Timestamp formatting cache: the "YYYY-MM-DD HH:MM:" of one minute.
	minute int64
	prefix []byte
}

// genBufSize is the output buffer; it is written out when it passes genBufFlush.
const (
	genBufSize  = 64 << 10
	genBufFlush = genBufSize - 256
)

func newGenRun(ctx context.Context, opt *genOptions, w io.Writer) (*genRun, error) {
	cfg := opt.cfg
	if opt.startNow {
		cfg.Start = time.Now()
	}
	g, err := datagen.NewGenerator(cfg)
	if err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	r := &genRun{opt: opt, g: g, w: w, buf: make([]byte, 0, genBufSize), minute: -1 << 62}
	if opt.brokers != nil {
		if r.kafka, err = newGenKafkaOut(ctx, opt.brokers, opt.topic); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// close releases the Kafka client, if any.
func (r *genRun) close() {
	if r.kafka != nil {
		r.kafka.close()
	}
}

// flush writes the buffer out.
func (r *genRun) flush() error {
	if len(r.buf) == 0 {
		return nil
	}
	_, err := r.w.Write(r.buf)
	r.buf = r.buf[:0]
	if err != nil {
		return fmt.Errorf("gen: writing events: %w", err)
	}
	return nil
}

// produce formats up to n events arriving before limit (µs since the
// epoch) and returns how many it wrote.
func (r *genRun) produce(n int, limit int64) (int, error) {
	var e datagen.Event
	done := 0
	if r.kafka != nil {
		format := r.appendCSV
		if r.opt.json {
			format = r.appendJSON
		}
		for done < n && r.g.NextArrival() < limit {
			r.g.Next(&e)
			r.kafka.send(&e, format)
			done++
		}
		r.count.Add(int64(done))
		return done, nil
	}
	for done < n && r.g.NextArrival() < limit {
		r.g.Next(&e)
		if r.opt.json {
			r.buf = r.appendJSON(r.buf, &e)
		} else {
			r.buf = r.appendCSV(r.buf, &e)
		}
		done++
		if len(r.buf) >= genBufFlush {
			if err := r.flush(); err != nil {
				r.count.Add(int64(done))
				return done, err
			}
		}
	}
	r.count.Add(int64(done))
	return done, nil
}

// appendJSON appends e's JSON line to b.
func (r *genRun) appendJSON(b []byte, e *datagen.Event) []byte {
	b = append(b, `{"user_id":`...)
	b = strconv.AppendInt(b, e.UserID, 10)
	b = append(b, `,"item_id":`...)
	b = strconv.AppendInt(b, e.ItemID, 10)
	b = append(b, `,"ts":"`...)
	b = r.appendTS(b, e.TS)
	b = append(b, `","session_id":`...)
	b = strconv.AppendInt(b, e.SessionID, 10)
	b = append(b, `,"event":"`...)
	b = append(b, e.Kind.String()...)
	return append(b, "\"}\n"...)
}

// appendCSV appends e's CSV line to b.
func (r *genRun) appendCSV(b []byte, e *datagen.Event) []byte {
	b = strconv.AppendInt(b, e.UserID, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, e.ItemID, 10)
	b = append(b, ',')
	b = r.appendTS(b, e.TS)
	b = append(b, ',')
	b = strconv.AppendInt(b, e.SessionID, 10)
	b = append(b, ',')
	b = append(b, e.Kind.String()...)
	return append(b, '\n')
}

// appendTS formats µs since the epoch as "YYYY-MM-DD HH:MM:SS.ffffff"
// (UTC), the SQL timestamp text, reusing the date and minute of the
// previous call when they agree.
func (r *genRun) appendTS(b []byte, us int64) []byte {
	m := us / 60e6
	if us%60e6 < 0 {
		m--
	}
	if m != r.minute {
		r.minute = m
		r.prefix = time.Unix(m*60, 0).UTC().AppendFormat(r.prefix[:0], "2006-01-02 15:04:")
	}
	b = append(b, r.prefix...)
	rem := us - m*60e6 // [0, 60e6)
	sec, frac := rem/1e6, rem%1e6
	b = append(b, byte('0'+sec/10), byte('0'+sec%10), '.')
	for d := int64(100000); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

// loop writes events until the count is reached or ctx ends.
func (r *genRun) loop(ctx context.Context) error {
	if !r.opt.json && r.opt.header && r.kafka == nil {
		r.buf = append(r.buf, "user_id,item_id,ts,session_id,event\n"...)
	}
	remaining := func() int {
		if r.opt.count == 0 {
			return genChunk
		}
		return int(min(int64(genChunk), r.opt.count-r.g.Count()))
	}
	if r.opt.rate == 0 {
		for ctx.Err() == nil {
			n := remaining()
			if n == 0 {
				break
			}
			if _, err := r.produce(n, 1<<62); err != nil {
				return err
			}
		}
		return r.flush()
	}

	wallStart := time.Now()
	origin := r.g.Config().Start.UnixMicro()
	var pendingSince time.Time // when the buffer got its oldest unwritten event
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n := remaining()
		if n == 0 {
			break
		}
		now := time.Now()
		limit := origin + now.Sub(wallStart).Microseconds()
		had := len(r.buf)
		k, err := r.produce(n, limit)
		if err != nil {
			return err
		}
		if had == 0 && len(r.buf) > 0 {
			pendingSince = now
		}
		if k == n {
			if ctx.Err() != nil {
				break
			}
			continue // behind: catch up before sleeping
		}
		// Caught up. Events wait at most genFlushInterval in the buffer,
		// so a live reader sees them in time; sleep until they must go
		// or, with none pending, until the next event is due.
		var wait time.Duration
		if len(r.buf) > 0 {
			if wait = genFlushInterval - now.Sub(pendingSince); wait <= 0 {
				if err := r.flush(); err != nil {
					return err
				}
				continue
			}
		} else {
			wait = time.Duration(r.g.NextArrival()-limit) * time.Microsecond
		}
		timer.Reset(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			return r.flush()
		case <-timer.C:
		}
	}
	return r.flush()
}

// withProgress runs the loop, showing a progress line on stderr when it
// is a terminal (~5 updates a second) and a summary at the end.
func (r *genRun) withProgress(ctx context.Context, stderr io.Writer) error {
	tty := genIsTerminal(stderr)
	start := time.Now()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	if tty {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			lastN, lastT := int64(0), start
			for {
				select {
				case <-stop:
					return
				case now := <-tick.C:
					n := r.count.Load()
					rate := float64(n-lastN) / now.Sub(lastT).Seconds()
					lastN, lastT = n, now
					fmt.Fprintf(stderr, "\r\x1b[Kevents %s  rate %s/s  elapsed %s",
						genGroup(n), genGroup(int64(rate+0.5)), genElapsed(now.Sub(start)))
				}
			}
		}()
	}
	err := r.loop(ctx)
	if err == nil && r.kafka != nil {
		err = r.kafka.finish()
	}
	close(stop)
	wg.Wait()
	el := time.Since(start)
	n := r.count.Load()
	if tty {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	dest := ""
	if r.kafka != nil {
		dest = fmt.Sprintf(" to Kafka topic %s (%s acknowledged)", r.opt.topic, genGroup(r.kafka.acked.Load()))
	}
	fmt.Fprintf(stderr, "sluice gen: %s events%s in %s (%s events/s)\n",
		genGroup(n), dest, genElapsed(el), genGroup(int64(float64(n)/max(el.Seconds(), 1e-9)+0.5)))
	return err
}

// genIsTerminal reports whether w is a character device (a terminal).
func genIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// genGroup formats n with thousands separators: 1,234,567.
func genGroup(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// genElapsed formats a duration as 12.3s or 4m05s.
func genElapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
