package wire

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicedb/sluice/connectors/format"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// copyBatchRows is the number of rows COPY hands to Engine.Append at once.
const copyBatchRows = 4096

// copyFrom runs COPY table FROM STDIN in text or CSV format. Rows are
// appended in batches as they arrive; a bad row ends the COPY with an
// error naming its line, and — unlike Postgres, which aborts the whole
// COPY — the rows before it stay appended.
func (ss *session) copyFrom(ctx context.Context, p *parser.CopyFrom) error {
	eng := ss.srv.eng
	rel, err := eng.Table(p.Table)
	if err != nil {
		return err
	}
	if rel.Kind != planner.TableRelation {
		return sqlerr.Planf(sqlerr.WrongObjectType, "cannot copy to materialized view %q", rel.Name)
	}
	if p.Format == parser.CopyBinary {
		return sqlerr.Execf(sqlerr.FeatureNotSupported, "COPY FROM in binary format is not supported; use FORMAT text or csv")
	}
	ld, err := newCopyLoader(rel, p)
	if err != nil {
		return err
	}
	defer ld.release()
	ss.send(&pgproto3.CopyInResponse{OverallFormat: 0, ColumnFormatCodes: make([]uint16, len(ld.cols))})
	if err := ss.flush(); err != nil {
		return err
	}
	// The batches are kept until the end and stored as one statement, so a
	// COPY is atomic: after a crash it is there whole or not at all (it
	// costs the COPY's rows in memory until it ends).
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	cutBatch := func() {
		if ld.rows == 0 {
			return
		}
		batches = append(batches, ld.rb.NewRecordBatch())
		ld.total += int64(ld.rows)
		ld.rows = 0
	}
	commit := func() error {
		cutBatch()
		if err := eng.AppendAll(ctx, rel.Name, batches); err != nil {
			return fmt.Errorf("COPY %s: %w", rel.Name, err)
		}
		return nil
	}
	flushBatch := func() error {
		cutBatch()
		return nil
	}
	// fail stores the rows before a bad one and returns its error.
	fail := func(err error) error {
		if ferr := commit(); ferr != nil {
			return ferr
		}
		return err
	}
	for {
		msg, err := ss.receive()
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if ld.ended {
				continue
			}
			ld.buf = append(ld.buf, m.Data...)
			if err := ld.consume(false); err != nil {
				return fail(err)
			}
			if ld.rows >= copyBatchRows {
				if err := ctx.Err(); err != nil {
					return fail(err)
				}
				if err := flushBatch(); err != nil {
					return err
				}
			}
		case *pgproto3.CopyDone:
			if !ld.ended {
				if err := ld.consume(true); err != nil {
					return fail(err)
				}
			}
			if err := commit(); err != nil {
				return err
			}
			ss.send(&pgproto3.CommandComplete{CommandTag: []byte("COPY " + strconv.FormatInt(ld.total, 10))})
			return nil
		case *pgproto3.CopyFail:
			return fail(sqlerr.Execf(sqlerr.QueryCanceled, "COPY from stdin failed: %s", m.Message))
		case *pgproto3.Flush, *pgproto3.Sync:
			// Ignored in COPY mode.
		default:
			return fail(sqlerr.Execf("08P01", "unexpected message type %T during COPY from stdin", msg))
		}
	}
}

// copyLoader parses COPY data into Arrow builders of a table's columns.
type copyLoader struct {
	p     *parser.CopyFrom
	table string
	rb    *array.RecordBuilder
	// cols are the table columns the data holds, in data order.
	cols []int
	// present marks table columns that come from the data.
	present []bool
	types   []types.T
	csv     bool

	buf    []byte // unconsumed input
	line   int    // lines (records) consumed so far
	header bool   // header still to skip
	ended  bool   // \. seen
	rows   int    // rows in the builders
	total  int64  // rows appended

	fields  []field
	scratch []byte
	cells   []cell
}

// field is one field of a record: a slice of the input or of scratch.
type field struct {
	null       bool
	inScratch  bool
	start, end int
	raw        []byte
}

// cell is a converted value waiting to be appended.
type cell struct {
	null bool
	v    format.Value
}

func newCopyLoader(rel *planner.Relation, p *parser.CopyFrom) (*copyLoader, error) {
	ld := &copyLoader{p: p, table: rel.Name, csv: p.Format == parser.CopyCSV, header: p.Header}
	ld.present = make([]bool, len(rel.Schema))
	if p.Columns == nil {
		for i := range rel.Schema {
			ld.cols = append(ld.cols, i)
		}
	} else {
		for _, name := range p.Columns {
			i := rel.Schema.Index(name)
			if i < 0 {
				return nil, sqlerr.Planf(sqlerr.UndefinedColumn, "column %q of relation %q does not exist", name, rel.Name)
			}
			if ld.present[i] {
				return nil, sqlerr.Planf("42701", "column %q specified more than once", name)
			}
			ld.present[i] = true
			ld.cols = append(ld.cols, i)
		}
	}
	for _, i := range ld.cols {
		ld.present[i] = true
	}
	for _, c := range rel.Schema {
		if c.Type.Kind == types.Interval {
			return nil, sqlerr.Execf(sqlerr.FeatureNotSupported, "COPY into INTERVAL column %q is not supported", c.Name)
		}
		ld.types = append(ld.types, c.Type)
	}
	ld.rb = array.NewRecordBuilder(memory.DefaultAllocator, rel.Schema.Arrow())
	ld.cells = make([]cell, len(ld.cols))
	return ld, nil
}

func (ld *copyLoader) release() { ld.rb.Release() }

// consume parses every complete record in buf (and, atEOF, a last record
// without a newline), keeping an incomplete tail for the next CopyData.
func (ld *copyLoader) consume(atEOF bool) error {
	pos := 0
	defer func() {
		n := copy(ld.buf, ld.buf[pos:])
		ld.buf = ld.buf[:n]
	}()
	for pos < len(ld.buf) && !ld.ended {
		var next int
		var ok bool
		var err error
		if ld.csv {
			next, ok, err = ld.csvRecord(pos, atEOF)
		} else {
			next, ok, err = ld.textRecord(pos, atEOF)
		}
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		pos = next
		ld.line++
		if ld.ended {
			return nil
		}
		if ld.header {
			ld.header = false
			continue
		}
		if err := ld.row(); err != nil {
			return err
		}
	}
	return nil
}

// textRecord splits one text-format line starting at pos into fields.
func (ld *copyLoader) textRecord(pos int, atEOF bool) (int, bool, error) {
	buf := ld.buf
	nl := bytes.IndexByte(buf[pos:], '\n')
	var line []byte
	next := 0
	if nl < 0 {
		if !atEOF {
			return 0, false, nil
		}
		line, next = buf[pos:], len(buf)
	} else {
		line, next = buf[pos:pos+nl], pos+nl+1
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) == 2 && line[0] == '\\' && line[1] == '.' {
		ld.ended = true
		return next, true, nil
	}
	ld.fields = ld.fields[:0]
	ld.scratch = ld.scratch[:0]
	delim, null := ld.p.Delimiter, ld.p.Null
	for {
		end := bytes.IndexByte(line, delim)
		raw := line
		if end >= 0 {
			raw = line[:end]
		}
		f := field{raw: raw}
		switch {
		case string(raw) == null:
			f.null = true
		case bytes.IndexByte(raw, '\\') >= 0:
			f.inScratch, f.start = true, len(ld.scratch)
			ld.scratch = unescapeText(ld.scratch, raw)
			f.end = len(ld.scratch)
		}
		ld.fields = append(ld.fields, f)
		if end < 0 {
			break
		}
		line = line[end+1:]
	}
	return next, true, nil
}

// unescapeText appends the COPY text-format unescaping of raw.
func unescapeText(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			dst = append(dst, c)
			continue
		}
		i++
		switch c = raw[i]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(raw) && isHex(raw[i+1]) {
				v = v*16 + hexVal(raw[i+1])
				i++
				n++
			}
			if n == 0 {
				dst = append(dst, 'x')
			} else {
				dst = append(dst, byte(v))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for n := 1; n < 3 && i+1 < len(raw) && raw[i+1] >= '0' && raw[i+1] <= '7'; n++ {
				v = v*8 + int(raw[i+1]-'0')
				i++
			}
			dst = append(dst, byte(v))
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

// csvRecord splits one CSV record starting at pos (quoted fields may span
// lines) into fields.
func (ld *copyLoader) csvRecord(pos int, atEOF bool) (int, bool, error) {
	buf := ld.buf
	n := len(buf)
	delim, quote, esc, null := ld.p.Delimiter, ld.p.Quote, ld.p.Escape, ld.p.Null
	ld.fields = ld.fields[:0]
	ld.scratch = ld.scratch[:0]
	i := pos
	// End-of-data marker on a line of its own.
	if n-i >= 2 && buf[i] == '\\' && buf[i+1] == '.' && (n-i == 2 || buf[i+2] == '\n' || buf[i+2] == '\r') {
		ld.ended = true
		return n, true, nil
	}
	for {
		f := field{}
		if i < n && buf[i] == quote {
			f.inScratch, f.start = true, len(ld.scratch)
			i++
			closed := false
			for i < n {
				c := buf[i]
				if c == esc && esc != quote && i+1 < n && (buf[i+1] == quote || buf[i+1] == esc) {
					ld.scratch = append(ld.scratch, buf[i+1])
					i += 2
					continue
				}
				if c == quote {
					if esc == quote && i+1 < n && buf[i+1] == quote {
						ld.scratch = append(ld.scratch, quote)
						i += 2
						continue
					}
					if esc == quote && i+1 >= n && !atEOF {
						return 0, false, nil // a doubled quote may follow
					}
					i++
					closed = true
					break
				}
				ld.scratch = append(ld.scratch, c)
				i++
			}
			if !closed {
				if atEOF {
					ld.line++ // the error is on the record being read
					return 0, false, ld.rowError(sqlerr.Execf("22P04", "unterminated CSV quoted field"))
				}
				return 0, false, nil
			}
			f.end = len(ld.scratch)
			// Unquoted text right after the closing quote belongs to the field.
			for i < n && buf[i] != delim && buf[i] != '\n' && buf[i] != '\r' {
				ld.scratch = append(ld.scratch, buf[i])
				i++
			}
			f.end = len(ld.scratch)
		} else {
			j := i
			for j < n && buf[j] != delim && buf[j] != '\n' {
				j++
			}
			raw := buf[i:j]
			if j < n && buf[j] == '\n' && len(raw) > 0 && raw[len(raw)-1] == '\r' {
				raw = raw[:len(raw)-1]
			}
			f.raw = raw
			f.null = string(raw) == null
			i = j
		}
		if i >= n && !atEOF {
			return 0, false, nil
		}
		ld.fields = append(ld.fields, f)
		switch {
		case i >= n:
			return n, true, nil
		case buf[i] == delim:
			i++
		case buf[i] == '\r' && i+1 < n && buf[i+1] == '\n':
			return i + 2, true, nil
		case buf[i] == '\r' && i+1 >= n && !atEOF:
			return 0, false, nil
		default: // '\n' or a lone '\r'
			return i + 1, true, nil
		}
	}
}

// value returns field f's bytes.
func (ld *copyLoader) value(f *field) []byte {
	if f.inScratch {
		return ld.scratch[f.start:f.end]
	}
	return f.raw
}

// rowError adds the COPY context (table and line) to a row's error.
func (ld *copyLoader) rowError(err error) error {
	return ld.colError(err, "")
}

func (ld *copyLoader) colError(err error, col string) error {
	e, ok := sqlerr.As(err)
	if !ok {
		e = sqlerr.Execf(sqlerr.InvalidTextRep, "%s", err.Error())
	} else {
		c := *e
		e = &c
	}
	e.Position = 0
	where := fmt.Sprintf("COPY %s, line %d", ld.table, ld.line)
	if col != "" {
		where += ", column " + col
	}
	return &copyError{err: e, where: where}
}

// copyError is a COPY row error with its CONTEXT line (the Where field).
type copyError struct {
	err   *sqlerr.Error
	where string
}

// Error implements error.
func (e *copyError) Error() string { return e.err.Error() + " (" + e.where + ")" }

// Unwrap exposes the sqlerr.Error.
func (e *copyError) Unwrap() error { return e.err }

// row converts the current record's fields and appends them.
func (ld *copyLoader) row() error {
	if len(ld.fields) < len(ld.cols) {
		name := ld.rb.Schema().Field(ld.cols[len(ld.fields)]).Name
		return ld.rowError(sqlerr.Execf("22P04", "missing data for column %q", name))
	}
	if len(ld.fields) > len(ld.cols) {
		return ld.rowError(sqlerr.Execf("22P04", "extra data after last expected column"))
	}
	for k, col := range ld.cols {
		f := &ld.fields[k]
		c := &ld.cells[k]
		*c = cell{null: f.null}
		if f.null {
			continue
		}
		if err := format.ParseText(&c.v, ld.value(f), ld.types[col]); err != nil {
			return ld.colError(err, ld.rb.Schema().Field(col).Name)
		}
	}
	for k, col := range ld.cols {
		appendCell(ld.rb.Field(col), &ld.cells[k], ld.types[col])
	}
	if len(ld.cols) < len(ld.types) {
		for i, ok := range ld.present {
			if !ok {
				ld.rb.Field(i).AppendNull()
			}
		}
	}
	ld.rows++
	return nil
}

// appendCell appends a converted value to its column builder.
func appendCell(b array.Builder, c *cell, t types.T) {
	if c.null {
		b.AppendNull()
		return
	}
	switch t.Kind {
	case types.Int:
		b.(*array.Int32Builder).Append(int32(c.v.I))
	case types.BigInt:
		b.(*array.Int64Builder).Append(c.v.I)
	case types.Double:
		b.(*array.Float64Builder).Append(c.v.F)
	case types.Boolean:
		b.(*array.BooleanBuilder).Append(c.v.I != 0)
	case types.Varchar:
		b.(*array.StringBuilder).BinaryBuilder.Append(c.v.S)
	case types.Decimal:
		b.(*array.Decimal128Builder).Append(c.v.Dec)
	case types.Timestamp:
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(c.v.I))
	case types.Date:
		b.(*array.Date32Builder).Append(arrow.Date32(c.v.I))
	}
}
