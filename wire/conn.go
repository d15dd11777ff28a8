package wire

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// tlsConfig is the server's TLS setup.
type tlsConfig struct {
	cfg *tls.Config
}

func (t *tlsConfig) load(certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("wire: load TLS key pair: %w", err)
	}
	t.cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return nil
}

// serveConn runs one connection from startup to close. It owns the
// connection and recovers any panic of the session.
func (s *Server) serveConn(raw net.Conn) {
	defer s.wg.Done()
	conn := raw
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("session panic", "panic", r, "stack", string(debug.Stack()))
		}
		conn.Close()
		s.untrack(conn)
	}()
	if tc, ok := raw.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	raw.SetDeadline(time.Now().Add(startupTimeout))
	be := pgproto3.NewBackend(conn, conn)
	isTLS := false
	var startup *pgproto3.StartupMessage
	for startup == nil {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			s.log.Debug("bad startup", "remote", raw.RemoteAddr().String(), "err", err)
			if !isEOF(err) {
				writeMsgs(conn, fatal("08P01", "invalid startup packet: "+err.Error()))
			}
			return
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if s.tls.cfg == nil || isTLS {
				if _, err := conn.Write([]byte{'N'}); err != nil {
					return
				}
				continue
			}
			if _, err := conn.Write([]byte{'S'}); err != nil {
				return
			}
			tc := tls.Server(conn, s.tls.cfg)
			if err := tc.Handshake(); err != nil {
				s.log.Debug("TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
				return
			}
			s.replaceConn(conn, tc)
			conn, isTLS = tc, true
			be = pgproto3.NewBackend(conn, conn)
		case *pgproto3.GSSEncRequest:
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return
			}
		case *pgproto3.CancelRequest:
			s.cancelRequest(m.ProcessID, m.SecretKey)
			return
		case *pgproto3.StartupMessage:
			startup = m
		}
	}
	if n := s.active.Add(1); n > int64(s.cfg.MaxConnections) {
		s.active.Add(-1)
		writeMsgs(conn, fatal("53300", "sorry, too many clients already"))
		return
	}
	defer s.active.Add(-1)

	ss := newSession(s, conn, be)
	if !s.register(ss) {
		writeMsgs(conn, fatal("57P01", "terminating connection due to administrator command"))
		return
	}
	defer s.unregister(ss)
	defer ss.end()
	if err := ss.startup(startup); err != nil {
		s.log.Debug("startup failed", "remote", raw.RemoteAddr().String(), "err", err)
		return
	}
	conn.SetDeadline(time.Time{})
	ss.run()
}

func isEOF(err error) bool {
	return errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "EOF")
}

// fatal builds a FATAL ErrorResponse.
func fatal(code, msg string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg}
}

// writeMsgs encodes and writes messages directly (outside a session).
func writeMsgs(c net.Conn, msgs ...pgproto3.BackendMessage) error {
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			return err
		}
	}
	_, err := c.Write(buf)
	return err
}

// startup authenticates the client and sends the startup parameters.
func (ss *session) startup(m *pgproto3.StartupMessage) error {
	if m.ProtocolVersion != pgproto3.ProtocolVersion30 {
		// We speak 3.0 only; tell a 3.2 client so.
		ss.send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0})
	}
	ss.user = m.Parameters["user"]
	if ss.user == "" {
		ss.send(fatal("28000", "no PostgreSQL user name specified in startup packet"))
		ss.flush()
		return errors.New("no user name")
	}
	ss.database = m.Parameters["database"]
	if ss.database == "" {
		ss.database = ss.user
	}
	if err := ss.authenticate(); err != nil {
		return err
	}
	for k, v := range m.Parameters {
		switch k {
		case "user", "database", "options", "replication":
			continue
		case "client_encoding":
			v = "UTF8" // we always speak UTF-8
		}
		_ = ss.settings.Set(k, v) // unknown startup settings are ignored
	}
	ss.settings.Set("session_authorization", ss.user)
	for _, kv := range ss.settings.reportedValues() {
		ss.send(&pgproto3.ParameterStatus{Name: kv[0], Value: kv[1]})
	}
	var secret [4]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return fmt.Errorf("wire: cancel key: %w", err)
	}
	ss.mu.Lock()
	ss.secret = secret[:]
	ss.mu.Unlock()
	ss.send(&pgproto3.BackendKeyData{ProcessID: ss.pid, SecretKey: secret[:]})
	ss.send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return ss.flush()
}

// authenticate runs trust or SCRAM-SHA-256 authentication.
func (ss *session) authenticate() error {
	v := ss.srv.auth
	if v == nil {
		ss.send(&pgproto3.AuthenticationOk{})
		return nil
	}
	authFailed := func(err error) error {
		ss.send(fatal("28P01", fmt.Sprintf("password authentication failed for user %q", ss.user)))
		ss.flush()
		return err
	}
	ss.send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := ss.flush(); err != nil {
		return err
	}
	ss.be.SetAuthType(pgproto3.AuthTypeSASL)
	msg, err := ss.be.Receive()
	if err != nil {
		return err
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || init.AuthMechanism != "SCRAM-SHA-256" {
		ss.send(fatal("28000", "expected a SCRAM-SHA-256 SASL initial response"))
		ss.flush()
		return errors.New("bad SASL initial response")
	}
	x := &scramExchange{v: v}
	serverFirst, err := x.first(init.Data)
	if err != nil {
		return authFailed(err)
	}
	ss.send(&pgproto3.AuthenticationSASLContinue{Data: serverFirst})
	if err := ss.flush(); err != nil {
		return err
	}
	ss.be.SetAuthType(pgproto3.AuthTypeSASLContinue)
	msg, err = ss.be.Receive()
	if err != nil {
		return err
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return authFailed(errors.New("expected a SASL response"))
	}
	serverFinal, err := x.final(resp.Data)
	if err != nil {
		return authFailed(err)
	}
	ss.send(&pgproto3.AuthenticationSASLFinal{Data: serverFinal})
	ss.send(&pgproto3.AuthenticationOk{})
	return nil
}

// secretMatches compares a cancel key in constant time.
func (ss *session) secretMatches(secret []byte) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.secret) > 0 && subtle.ConstantTimeCompare(secret, ss.secret) == 1
}
