package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// Causes of a statement's cancellation.
var (
	errUserCancel       = errors.New("canceling statement due to user request")
	errStatementTimeout = errors.New("canceling statement due to statement timeout")
	errShutdown         = errors.New("terminating connection due to administrator command")
)

// flushThreshold is the output size at which a long result is written out
// before it is complete.
const flushThreshold = 64 << 10

// recvResult is a message received by a background read.
type recvResult struct {
	msg pgproto3.FrontendMessage
	err error
}

// session is one client connection after startup. Everything but the
// fields under mu is used by the session's goroutine only.
type session struct {
	srv      *Server
	conn     net.Conn
	be       *pgproto3.Backend
	out      []byte
	pid      uint32
	user     string
	database string
	settings *settings
	tx       byte // 'I', 'T' or 'E'
	stmts    map[string]*stmt
	portals  map[string]*portal
	// skipToSync is set after an error in an extended-protocol batch.
	skipToSync bool
	// pending is a background Receive in flight (started while streaming a
	// subscription, to notice a disconnect); stash is its result once taken.
	pending chan recvResult
	stash   []recvResult

	ctx  context.Context // ends with the session or the server
	stop context.CancelFunc

	done     chan struct{} // closed when the session ends
	doneOnce sync.Once

	mu       sync.Mutex
	secret   []byte
	cancelFn context.CancelCauseFunc // the running statement's
}

func newSession(srv *Server, conn net.Conn, be *pgproto3.Backend) *session {
	be.SetMaxBodyLen(srv.cfg.MaxMessageSize)
	ctx, stop := context.WithCancel(context.Background())
	return &session{srv: srv, conn: conn, be: be, settings: newSettings(), tx: 'I',
		stmts: map[string]*stmt{}, portals: map[string]*portal{}, ctx: ctx, stop: stop,
		out: make([]byte, 0, 4096), done: make(chan struct{})}
}

// kill ends the session's running statement and context (server Close);
// it reports whether a statement was running.
func (ss *session) kill() bool {
	ss.mu.Lock()
	fn := ss.cancelFn
	ss.mu.Unlock()
	if fn != nil {
		fn(errShutdown)
	}
	ss.stop()
	return fn != nil
}

// end releases the session's resources.
func (ss *session) end() {
	ss.stop()
	ss.doneOnce.Do(func() { close(ss.done) })
}

// cancelStatement cancels the running statement, if any, with cause.
func (ss *session) cancelStatement(cause error) {
	ss.mu.Lock()
	fn := ss.cancelFn
	ss.mu.Unlock()
	if fn != nil {
		fn(cause)
	}
}

// beginStatement returns the context of a statement, cancellable by
// CancelRequest and bounded by the statement timeout unless exempt.
func (ss *session) beginStatement(exempt bool) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ss.ctx)
	var stopTimeout context.CancelFunc
	if !exempt {
		if to := ss.settings.statementTimeout(ss.srv.cfg.StatementTimeout); to > 0 {
			ctx, stopTimeout = context.WithDeadlineCause(ctx, time.Now().Add(to), errStatementTimeout)
		}
	}
	ss.mu.Lock()
	ss.cancelFn = cancel
	ss.mu.Unlock()
	return ctx, func() {
		if stopTimeout != nil {
			stopTimeout()
		}
		ss.mu.Lock()
		ss.cancelFn = nil
		ss.mu.Unlock()
		cancel(nil)
	}
}

// checkDeadline fails a statement whose timeout has passed, even before
// the context's timer fires.
func checkDeadline(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return sqlerr.Execf(sqlerr.QueryCanceled, "%s", errStatementTimeout.Error())
	}
	return nil
}

// send encodes a message into the output buffer.
func (ss *session) send(m pgproto3.BackendMessage) {
	out, err := m.Encode(ss.out)
	if err != nil {
		ss.srv.log.Error("encode message", "type", fmt.Sprintf("%T", m), "err", err)
		return
	}
	ss.out = out
}

// flush writes the output buffer to the client.
func (ss *session) flush() error {
	if len(ss.out) == 0 {
		return nil
	}
	_, err := ss.conn.Write(ss.out)
	if cap(ss.out) > 1<<20 {
		ss.out = make([]byte, 0, 4096)
	} else {
		ss.out = ss.out[:0]
	}
	if err != nil {
		return fmt.Errorf("wire: write: %w", err)
	}
	return nil
}

// maybeFlush writes the buffer out when it has grown large.
func (ss *session) maybeFlush() error {
	if len(ss.out) >= flushThreshold {
		return ss.flush()
	}
	return nil
}

// receive returns the next client message: one read while streaming
// first, then a read still in flight, then the connection.
func (ss *session) receive() (pgproto3.FrontendMessage, error) {
	if len(ss.stash) > 0 {
		r := ss.stash[0]
		ss.stash = ss.stash[1:]
		return r.msg, r.err
	}
	if ch := ss.pending; ch != nil {
		r := <-ch
		ss.pending = nil
		return r.msg, r.err
	}
	return ss.be.Receive()
}

// run serves messages until the client leaves or the connection fails.
func (ss *session) run() {
	idle := ss.srv.cfg.IdleSessionTimeout
	deadline := false
	for {
		if idle > 0 && ss.tx == 'I' {
			ss.conn.SetReadDeadline(time.Now().Add(idle))
			deadline = true
		}
		msg, err := ss.receive()
		if deadline {
			ss.conn.SetReadDeadline(time.Time{})
			deadline = false
		}
		if err != nil {
			ss.receiveFailed(err)
			return
		}
		if !ss.handle(msg) {
			return
		}
	}
}

// receiveFailed reports a read error to the client when it can still hear.
func (ss *session) receiveFailed(err error) {
	var ne net.Error
	var big *pgproto3.ExceededMaxBodyLenErr
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		ss.send(fatal("57P05", "terminating connection due to idle-session timeout"))
	case errors.As(err, &big):
		ss.send(fatal(sqlerr.ProgramLimitExceeded, fmt.Sprintf("message of %d bytes exceeds the maximum message size of %d bytes", big.ActualBodyLen, big.MaxExpectedBodyLen)))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return
	default:
		ss.srv.log.Debug("protocol error", "pid", ss.pid, "err", err)
		ss.send(fatal("08P01", "protocol violation: "+err.Error()))
	}
	ss.flush()
}

// handle serves one message; false ends the session.
func (ss *session) handle(msg pgproto3.FrontendMessage) bool {
	if ss.skipToSync {
		switch msg.(type) {
		case *pgproto3.Sync, *pgproto3.Terminate:
		default:
			return true
		}
	}
	var err error
	switch m := msg.(type) {
	case *pgproto3.Query:
		ss.simpleQuery(m.String)
		if ss.ctx.Err() == nil {
			ss.send(&pgproto3.ReadyForQuery{TxStatus: ss.tx})
		}
		err = ss.flush()
	case *pgproto3.Parse:
		ss.extended(ss.parse(m))
	case *pgproto3.Bind:
		ss.extended(ss.bind(m))
	case *pgproto3.Describe:
		ss.extended(ss.describe(m))
	case *pgproto3.Execute:
		ss.extended(ss.execute(m))
	case *pgproto3.Close:
		ss.extended(ss.closeMsg(m))
	case *pgproto3.Sync:
		ss.skipToSync = false
		if ss.tx == 'I' {
			clear(ss.portals)
		}
		ss.send(&pgproto3.ReadyForQuery{TxStatus: ss.tx})
		err = ss.flush()
	case *pgproto3.Flush:
		err = ss.flush()
	case *pgproto3.Terminate:
		return false
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// Left over from a COPY that failed: dropped, as Postgres does.
	case *pgproto3.FunctionCall:
		ss.extended(sqlerr.Execf(sqlerr.FeatureNotSupported, "the function call protocol is not supported"))
	default:
		ss.send(fatal("08P01", fmt.Sprintf("unexpected message %T", msg)))
		ss.flush()
		return false
	}
	if err != nil {
		return false
	}
	if ss.ctx.Err() != nil {
		return false
	}
	return ss.maybeFlush() == nil
}

// extended reports an extended-protocol error: ErrorResponse, then skip
// to Sync.
func (ss *session) extended(err error) {
	if err == nil {
		return
	}
	ss.sendError(err, nil)
	ss.skipToSync = true
}

// sendError sends an ErrorResponse for err (with ctx, the statement's
// context, to name the cause of a cancellation) and moves an open
// transaction block to the failed state.
func (ss *session) sendError(err error, ctx context.Context) {
	ss.send(errorResponse(err, ctx))
	if ss.tx == 'T' {
		ss.tx = 'E'
	}
}

// errorResponse builds the ErrorResponse for err.
func errorResponse(err error, ctx context.Context) *pgproto3.ErrorResponse {
	r := &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR"}
	e, ok := sqlerr.As(err)
	cancelled := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || (ok && e.Code == sqlerr.QueryCanceled)
	if cancelled && ctx != nil && ctx.Err() != nil {
		cause := context.Cause(ctx)
		r.Code = sqlerr.QueryCanceled
		r.Message = cause.Error()
		if cause == errShutdown {
			r.Code, r.Severity, r.SeverityUnlocalized = "57P01", "FATAL", "FATAL"
		} else if cause != errStatementTimeout && cause != errUserCancel {
			r.Message = errUserCancel.Error()
		}
		return r
	}
	var ce *copyError
	if errors.As(err, &ce) {
		r.Where = ce.where
	}
	switch {
	case ok:
		r.Code, r.Message, r.Detail, r.Hint = e.Code, e.Msg, e.Detail, e.Hint
		r.Position = int32(e.Position)
		if e.Phase == sqlerr.Internal {
			r.Code = sqlerr.InternalError
		}
		if r.Code == "" {
			r.Code = sqlerr.InternalError
		}
	case cancelled:
		r.Code, r.Message = sqlerr.QueryCanceled, errUserCancel.Error()
	default:
		r.Code, r.Message = sqlerr.InternalError, err.Error()
	}
	return r
}

// sendNotices sends a result's notices.
func (ss *session) sendNotices(res *executor.Result) {
	for _, n := range res.Notices {
		ss.send(&pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "00000", Message: n})
	}
}

// reportSettings sends ParameterStatus for reported settings that changed.
func (ss *session) reportSettings() {
	for _, kv := range ss.settings.reportedValues() {
		ss.send(&pgproto3.ParameterStatus{Name: kv[0], Value: kv[1]})
	}
}

// rowDescription sends the RowDescription for cols with result formats.
func (ss *session) rowDescription(cols []executor.ResultColumn, formats []int16) {
	fields := make([]pgproto3.FieldDescription, len(cols))
	for i, c := range cols {
		ti := pgType(c.Type)
		fields[i] = pgproto3.FieldDescription{Name: []byte(c.Name), DataTypeOID: ti.oid,
			DataTypeSize: ti.size, TypeModifier: ti.typmod, Format: formatOf(formats, i)}
	}
	ss.send(&pgproto3.RowDescription{Fields: fields})
}

// formatOf is the format code of column (or parameter) i.
func formatOf(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return 0
	case 1:
		return formats[0]
	}
	if i < len(formats) {
		return formats[i]
	}
	return 0
}

// dataRow appends a DataRow for row straight into the output buffer.
func (ss *session) dataRow(row []types.Datum, cols []executor.ResultColumn, formats []int16) {
	b := ss.out
	start := len(b)
	b = append(b, 'D', 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(row)))
	for i, d := range row {
		if d.Null {
			b = binary.BigEndian.AppendUint32(b, 0xFFFFFFFF)
			continue
		}
		lenAt := len(b)
		b = append(b, 0, 0, 0, 0)
		t := d.Kind
		ct := types.T{Kind: t, Scale: d.Scale}
		if i < len(cols) && cols[i].Type.Kind == t {
			ct = cols[i].Type
		}
		b = appendValue(b, d, ct, formatOf(formats, i) == 1)
		binary.BigEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
	}
	binary.BigEndian.PutUint32(b[start+1:], uint32(len(b)-start-1))
	ss.out = b
}

// queryHook, when set (by tests), sees every simple query first.
var queryHook atomic.Pointer[func(sql string)]

// simpleQuery runs a Query message: each statement in turn, stopping at
// the first error.
func (ss *session) simpleQuery(sql string) {
	if h := queryHook.Load(); h != nil {
		(*h)(sql)
	}
	pieces := parser.Split(sql)
	ran := false
	for _, p := range pieces {
		if p.Empty {
			continue
		}
		ran = true
		if !ss.simpleStatement(sql, p) {
			break
		}
		if ss.maybeFlush() != nil {
			return
		}
	}
	if !ran {
		ss.send(&pgproto3.EmptyQueryResponse{})
	}
}

// simpleStatement runs one statement of a Query message; false on error.
func (ss *session) simpleStatement(sql string, p parser.Piece) bool {
	offset := utf8.RuneCountInString(sql[:p.Offset])
	st := &stmt{sql: p.Text, offset: offset, kind: kindSimple}
	if err := ss.run1(st, nil, nil, 0, true, nil); err != nil {
		return false
	}
	return true
}

// txAborted is the error for statements in a failed transaction block.
func txAborted() error {
	return sqlerr.Execf("25P02", "current transaction is aborted, commands ignored until end of transaction block")
}

// transaction runs BEGIN/COMMIT/ROLLBACK. Statements are not
// transactional: the block only changes the status ReadyForQuery reports.
func (ss *session) transaction(kind parser.TxKind) {
	var tag string
	warn := ""
	switch kind {
	case parser.TxBegin:
		tag = "BEGIN"
		if ss.tx != 'I' {
			warn = "there is already a transaction in progress"
		} else {
			ss.tx = 'T'
		}
	case parser.TxCommit:
		tag = "COMMIT"
		switch ss.tx {
		case 'I':
			warn = "there is no transaction in progress"
		case 'E':
			tag = "ROLLBACK"
		}
		ss.tx = 'I'
	case parser.TxRollback:
		tag = "ROLLBACK"
		if ss.tx == 'I' {
			warn = "there is no transaction in progress"
		}
		ss.tx = 'I'
	}
	if warn != "" {
		ss.send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "25001", Message: warn})
	}
	ss.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
}

// shiftPosition moves an error's position by offset characters (the
// statement's place in the whole query string).
func shiftPosition(err error, offset int) error {
	if offset == 0 {
		return err
	}
	if e, ok := sqlerr.As(err); ok && e.Position > 0 {
		c := *e
		c.Position += offset
		return &c
	}
	return err
}

// statementKind says how a statement is run.
type statementKind uint8

const (
	kindSimple statementKind = iota // not yet classified (simple protocol)
	kindEmpty
	kindCatalog
	kindTx
	kindSubscribe
	kindCopyFrom
	kindCopySubscribe
	kindEngine
)

// stmt is a statement ready to run: a prepared statement of the extended
// protocol, or one statement of a simple query.
type stmt struct {
	sql    string
	offset int // character offset of sql in the client's query string
	kind   statementKind
	parsed parser.Statement
	prep   *executor.Prepared
	// params are the parameter types: declared by the client or inferred
	// (Unknown where neither); paramOIDs are what ParameterDescription
	// reports.
	params    []types.T
	declared  []types.T
	paramOIDs []uint32
	// cols describes the rows the statement returns (nil: none).
	cols []executor.ResultColumn
}

// run1 executes a stmt: the shared body of a simple-query statement and an
// extended-protocol Execute. describe sends a RowDescription first (simple
// protocol); maxRows > 0 limits the rows sent (extended protocol, with pt
// keeping the rest). It returns the error it reported, if any.
func (ss *session) run1(st *stmt, params []types.Datum, formats []int16, maxRows int, describe bool, pt *portal) error {
	if ss.tx == 'E' {
		if st.kind != kindTx && !isTxEnd(st.sql) {
			err := txAborted()
			ss.sendError(err, nil)
			return err
		}
	}
	exempt := isSubscribe(st.sql)
	ctx, done := ss.beginStatement(exempt)
	defer done()
	if err := ss.exec(ctx, st, params, formats, maxRows, describe, pt); err != nil {
		ss.sendError(shiftPosition(err, st.offset), ctx)
		return err
	}
	return nil
}

// isTxEnd reports whether sql starts with COMMIT, END, ROLLBACK or ABORT.
func isTxEnd(sql string) bool {
	w := strings.ToUpper(firstWord(sql))
	return w == "COMMIT" || w == "END" || w == "ROLLBACK" || w == "ABORT"
}

// isSubscribe reports whether sql is a SUBSCRIBE or COPY (SUBSCRIBE ...),
// which run until cancelled and are exempt from the statement timeout.
func isSubscribe(sql string) bool {
	w := strings.ToUpper(firstWord(sql))
	if w == "SUBSCRIBE" {
		return true
	}
	if w == "COPY" {
		rest := strings.TrimLeft(sql[4:], " \t\r\n(")
		return strings.EqualFold(firstWord(rest), "SUBSCRIBE")
	}
	return false
}

func firstWord(s string) string {
	s = strings.TrimLeft(s, " \t\r\n(")
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || s[i] == '_') {
		i++
	}
	return s[:i]
}
