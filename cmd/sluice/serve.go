package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/wire"
)

// serveCommand is `sluice serve`: it opens an engine, runs the --init SQL
// files, then serves the Postgres protocol until SIGINT or SIGTERM, when
// it closes the server (ending every session) and the engine.
func serveCommand(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:5488", "address to listen on")
	initPath := fs.String("init", "", "SQL file, or directory of *.sql files, to run before serving")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "TLS key file (with --tls-cert)")
	passwordEnv := fs.String("password-env", "", "environment variable holding the password (SCRAM-SHA-256)")
	maxConns := fs.Int("max-connections", 100, "maximum concurrent connections")
	maxMsg := fs.Int("max-message-size", 64<<20, "maximum protocol message size in bytes")
	stmtTimeout := fs.Duration("statement-timeout", 0, "cancel statements running longer (0 = none)")
	idleTimeout := fs.Duration("idle-session-timeout", 0, "close sessions idle longer (0 = none)")
	barrier := fs.Duration("barrier-interval", time.Second, "time between epochs")
	dataDir := fs.String("data-dir", defaultDataDir(), "directory for the catalog and acknowledged changes ('' = in memory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("serve: --tls-cert and --tls-key go together")
	}
	cfg := wire.Config{
		Listen:             *listen,
		TLSCert:            *tlsCert,
		TLSKey:             *tlsKey,
		MaxConnections:     *maxConns,
		MaxMessageSize:     *maxMsg,
		StatementTimeout:   *stmtTimeout,
		IdleSessionTimeout: *idleTimeout,
		Logger:             slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if *passwordEnv != "" {
		pw := os.Getenv(*passwordEnv)
		if pw == "" {
			return fmt.Errorf("serve: --password-env %s: the variable is empty or unset", *passwordEnv)
		}
		cfg.Password = pw
	}

	eng, err := executor.Open(executor.Options{BarrierInterval: *barrier, DataDir: *dataDir})
	if err != nil {
		return fmt.Errorf("serve: open engine: %w", err)
	}
	defer eng.Close()
	if *initPath != "" {
		files, err := sqlFiles([]string{*initPath})
		if err != nil {
			return fmt.Errorf("serve: --init: %w", err)
		}
		if err := runFiles(context.Background(), eng, files, nil); err != nil {
			return fmt.Errorf("serve: --init: %w", err)
		}
		fmt.Fprintf(stderr, "sluice: ran %d init file(s) from %s\n", len(files), *initPath)
	}

	srv, ln, err := listenWire(eng, cfg, stderr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := serveUntilSignal(srv, ln, stderr, nil); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// listenWire builds the Postgres-protocol server for eng and listens on
// cfg.Listen, printing "sluice: listening on ADDR" to stderr.
func listenWire(eng *executor.Engine, cfg wire.Config, stderr io.Writer) (*wire.Server, net.Listener, error) {
	srv, err := wire.NewServer(eng, cfg)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	fmt.Fprintf(stderr, "sluice: listening on %s\n", ln.Addr())
	return srv, ln, nil
}

// serveUntilSignal serves srv on ln until SIGINT or SIGTERM, then closes
// the server, ending every session; it prints "sluice: ready to accept
// connections" once serving. While serving, live (when not nil) runs on
// its own goroutine: its channel is closed at shutdown, and
// serveUntilSignal waits for it to return before closing the server.
func serveUntilSignal(srv *wire.Server, ln net.Listener, stderr io.Writer, live func(stop <-chan struct{})) error {
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintln(stderr, "sluice: ready to accept connections")

	stopLive := func() {}
	if live != nil {
		stop, done := make(chan struct{}), make(chan struct{})
		go func() { defer close(done); live(stop) }()
		stopLive = func() { close(stop); <-done }
	}
	select {
	case sig := <-sigc:
		stopLive()
		fmt.Fprintf(stderr, "sluice: %s received, shutting down\n", sig)
		if err := srv.Close(); err != nil {
			return fmt.Errorf("close: %w", err)
		}
		if err := <-errc; err != nil {
			return err
		}
		fmt.Fprintln(stderr, "sluice: stopped")
		return nil
	case err := <-errc:
		stopLive()
		srv.Close()
		return err
	}
}

// defaultDataDir is $XDG_DATA_HOME/sluice or ~/.local/share/sluice.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "sluice")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "share", "sluice")
}
