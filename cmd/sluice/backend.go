package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// backend runs statements for the REPL; the REPL code is the same whether
// the engine is embedded or reached over the Postgres protocol.
type backend interface {
	// Exec runs one statement (no trailing ';'). Cancelling ctx cancels
	// the statement; the error is then a 57014 *sqlerr.Error. Errors the
	// server or engine reports are *sqlerr.Error (use sqlerr.As).
	Exec(ctx context.Context, sql string) (*resultSet, error)
	// ConnInfo describes the connection for \conninfo.
	ConnInfo() string
	// Close releases the engine or the connection.
	Close() error
}

// embedded runs statements in an in-process engine.
type embedded struct {
	eng *executor.Engine
}

// newEmbedded opens an in-memory engine.
func newEmbedded() (*embedded, error) {
	eng, err := executor.Open(executor.Options{})
	if err != nil {
		return nil, fmt.Errorf("open embedded engine: %w", err)
	}
	return &embedded{eng: eng}, nil
}

// Exec implements backend.
func (b *embedded) Exec(ctx context.Context, sql string) (*resultSet, error) {
	res, err := b.eng.Execute(ctx, sql)
	if err != nil {
		if ctx.Err() != nil {
			if _, ok := sqlerr.As(err); !ok {
				err = canceledError()
			}
		}
		return nil, err
	}
	if len(res) == 0 {
		return &resultSet{}, nil
	}
	// One statement gives one result; if several came back, keep the last
	// (as psql shows the last result of a multi-statement string).
	return fromEngineResult(res[len(res)-1]), nil
}

// definer is implemented by backends that know a view's defining SQL.
type definer interface {
	Definition(name string) (string, bool)
}

// Definition implements definer.
func (b *embedded) Definition(name string) (string, bool) {
	rel, err := b.eng.Table(name)
	if err != nil || rel.Definition == "" {
		return "", false
	}
	return rel.Definition, true
}

// ConnInfo implements backend.
func (b *embedded) ConnInfo() string {
	return "You are using an embedded, in-memory Sluice engine (no server)."
}

// Close implements backend.
func (b *embedded) Close() error { return b.eng.Close() }

// fromEngineResult converts an engine result to the printer's form.
func fromEngineResult(r *executor.Result) *resultSet {
	rs := &resultSet{Tag: r.Tag, Notices: r.Notices}
	if !r.HasRows() {
		return rs
	}
	rs.Columns = make([]column, len(r.Columns))
	for i, c := range r.Columns {
		rs.Columns[i] = column{Name: c.Name, Numeric: isNumericKind(c.Type.Kind)}
	}
	rs.Rows = make([][]cell, len(r.Rows))
	flat := make([]cell, len(r.Rows)*len(r.Columns))
	for i, row := range r.Rows {
		cells := flat[i*len(r.Columns) : (i+1)*len(r.Columns) : (i+1)*len(r.Columns)]
		for j, d := range row {
			if j >= len(cells) {
				break
			}
			if d.Null {
				cells[j] = cell{Null: true}
			} else {
				cells[j] = cell{S: d.String()}
			}
		}
		rs.Rows[i] = cells
	}
	return rs
}

func isNumericKind(k types.Kind) bool {
	switch k {
	case types.Int, types.BigInt, types.Double, types.Decimal:
		return true
	}
	return false
}

// asUndefined reports whether err is an undefined-table error (42P01).
func asUndefined(err error) (bool, bool) {
	e, ok := sqlerr.As(err)
	if !ok {
		return false, false
	}
	return e.Code == sqlerr.UndefinedTable, true
}

// canceledError is the error of a statement cancelled by the user.
func canceledError() error {
	return sqlerr.Execf(sqlerr.QueryCanceled, "canceling statement due to user request")
}

// remote runs statements on a Sluice (or any Postgres) server.
type remote struct {
	conn *pgconn.PgConn
	cfg  *pgconn.Config
	// notices collects NoticeResponses of the running statement (the
	// handler runs on the goroutine reading the response, inside Exec).
	notices []string
}

// newRemote connects to url (a postgres:// URL or key=value string).
func newRemote(ctx context.Context, url string) (*remote, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse connection string: %w", err)
	}
	b := &remote{cfg: cfg}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		b.notices = append(b.notices, n.Message)
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	b.conn = conn
	return b, nil
}

// Exec implements backend. A cancelled ctx sends a CancelRequest on a
// new connection and keeps reading, so the statement ends with the
// server's own 57014 error and the session stays usable.
func (b *remote) Exec(ctx context.Context, sql string) (*resultSet, error) {
	done := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case <-done:
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = b.conn.CancelRequest(cctx)
		}
	}()
	b.notices = nil
	results, err := b.conn.Exec(context.Background(), sql).ReadAll()
	close(done)
	<-watcherDone
	notices := b.notices
	b.notices = nil
	if err != nil {
		return nil, fromPgError(err)
	}
	rs := &resultSet{Notices: notices}
	for _, r := range results {
		if r.Err != nil {
			return nil, fromPgError(r.Err)
		}
		rs.Tag = r.CommandTag.String()
		rs.Columns, rs.Rows = nil, nil
		if r.FieldDescriptions == nil {
			continue
		}
		rs.Columns = make([]column, len(r.FieldDescriptions))
		for i, f := range r.FieldDescriptions {
			rs.Columns[i] = column{Name: f.Name, Numeric: isNumericOID(f.DataTypeOID)}
		}
		rs.Rows = make([][]cell, len(r.Rows))
		for i, row := range r.Rows {
			cells := make([]cell, len(row))
			for j, v := range row {
				if v == nil {
					cells[j] = cell{Null: true}
				} else {
					cells[j] = cell{S: string(v)}
				}
			}
			rs.Rows[i] = cells
		}
	}
	return rs, nil
}

// isNumericOID reports whether a Postgres type is one psql right-aligns.
func isNumericOID(oid uint32) bool {
	switch oid {
	case 20, 21, 23, 26, 700, 701, 790, 1700: // int8 int2 int4 oid float4 float8 money numeric
		return true
	}
	return false
}

// fromPgError turns a server error into a *sqlerr.Error so the REPL
// prints both backends' errors alike.
func fromPgError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	return &sqlerr.Error{Phase: sqlerr.Execution, Code: pe.Code, Msg: pe.Message,
		Position: int(pe.Position), Detail: pe.Detail, Hint: pe.Hint}
}

// ConnInfo implements backend.
func (b *remote) ConnInfo() string {
	host := b.conn.Conn().RemoteAddr().String()
	var sb strings.Builder
	fmt.Fprintf(&sb, "You are connected to database %q as user %q at %s",
		b.cfg.Database, b.cfg.User, host)
	if v := b.conn.ParameterStatus("server_version"); v != "" {
		fmt.Fprintf(&sb, " (server version %s)", v)
	}
	sb.WriteByte('.')
	return sb.String()
}

// Close implements backend.
func (b *remote) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return b.conn.Close(ctx)
}
