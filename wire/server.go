// Package wire serves Sluice over the Postgres v3 wire protocol, so psql
// and every Postgres driver can talk to it: startup (TLS, trust or
// SCRAM-SHA-256), the simple and extended query protocols with text and
// binary formats, COPY FROM STDIN, SUBSCRIBE (also as COPY (SUBSCRIBE ...)
// TO STDOUT), cancellation and the configured limits.
//
// Each connection runs on its own goroutine, so a slow or half-open client
// never blocks the others; a panic in a session is recovered, logged and
// ends only that session.
//
// Transactions: BEGIN, COMMIT and ROLLBACK are accepted and reported in
// ReadyForQuery ('I', 'T', and 'E' after an error inside a block), but
// statements are not transactional: each takes effect when it runs, and
// COMMIT or ROLLBACK just end the block.
//
// COPY FROM STDIN appends rows in batches as they arrive; a bad row ends the
// COPY with its line in the error's CONTEXT, and the rows before it stay
// (Postgres would discard the whole COPY).
//
// Quoting: the dialect stays MySQL's (TiDB without ANSI_QUOTES), so "x" is
// a string in ordinary statements; catalog queries, which clients write
// with "Name" identifiers, are answered textually by wire/pgcatalog, and
// COPY and SUBSCRIBE accept "Name" identifiers.
package wire

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicedb/sluice/executor"
)

// Config configures a Server.
type Config struct {
	// Listen is the address ListenAndServe listens on (default
	// "127.0.0.1:5488").
	Listen string
	// TLSCert and TLSKey are PEM files; when both are set, SSLRequest is
	// answered with TLS, else with 'N'.
	TLSCert, TLSKey string
	// Password turns on SCRAM-SHA-256 authentication for every user. When
	// empty, connections are trusted, which is allowed only on a loopback
	// address.
	Password string
	// MaxConnections is the most sessions at once (default 100); beyond it
	// a client gets 53300 and is disconnected.
	MaxConnections int
	// MaxMessageSize is the largest protocol message accepted (default 64
	// MiB); a larger one gets 54000 and the connection is closed.
	MaxMessageSize int
	// StatementTimeout cancels a statement running longer (0: none) with
	// 57014. SUBSCRIBE is exempt: it runs until cancelled.
	StatementTimeout time.Duration
	// IdleSessionTimeout closes a session idle outside a transaction
	// block for longer (0: none) with FATAL 57P05.
	IdleSessionTimeout time.Duration
	// Logger receives connection-level events (nil: discard).
	Logger *slog.Logger
}

// DefaultListen is the address used when Config.Listen is empty.
const DefaultListen = "127.0.0.1:5488"

// startupTimeout bounds the time a client may take to start up and
// authenticate, so half-open connections do not hold a slot forever.
const startupTimeout = 30 * time.Second

// Server is a Postgres protocol server in front of an Engine.
type Server struct {
	eng  *executor.Engine
	cfg  Config
	log  *slog.Logger
	tls  tlsConfig
	auth *scramVerifier

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	sessions map[uint32]*session // by backend pid, for CancelRequest
	closed   bool
	nextPID  uint32
	active   atomic.Int64 // sessions past startup
	wg       sync.WaitGroup
	ready    chan struct{} // closed once listening
	readyOne sync.Once
}

// NewServer validates cfg and returns a server for eng.
func NewServer(eng *executor.Engine, cfg Config) (*Server, error) {
	if eng == nil {
		return nil, errors.New("wire: nil engine")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 100
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = 64 << 20
	}
	s := &Server{eng: eng, cfg: cfg, log: cfg.Logger, conns: map[net.Conn]struct{}{},
		sessions: map[uint32]*session{}, ready: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("wire: TLS needs both a certificate and a key file")
	}
	if cfg.TLSCert != "" {
		if err := s.tls.load(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, err
		}
	}
	if cfg.Password != "" {
		v, err := newSCRAMVerifier(cfg.Password)
		if err != nil {
			return nil, err
		}
		s.auth = v
	} else if err := checkLoopback(cfg.Listen); err != nil {
		return nil, err
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("wire: random pid base: %w", err)
	}
	s.nextPID = binary.BigEndian.Uint32(b[:])>>8 + 1000
	return s, nil
}

// checkLoopback refuses trust authentication on a non-loopback address.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("wire: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("wire: refusing to listen on %q without a password: trust authentication is allowed only on a loopback address (set a password to enable SCRAM-SHA-256)", addr)
	}
	return nil
}

// ListenAndServe listens on Config.Listen and serves until Close.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("wire: listen: %w", err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Close. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	if s.auth == nil {
		if err := checkLoopback(ln.Addr().String()); err != nil {
			ln.Close()
			return err
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	if s.ln != nil {
		s.mu.Unlock()
		return errors.New("wire: server already serving")
	}
	s.ln = ln
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	s.readyOne.Do(func() { close(s.ready) })
	s.log.Info("listening", "addr", ln.Addr().String())
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("wire: accept: %w", err)
		}
		delay = 0
		if !s.track(c) {
			c.Close()
			return nil
		}
		go s.serveConn(c)
	}
}

// track registers a connection and its goroutine; false once closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// replaceConn records that c (a TLS wrapper) now stands for old.
func (s *Server) replaceConn(old, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, old)
	if s.closed {
		c.Close()
		return
	}
	s.conns[c] = struct{}{}
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Addr is the listening address, once Serve has started (nil before).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops accepting, ends every session and waits for all of the
// server's goroutines. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	// Cancel running statements first so their sessions can tell the
	// client (FATAL 57P01) before the connections close.
	var busy []*session
	for _, ss := range s.sessions {
		if ss.kill() {
			busy = append(busy, ss)
		}
	}
	s.mu.Unlock()
	grace := time.NewTimer(time.Second)
	defer grace.Stop()
	for _, ss := range busy {
		select {
		case <-ss.done:
		case <-grace.C:
		}
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("wire: close listener: %w", err)
	}
	return nil
}

// register gives a session a pid and makes it cancellable; false once the
// server is closed.
func (s *Server) register(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	for {
		s.nextPID++
		if s.nextPID == 0 || s.nextPID > 1<<30 {
			s.nextPID = 1000
		}
		if _, used := s.sessions[s.nextPID]; !used {
			break
		}
	}
	ss.pid = s.nextPID
	s.sessions[ss.pid] = ss
	return true
}

func (s *Server) unregister(ss *session) {
	s.mu.Lock()
	if s.sessions[ss.pid] == ss {
		delete(s.sessions, ss.pid)
	}
	s.mu.Unlock()
}

// cancelRequest cancels the running statement of the session with pid if
// the secret matches.
func (s *Server) cancelRequest(pid uint32, secret []byte) {
	s.mu.Lock()
	ss := s.sessions[pid]
	s.mu.Unlock()
	if ss == nil || !ss.secretMatches(secret) {
		s.log.Debug("cancel request for unknown session", "pid", pid)
		return
	}
	ss.cancelStatement(errUserCancel)
}
