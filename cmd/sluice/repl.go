package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chzyer/readline"

	"github.com/sluicedb/sluice/parser"
)

// errInterrupt is returned by a lineReader when the user pressed Ctrl-C
// at the prompt.
var errInterrupt = errors.New("interrupt")

// lineReader supplies the REPL's input lines.
type lineReader interface {
	// ReadLine shows prompt (interactive readers only) and returns the
	// next line without its newline; errInterrupt on Ctrl-C, io.EOF at
	// the end of input (Ctrl-D).
	ReadLine(prompt string) (string, error)
	// AddHistory records a complete statement or meta command.
	AddHistory(entry string)
	Close() error
}

// ttyReader reads lines with line editing and a history file.
type ttyReader struct{ rl *readline.Instance }

func (t *ttyReader) ReadLine(prompt string) (string, error) {
	t.rl.SetPrompt(prompt)
	line, err := t.rl.Readline()
	if errors.Is(err, readline.ErrInterrupt) {
		return "", errInterrupt
	}
	return line, err
}

func (t *ttyReader) AddHistory(entry string) {
	// The history file holds one entry a line.
	_ = t.rl.SaveHistory(strings.Join(strings.Fields(entry), " "))
}

func (t *ttyReader) Close() error { return t.rl.Close() }

// plainReader reads lines from a non-terminal (a pipe or a file), with no
// prompt and no history.
type plainReader struct{ r *bufio.Reader }

func (p *plainReader) ReadLine(string) (string, error) {
	line, err := p.r.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (p *plainReader) AddHistory(string) {}
func (p *plainReader) Close() error      { return nil }

// historyPath is $SLUICE_HISTORY, or UserConfigDir/sluice/history. The
// file is created with mode 0600 (its directory 0700) if missing.
func historyPath() (string, error) {
	p := os.Getenv("SLUICE_HISTORY")
	if p == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("history file: %w", err)
		}
		p = filepath.Join(dir, "sluice", "history")
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("history file: %w", err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("history file: %w", err)
	}
	return p, f.Close()
}

// newTTYReader sets up readline on the terminal with the history file.
func newTTYReader() (*ttyReader, error) {
	cfg := &readline.Config{
		InterruptPrompt:        "^C",
		EOFPrompt:              `\q`,
		DisableAutoSaveHistory: true,
		HistorySearchFold:      true,
	}
	hp, err := historyPath()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice: warning:", err)
	} else {
		cfg.HistoryFile = hp
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return nil, fmt.Errorf("readline: %w", err)
	}
	if hp != "" {
		_ = os.Chmod(hp, 0o600) // readline may have rewritten it
	}
	return &ttyReader{rl: rl}, nil
}

// replSQL is `sluice sql [URL]`: an interactive session on the embedded
// engine, or on a server when URL is given.
func replSQL(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 1 {
		return fmt.Errorf("usage: sluice sql [URL]")
	}
	var be backend
	if len(args) == 1 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		b, err := newRemote(ctx, args[0])
		cancel()
		if err != nil {
			return err
		}
		be = b
	} else {
		b, err := newEmbedded()
		if err != nil {
			return err
		}
		be = b
	}
	defer be.Close()

	var lr lineReader
	interactive := stdin == os.Stdin && readline.DefaultIsTerminal()
	if interactive {
		t, err := newTTYReader()
		if err != nil {
			return err
		}
		lr = t
	} else {
		lr = &plainReader{r: bufio.NewReader(stdin)}
	}
	defer lr.Close()

	r := newREPL(be, stdout, stderr)
	r.interactive = interactive
	r.timing = interactive
	if interactive {
		fmt.Fprintf(stdout, "sluice %s. Type \\? for help, \\q to quit.\n", version)
		fmt.Fprintln(stdout, be.ConnInfo())
	}
	// Ctrl-C while a statement runs (the terminal is not in raw mode then)
	// arrives as SIGINT: cancel the statement and keep the session. At the
	// prompt readline sees the key itself.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-sigc:
				r.interrupt()
			case <-stop:
				return
			}
		}
	}()
	defer func() {
		signal.Stop(sigc)
		close(stop)
		wg.Wait()
	}()
	return r.loop(lr)
}

// repl is the interactive loop: it accumulates lines into statements,
// runs them on a backend and handles meta commands.
type repl struct {
	be          backend
	out, errw   io.Writer
	timing      bool
	interactive bool

	// buf holds the text of an unfinished statement; bufLine is the input
	// line it started on (for \i error locations).
	buf     string
	bufLine int

	// src names the file being read by \i ("" for the terminal); srcLine
	// is the line number in it.
	src     string
	srcLine int
	depth   int

	mu     sync.Mutex
	cancel context.CancelFunc // of the running statement, or nil

	// onExec, if set, is called once a statement is running and can be
	// interrupted (tests use it).
	onExec func()
}

// newREPL returns a REPL with timing on. `sluice sql` keeps it on for a
// terminal (unlike psql, where \timing starts off: interactive users of a
// streaming engine want to see it) and turns it off for piped input.
func newREPL(be backend, out, errw io.Writer) *repl {
	return &repl{be: be, out: out, errw: errw, timing: true}
}

// interrupt cancels the running statement, if any.
func (r *repl) interrupt() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
	}
}

// prompt is psql's: "=>" for a new statement, "->" for a continuation.
func (r *repl) prompt() string {
	if strings.TrimSpace(r.buf) == "" {
		return "sluice=> "
	}
	return "sluice-> "
}

// loop reads lines until \q or end of input.
func (r *repl) loop(lr lineReader) error {
	for {
		line, err := lr.ReadLine(r.prompt())
		if errors.Is(err, errInterrupt) {
			r.buf = "" // Ctrl-C at the prompt drops the line and the statement
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read input: %w", err)
		}
		r.srcLine++
		quit, hist := r.feed(line)
		if hist != "" {
			lr.AddHistory(hist)
		}
		if quit {
			return nil
		}
	}
}

// feed processes one input line. It returns quit when the session should
// end and, when a statement or meta command completed, the text to keep
// in the history.
func (r *repl) feed(line string) (quit bool, history string) {
	if strings.TrimSpace(r.buf) == "" {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, `\`) {
			r.buf = ""
			return r.meta(t), t
		}
	}
	if strings.TrimSpace(r.buf) == "" {
		r.buf, r.bufLine = line, r.srcLine
	} else {
		r.buf += "\n" + line
	}
	stmts, rest, done := splitInput(r.buf)
	if len(stmts) == 0 && !done {
		return false, ""
	}
	text := r.buf
	if !done {
		text = strings.TrimSpace(r.buf[:len(r.buf)-len(rest)])
	}
	startLine := r.bufLine
	if done {
		r.buf = ""
	} else {
		// The unfinished statement starts at rest; count the lines before it.
		r.bufLine += strings.Count(r.buf[:len(r.buf)-len(rest)], "\n")
		r.buf = rest
	}
	for _, p := range stmts {
		r.execStatement(p.Text, startLine+p.Line-1)
	}
	return false, text
}

// splitInput cuts buffered input into complete statements. done reports
// that the input ends with a complete statement (the last ';' is outside
// quotes and comments, with only whitespace and comments after it); when
// it does not, rest is the unfinished last statement's text.
func splitInput(buf string) (stmts []parser.Piece, rest string, done bool) {
	pieces := parser.Split(buf)
	// Probe: a marker word after a newline is a statement of its own
	// exactly when everything before it is terminated.
	probe := parser.Split(buf + "\nx")
	if n := len(probe); n > 0 && probe[n-1].Text == "x" && probe[n-1].Offset == len(buf)+1 {
		done = true
	}
	for i, p := range pieces {
		if !done && i == len(pieces)-1 {
			rest = buf[p.Offset:]
			break
		}
		if !p.Empty {
			stmts = append(stmts, p)
		}
	}
	return stmts, rest, done
}

// execStatement runs one statement and prints its result or error.
// line is its input line (used when reading a file with \i).
func (r *repl) execStatement(sql string, line int) {
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.cancel = cancel
	r.mu.Unlock()
	if r.onExec != nil {
		r.onExec()
	}
	start := time.Now()
	var rs *resultSet
	handled, err := false, error(nil)
	if st, ok := r.be.(streamer); ok {
		handled, err = st.Stream(ctx, sql, r.out)
	}
	if !handled {
		rs, err = r.be.Exec(ctx, sql)
	}
	elapsed := time.Since(start)
	r.mu.Lock()
	r.cancel = nil
	r.mu.Unlock()
	cancel()
	if err != nil {
		if r.src != "" {
			fmt.Fprintf(r.errw, "%s:%d: ", r.src, line)
		}
		printError(r.errw, err, sql)
	} else if rs != nil {
		for _, n := range rs.Notices {
			fmt.Fprintf(r.errw, "NOTICE:  %s\n", n)
		}
		printResult(r.out, rs, printOpts{})
	}
	if r.timing {
		printTiming(r.out, elapsed)
	}
}

// metaCommand is a parsed backslash command.
type metaCommand struct {
	Name string   // without the backslash, '+' suffix dropped: "d", "dt", "i"
	Args []string // whitespace-separated; quotes removed
}

// parseMeta parses a line starting with '\'.
func parseMeta(line string) metaCommand {
	line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), `\`))
	var m metaCommand
	name, rest, _ := strings.Cut(line, " ")
	if i := strings.IndexAny(name, "\t"); i >= 0 {
		name, rest = name[:i], name[i+1:]+" "+rest
	}
	m.Name = strings.TrimRight(name, "+")
	m.Args = splitArgs(rest)
	return m
}

// splitArgs splits meta-command arguments at whitespace; '...' and
// "..." group words (the quotes are removed).
func splitArgs(s string) []string {
	var args []string
	var cur strings.Builder
	in, has := rune(0), false
	for _, c := range s {
		switch {
		case in != 0 && c == in:
			in = 0
		case in != 0:
			cur.WriteRune(c)
		case c == '\'' || c == '"':
			in, has = c, true
		case c == ' ' || c == '\t':
			if has {
				args = append(args, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(c)
			has = true
		}
	}
	if has {
		args = append(args, cur.String())
	}
	return args
}

const metaHelp = `General
  \q                     quit
  \? [commands]          show this help
  \conninfo              describe the connection
  \timing [on|off]       toggle the display of execution times (on by default)

Input
  \i FILE                execute commands from FILE

Informational
  \d                     list tables and materialized views
  \d NAME                describe a table or materialized view
  \dt                    list tables
  \dm                    list materialized views
  \dv                    same as \dm (Sluice has no plain views)

Statements end with ';' and may span lines; backslash commands are read
at the start of a statement. SUBSCRIBE shows changes live until Ctrl-C.
Ctrl-C cancels the running statement (or clears the input at the
prompt); Ctrl-D quits.
`

// meta runs a backslash command; it returns true for \q.
func (r *repl) meta(line string) bool {
	m := parseMeta(line)
	switch m.Name {
	case "q", "quit":
		return true
	case "?", "help":
		io.WriteString(r.out, metaHelp)
	case "conninfo":
		fmt.Fprintln(r.out, r.be.ConnInfo())
	case "timing":
		switch {
		case len(m.Args) == 0:
			r.timing = !r.timing
		case strings.EqualFold(m.Args[0], "on"):
			r.timing = true
		case strings.EqualFold(m.Args[0], "off"):
			r.timing = false
		default:
			fmt.Fprintf(r.errw, "\\timing: unrecognized value %q: expected on or off\n", m.Args[0])
			return false
		}
		if r.timing {
			fmt.Fprintln(r.out, "Timing is on.")
		} else {
			fmt.Fprintln(r.out, "Timing is off.")
		}
	case "i", "include":
		if len(m.Args) != 1 {
			fmt.Fprintf(r.errw, "\\%s: missing required argument\n", m.Name)
			return false
		}
		return r.include(m.Args[0])
	case "d", "dt", "dm", "dv":
		if len(m.Args) > 0 {
			r.describe(m.Args[0])
		} else {
			r.list(m.Name)
		}
	default:
		fmt.Fprintf(r.errw, "invalid command \\%s\nTry \\? for help.\n", m.Name)
	}
	return false
}

// include executes a file's lines as if typed (meta commands included);
// errors name file:line and do not stop the file, as in psql.
func (r *repl) include(path string) bool {
	if r.depth >= 16 {
		fmt.Fprintf(r.errw, "\\i: %s: files nested too deeply\n", path)
		return false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(r.errw, "\\i: %v\n", err)
		return false
	}
	saveSrc, saveLine, saveBuf, saveBufLine := r.src, r.srcLine, r.buf, r.bufLine
	r.src, r.srcLine, r.buf, r.depth = path, 0, "", r.depth+1
	defer func() {
		r.src, r.srcLine, r.buf, r.bufLine, r.depth = saveSrc, saveLine, saveBuf, saveBufLine, r.depth-1
	}()
	text := strings.TrimSuffix(string(data), "\n")
	for _, line := range strings.Split(text, "\n") {
		r.srcLine++
		if quit, _ := r.feed(strings.TrimRight(line, "\r")); quit {
			return true
		}
	}
	if strings.TrimSpace(r.buf) != "" {
		// An unterminated last statement runs at the end of the file.
		r.execStatement(strings.TrimSpace(r.buf), r.bufLine)
	}
	return false
}

// names runs a SHOW statement and returns the first column.
func (r *repl) names(ctx context.Context, sql string) ([]string, error) {
	rs, err := r.be.Exec(ctx, sql)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rs.Rows))
	for _, row := range rs.Rows {
		if len(row) > 0 {
			out = append(out, row[0].S)
		}
	}
	return out, nil
}

// list prints tables and/or materialized views (\d, \dt, \dm, \dv),
// using SHOW TABLES and SHOW MATERIALIZED VIEWS so the same SQL works on
// the embedded engine and on a server.
func (r *repl) list(kind string) {
	ctx := context.Background()
	rs := &resultSet{Columns: []column{{Name: "Name"}, {Name: "Type"}}}
	what := "relations"
	if kind == "d" || kind == "dt" {
		tables, err := r.names(ctx, "SHOW TABLES")
		if err != nil {
			printError(r.errw, err, "")
			return
		}
		for _, n := range tables {
			rs.Rows = append(rs.Rows, []cell{{S: n}, {S: "table"}})
		}
		if kind == "dt" {
			what = "tables"
		}
	}
	if kind != "dt" {
		views, err := r.names(ctx, "SHOW MATERIALIZED VIEWS")
		if err != nil {
			printError(r.errw, err, "")
			return
		}
		for _, n := range views {
			rs.Rows = append(rs.Rows, []cell{{S: n}, {S: "materialized view"}})
		}
		if kind != "d" {
			what = "materialized views"
		}
	}
	if len(rs.Rows) == 0 {
		fmt.Fprintf(r.errw, "Did not find any %s.\n", what)
		return
	}
	printResult(r.out, rs, printOpts{Title: "List of relations"})
}

// describe prints a relation's columns (\d NAME) via DESCRIBE, with a
// psql-like title naming its kind.
func (r *repl) describe(name string) {
	ctx := context.Background()
	rs, err := r.be.Exec(ctx, "DESCRIBE "+quoteIdent(name))
	if err != nil {
		if e, ok := asUndefined(err); ok && e {
			fmt.Fprintf(r.errw, "Did not find any relation named %q.\n", name)
			return
		}
		printError(r.errw, err, "")
		return
	}
	title := fmt.Sprintf("Table %q", name)
	if views, err := r.names(ctx, "SHOW MATERIALIZED VIEWS"); err == nil {
		for _, v := range views {
			if strings.EqualFold(v, name) {
				title = fmt.Sprintf("Materialized view %q", name)
			}
		}
	}
	printResult(r.out, rs, printOpts{Title: title, NoFooter: true})
	if d, ok := r.be.(definer); ok {
		if def, ok := d.Definition(name); ok && strings.HasPrefix(title, "Materialized") {
			fmt.Fprintf(r.out, "View definition:\n %s\n\n", def)
		}
	}
}

// quoteIdent backquotes a name unless it is a plain identifier.
func quoteIdent(name string) string {
	plain := name != ""
	for i, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			plain = false
		}
	}
	if plain {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}
