package wire

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicedb/sluice/executor"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
	"github.com/sluicedb/sluice/wire/pgcatalog"
)

// portal is a bound statement of the extended protocol. Its result is
// computed by the first Execute and sent in pieces when Execute has a row
// limit.
type portal struct {
	st      *stmt
	params  []types.Datum
	formats []int16
	res     *executor.Result
	pos     int
	// suspended is set once a PortalSuspended was sent.
	suspended bool
	done      bool
}

// exec runs a statement and writes its results (not the final error).
func (ss *session) exec(ctx context.Context, st *stmt, params []types.Datum, formats []int16, maxRows int, describe bool, pt *portal) error {
	eng := ss.srv.eng
	if st.kind == kindSimple {
		res, handled, err := pgcatalog.Answer(ctx, eng, ss.settings, st.sql)
		if handled {
			if err != nil {
				return err
			}
			ss.reportSettings()
			ss.writeResult(res, formats, maxRows, describe, pt)
			return nil
		}
		parsed, err := parser.ParseOne(st.sql)
		if err != nil {
			return err
		}
		st.parsed = parsed
		st.kind = classify(parsed)
	}
	if err := checkDeadline(ctx); err != nil {
		return err
	}
	switch st.kind {
	case kindEmpty:
		ss.send(&pgproto3.EmptyQueryResponse{})
	case kindCatalog:
		res, handled, err := pgcatalog.Answer(ctx, eng, ss.settings, substituteParams(st.sql, params))
		if err != nil {
			return err
		}
		if !handled {
			return sqlerr.New(sqlerr.Internal, sqlerr.InternalError, "catalog statement no longer recognised")
		}
		ss.reportSettings()
		ss.writeResult(res, formats, maxRows, describe, pt)
	case kindTx:
		ss.transaction(st.parsed.(*parser.Transaction).Kind)
	case kindSubscribe:
		return ss.subscribe(ctx, st.parsed.(*parser.Subscribe), formats, describe)
	case kindCopySubscribe:
		return ss.copySubscribe(ctx, st.parsed.(*parser.CopySubscribe))
	case kindCopyFrom:
		return ss.copyFrom(ctx, st.parsed.(*parser.CopyFrom))
	case kindEngine:
		var res *executor.Result
		var err error
		if st.prep != nil {
			res, err = eng.ExecutePrepared(ctx, st.prep, params)
		} else {
			res, err = eng.ExecuteStatement(ctx, st.parsed, params)
		}
		if err != nil {
			return err
		}
		ss.writeResult(res, formats, maxRows, describe, pt)
	}
	return nil
}

// classify says how a parsed statement runs.
func classify(p parser.Statement) statementKind {
	switch p.(type) {
	case *parser.Transaction:
		return kindTx
	case *parser.Subscribe:
		return kindSubscribe
	case *parser.CopySubscribe:
		return kindCopySubscribe
	case *parser.CopyFrom:
		return kindCopyFrom
	}
	return kindEngine
}

// writeResult sends a statement's notices, rows and command tag. With a
// portal and a row limit the rest of the rows stay in the portal.
func (ss *session) writeResult(res *executor.Result, formats []int16, maxRows int, describe bool, pt *portal) {
	ss.sendNotices(res)
	if describe && res.HasRows() {
		ss.rowDescription(res.Columns, formats)
	}
	if pt == nil {
		for _, row := range res.Rows {
			ss.dataRow(row, res.Columns, formats)
			if ss.maybeFlush() != nil {
				return
			}
		}
		ss.send(&pgproto3.CommandComplete{CommandTag: []byte(res.Tag)})
		return
	}
	pt.res, pt.pos = res, 0
	ss.portalRows(pt, maxRows)
}

// portalRows sends up to maxRows (0: all) of a portal's remaining rows.
func (ss *session) portalRows(pt *portal, maxRows int) {
	res := pt.res
	end := len(res.Rows)
	if maxRows > 0 && pt.pos+maxRows < end {
		end = pt.pos + maxRows
	}
	n := end - pt.pos
	limited := maxRows > 0 && n == maxRows
	for _, row := range res.Rows[pt.pos:end] {
		ss.dataRow(row, res.Columns, pt.formats)
		if ss.maybeFlush() != nil {
			return
		}
	}
	pt.pos = end
	if end < len(res.Rows) || limited {
		pt.suspended = true
		ss.send(&pgproto3.PortalSuspended{})
		return
	}
	tag := res.Tag
	if pt.suspended || pt.done {
		tag = "SELECT " + strconv.Itoa(n)
	}
	pt.done = true
	ss.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
}

// parse handles Parse: plan the statement, infer its parameter types.
func (ss *session) parse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, exists := ss.stmts[m.Name]; exists {
			return sqlerr.Execf("42P05", "prepared statement %q already exists", m.Name)
		}
	}
	st, err := ss.prepareExtended(m.Query, m.ParameterOIDs)
	if err != nil {
		return err
	}
	ss.stmts[m.Name] = st
	ss.send(&pgproto3.ParseComplete{})
	return nil
}

// prepareExtended classifies and plans one statement for the extended
// protocol.
func (ss *session) prepareExtended(sql string, declaredOIDs []uint32) (*stmt, error) {
	var nonEmpty []parser.Piece
	for _, p := range parser.Split(sql) {
		if !p.Empty {
			nonEmpty = append(nonEmpty, p)
		}
	}
	st := &stmt{sql: sql}
	switch len(nonEmpty) {
	case 0:
		st.kind = kindEmpty
		return st, nil
	case 1:
	default:
		return nil, sqlerr.New(sqlerr.Parse, sqlerr.SyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	st.sql = nonEmpty[0].Text
	st.offset = len([]rune(sql[:nonEmpty[0].Offset]))
	if ss.tx == 'E' && !isTxEnd(st.sql) {
		return nil, txAborted()
	}
	eng := ss.srv.eng
	nparams := maxParamRef(st.sql)
	if res, handled, err := pgcatalog.Answer(ss.ctx, eng, ss.settings, st.sql); handled {
		if err != nil && nparams == 0 {
			return nil, shiftPosition(err, st.offset)
		}
		st.kind = kindCatalog
		if res != nil && res.HasRows() {
			st.cols = res.Columns
		}
	} else {
		parsed, err := parser.ParseOne(st.sql)
		if err != nil {
			return nil, shiftPosition(err, st.offset)
		}
		st.parsed = parsed
		st.kind = classify(parsed)
		switch p := parsed.(type) {
		case *parser.Subscribe:
			cols, err := ss.subscribeColumns(p.Name)
			if err != nil {
				return nil, err
			}
			st.cols = cols
		case *parser.ShowObjects, *parser.Describe:
			// Cheap and side-effect free: run it now to learn its columns.
			res, err := eng.ExecuteStatement(ss.ctx, parsed, nil)
			if err != nil {
				return nil, err
			}
			st.cols = res.Columns
		}
		if st.kind == kindEngine {
			prep, err := eng.Prepare(parsed)
			if err != nil {
				return nil, shiftPosition(err, st.offset)
			}
			st.prep = prep
			if prep.Columns != nil {
				st.cols = prep.Columns
			}
			nparams = max(nparams, len(prep.Params))
		}
	}
	nparams = max(nparams, len(declaredOIDs))
	st.params = make([]types.T, nparams)
	st.declared = make([]types.T, nparams)
	st.paramOIDs = make([]uint32, nparams)
	for i := range nparams {
		if st.prep != nil && i < len(st.prep.Params) {
			st.params[i] = st.prep.Params[i]
		}
		wire := st.params[i]
		if i < len(declaredOIDs) && declaredOIDs[i] != 0 {
			if t, ok := typeOfOID(declaredOIDs[i]); ok {
				wire = t
				st.paramOIDs[i] = declaredOIDs[i]
			}
		}
		if wire.Kind == types.Unknown {
			wire = types.TextType
		}
		st.declared[i] = wire
		if st.paramOIDs[i] == 0 {
			st.paramOIDs[i] = pgType(wire).oid
		}
	}
	return st, nil
}

// maxParamRef returns the highest $n in sql outside quotes and comments.
func maxParamRef(sql string) int {
	n := 0
	scanParams(sql, func(i, j, k int) { n = max(n, k) })
	return n
}

// scanParams calls fn(start, end, n) for each $n in sql that is not inside
// a string, quoted identifier or comment.
func scanParams(sql string, fn func(start, end, n int)) {
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == '\'' || c == '"' || c == '`':
			for j := i + 1; j < len(sql); j++ {
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						j++
						continue
					}
					i = j
					break
				}
				if j == len(sql)-1 {
					i = j
				}
			}
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			if k := strings.Index(sql[i+2:], "*/"); k >= 0 {
				i += k + 3
			} else {
				i = len(sql)
			}
		case c == '$' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9' && (i == 0 || !isIdentByte(sql[i-1])):
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			if n, err := strconv.Atoi(sql[i+1 : j]); err == nil && n > 0 && n <= 65535 {
				fn(i, j, n)
			}
			i = j - 1
		}
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// substituteParams replaces $n in a catalog statement by SQL literals of
// the parameter values (the catalog emulation takes plain text).
func substituteParams(sql string, params []types.Datum) string {
	if len(params) == 0 {
		return sql
	}
	var b strings.Builder
	last := 0
	scanParams(sql, func(i, j, n int) {
		b.WriteString(sql[last:i])
		last = j
		if n > len(params) || params[n-1].Null {
			b.WriteString("NULL")
			return
		}
		d := params[n-1]
		switch d.Kind {
		case types.Int, types.BigInt, types.Double, types.Decimal:
			b.WriteString(d.String())
		case types.Boolean:
			b.WriteString(strings.ToUpper(strconv.FormatBool(d.Bool())))
		default:
			b.WriteString("'" + strings.ReplaceAll(d.String(), "'", "''") + "'")
		}
	})
	b.WriteString(sql[last:])
	return b.String()
}

// bind handles Bind: decode the parameters into a portal.
func (ss *session) bind(m *pgproto3.Bind) error {
	st, ok := ss.stmts[m.PreparedStatement]
	if !ok {
		return sqlerr.Execf("26000", "prepared statement %q does not exist", m.PreparedStatement)
	}
	if m.DestinationPortal != "" {
		if _, exists := ss.portals[m.DestinationPortal]; exists {
			return sqlerr.Execf("42P03", "cursor %q already exists", m.DestinationPortal)
		}
	}
	if len(m.Parameters) != len(st.params) {
		return sqlerr.Execf("08P01", "bind message supplies %d parameters, but prepared statement %q requires %d", len(m.Parameters), m.PreparedStatement, len(st.params))
	}
	if n := len(m.ParameterFormatCodes); n > 1 && n != len(m.Parameters) {
		return sqlerr.Execf("08P01", "bind message has %d parameter formats but %d parameters", n, len(m.Parameters))
	}
	pt := &portal{st: st}
	if len(m.Parameters) > 0 {
		pt.params = make([]types.Datum, len(m.Parameters))
	}
	for i, v := range m.Parameters {
		d, err := decodeParam(v, formatOf(m.ParameterFormatCodes, i) == 1, st.declared[i], st.params[i], i+1)
		if err != nil {
			return err
		}
		pt.params[i] = d
	}
	if len(m.ResultFormatCodes) > 0 {
		pt.formats = append([]int16(nil), m.ResultFormatCodes...)
	}
	ss.portals[m.DestinationPortal] = pt
	ss.send(&pgproto3.BindComplete{})
	return nil
}

// describe handles Describe of a statement or a portal.
func (ss *session) describe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		st, ok := ss.stmts[m.Name]
		if !ok {
			return sqlerr.Execf("26000", "prepared statement %q does not exist", m.Name)
		}
		ss.send(&pgproto3.ParameterDescription{ParameterOIDs: st.paramOIDs})
		ss.describeRows(st.cols, nil)
	case 'P':
		pt, ok := ss.portals[m.Name]
		if !ok {
			return sqlerr.Execf("34000", "portal %q does not exist", m.Name)
		}
		ss.describeRows(pt.st.cols, pt.formats)
	default:
		return sqlerr.Execf("08P01", "invalid Describe type %q", m.ObjectType)
	}
	return nil
}

func (ss *session) describeRows(cols []executor.ResultColumn, formats []int16) {
	if cols == nil {
		ss.send(&pgproto3.NoData{})
		return
	}
	ss.rowDescription(cols, formats)
}

// execute handles Execute: run the portal's statement or resume it.
func (ss *session) execute(m *pgproto3.Execute) error {
	pt, ok := ss.portals[m.Portal]
	if !ok {
		return sqlerr.Execf("34000", "portal %q does not exist", m.Portal)
	}
	maxRows := int(m.MaxRows)
	if pt.res != nil {
		ss.portalRows(pt, maxRows)
		return nil
	}
	if err := ss.run1(pt.st, pt.params, pt.formats, maxRows, false, pt); err != nil {
		ss.skipToSync = true
	}
	return nil
}

// closeMsg handles Close of a statement or portal.
func (ss *session) closeMsg(m *pgproto3.Close) error {
	switch m.ObjectType {
	case 'S':
		delete(ss.stmts, m.Name)
	case 'P':
		delete(ss.portals, m.Name)
	default:
		return sqlerr.Execf("08P01", "invalid Close type %q", m.ObjectType)
	}
	ss.send(&pgproto3.CloseComplete{})
	return nil
}

// subscribeColumns is the row shape of SUBSCRIBE name.
func (ss *session) subscribeColumns(name string) ([]executor.ResultColumn, error) {
	rel, err := ss.srv.eng.Table(name)
	if err != nil {
		return nil, err
	}
	cols := []executor.ResultColumn{{Name: "epoch", Type: types.BigIntType}, {Name: "op", Type: types.TextType}}
	for _, c := range rel.Schema {
		cols = append(cols, executor.ResultColumn{Name: c.Name, Type: c.Type})
	}
	return cols, nil
}
