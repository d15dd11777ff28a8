package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicedb/sluice/executor"
)

// testServer is a server on 127.0.0.1:0 with its engine.
type testServer struct {
	srv  *Server
	eng  *executor.Engine
	addr string
	host string
	port int
}

// startServer starts an engine and a server; both close at test end.
func startServer(tb testing.TB, cfg Config) *testServer {
	tb.Helper()
	eng, err := executor.Open(executor.Options{BarrierInterval: -1})
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Listen = "127.0.0.1:0"
	srv, err := NewServer(eng, cfg)
	if err != nil {
		eng.Close()
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	<-srv.ready
	tb.Cleanup(func() {
		if err := srv.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
		eng.Close()
	})
	a := srv.Addr().(*net.TCPAddr)
	return &testServer{srv: srv, eng: eng, addr: a.String(), host: a.IP.String(), port: a.Port}
}

// url is a connection URL for the server.
func (ts *testServer) url(extra string) string {
	u := fmt.Sprintf("postgres://tester@%s/sluice?sslmode=disable", ts.addr)
	if extra != "" {
		u += "&" + extra
	}
	return u
}

// connect opens a pgx connection closed at test end.
func (ts *testServer) connect(tb testing.TB, extra string) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, ts.url(extra))
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// exec runs SQL statements through pgx (simple protocol for several).
func mustExec(tb testing.TB, c *pgx.Conn, sql string) {
	tb.Helper()
	if _, err := c.Exec(context.Background(), sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// pgErr returns err's *pgconn.PgError or fails.
func pgErr(tb testing.TB, err error) *pgconn.PgError {
	tb.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		tb.Fatalf("want a server error, got %v", err)
	}
	return pe
}

// rawConn is a protocol-level client for tests that need exact messages.
type rawConn struct {
	tb testing.TB
	c  net.Conn
	fe *pgproto3.Frontend
}

// dialRaw connects and starts up as user tester.
func (ts *testServer) dialRaw(tb testing.TB) *rawConn {
	tb.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	rc := &rawConn{tb: tb, c: c, fe: pgproto3.NewFrontend(c, c)}
	rc.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "tester", "database": "sluice"}})
	rc.flush()
	rc.until('Z')
	return rc
}

func (rc *rawConn) send(msgs ...pgproto3.FrontendMessage) {
	for _, m := range msgs {
		rc.fe.Send(m)
	}
	rc.flush()
}

func (rc *rawConn) flush() {
	if err := rc.fe.Flush(); err != nil {
		rc.tb.Fatal(err)
	}
}

// recv receives one message.
func (rc *rawConn) recv() pgproto3.BackendMessage {
	rc.tb.Helper()
	m, err := rc.fe.Receive()
	if err != nil {
		rc.tb.Fatalf("receive: %v", err)
	}
	return m
}

// until receives messages up to and including ReadyForQuery (want 'Z') and
// returns their type letters and the messages.
func (rc *rawConn) until(want byte) (string, []pgproto3.BackendMessage) {
	rc.tb.Helper()
	var kinds []byte
	var msgs []pgproto3.BackendMessage
	for {
		m := rc.recv()
		k := msgType(m)
		kinds = append(kinds, k)
		msgs = append(msgs, copyMsg(m))
		if k == want {
			return string(kinds), msgs
		}
	}
}

// copyMsg copies the fields tests read from a reused message.
func copyMsg(m pgproto3.BackendMessage) pgproto3.BackendMessage {
	switch x := m.(type) {
	case *pgproto3.DataRow:
		vals := make([][]byte, len(x.Values))
		for i, v := range x.Values {
			if v != nil {
				vals[i] = append([]byte{}, v...)
			}
		}
		return &pgproto3.DataRow{Values: vals}
	case *pgproto3.ErrorResponse:
		c := *x
		return &c
	case *pgproto3.ReadyForQuery:
		c := *x
		return &c
	case *pgproto3.CommandComplete:
		return &pgproto3.CommandComplete{CommandTag: append([]byte{}, x.CommandTag...)}
	}
	return m
}

func msgType(m pgproto3.BackendMessage) byte {
	switch m.(type) {
	case *pgproto3.ParseComplete:
		return '1'
	case *pgproto3.BindComplete:
		return '2'
	case *pgproto3.CloseComplete:
		return '3'
	case *pgproto3.CommandComplete:
		return 'C'
	case *pgproto3.DataRow:
		return 'D'
	case *pgproto3.ErrorResponse:
		return 'E'
	case *pgproto3.EmptyQueryResponse:
		return 'I'
	case *pgproto3.NoData:
		return 'n'
	case *pgproto3.NoticeResponse:
		return 'N'
	case *pgproto3.PortalSuspended:
		return 's'
	case *pgproto3.ParameterDescription:
		return 't'
	case *pgproto3.RowDescription:
		return 'T'
	case *pgproto3.ReadyForQuery:
		return 'Z'
	case *pgproto3.ParameterStatus:
		return 'S'
	case *pgproto3.BackendKeyData:
		return 'K'
	case *pgproto3.AuthenticationOk:
		return 'R'
	case *pgproto3.CopyInResponse:
		return 'G'
	case *pgproto3.CopyOutResponse:
		return 'H'
	case *pgproto3.CopyData:
		return 'd'
	}
	return '?'
}
