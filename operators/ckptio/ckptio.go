// Package ckptio frames operator checkpoints that are written as Arrow IPC
// streams back to back: a Header with the format, version and a
// configuration fingerprint, the operator's data streams, and a trailer
// with the byte count and CRC-32C of everything before it, verified
// before any byte reaches the IPC decoder.
package ckptio

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
)

// The framing of a checkpoint: a sequence of Arrow IPC streams written
// back to back (each a schema, record batches and the end-of-stream
// marker), so every part is a plain Arrow stream that Arrow tools can
// read one after the other:
//
//	Header   one row: format (utf8), version (uint32), config (utf8), then
//	         the operator's int64 values (counts and scalars)
//	...      the operator's data streams
//	trailer  one row: bytes (int64) and crc32c (uint32, Castagnoli) of
//	         everything before the trailer; its layout is fixed across
//	         versions
//
// Restore reads its input to the end and checks the trailer before any
// byte reaches the IPC decoder: arrow-go's decoder trusts the lengths in
// a message's metadata (a flipped bit there can make it allocate without
// bound), so a truncated or bit-flipped checkpoint must be refused first.
// Then it checks the format, version and configuration (a clear error
// for a checkpoint of another operator), then the data, and commits the
// state only when all of it is consistent.

// CRCTable is the CRC-32C (Castagnoli) table of the trailer checksum.
var CRCTable = crc32.MakeTable(crc32.Castagnoli)

// Limits on one IPC message when reading, so a corrupt length cannot make
// the reader allocate without bound. The writers cut record batches well
// below them.
const (
	ckptMaxMetadata = 1 << 20
	ckptMaxBody     = 256 << 20
)

// CRCWriter counts and checksums the bytes written through it.
type CRCWriter struct {
	w   io.Writer
	n   int64
	crc uint32
}

// NewCRCWriter returns a writer that counts and checksums what passes.
func NewCRCWriter(w io.Writer) *CRCWriter { return &CRCWriter{w: w} }

// Write implements io.Writer.
func (c *CRCWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, CRCTable, p[:n])
	c.n += int64(n)
	return n, err
}

// eofReader notes whether its reader ran dry: the IPC reader takes a
// stream that ends without its end-of-stream marker as complete, so a
// checkpoint cut at a message boundary is caught here.
type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if n == 0 && err == io.EOF {
		e.eof = true
	}
	return n, err
}

// NewStreamReader opens one IPC stream of r with bounded message sizes.
func NewStreamReader(r io.Reader, mem memory.Allocator) (*ipc.Reader, error) {
	mr := ipc.NewMessageReader(r, ipc.WithAllocator(mem), ipc.WithMetadataSizeLimit(ckptMaxMetadata), ipc.WithBodySizeLimit(ckptMaxBody))
	return ipc.NewReaderFromMessageReader(mr, ipc.WithAllocator(mem))
}

// WriteStream writes one IPC stream of schema; fill writes its records.
func WriteStream(w io.Writer, mem memory.Allocator, schema *arrow.Schema, fill func(*ipc.Writer) error) (err error) {
	iw := ipc.NewWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	defer func() {
		if cerr := iw.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	return fill(iw)
}

// WriteRecord builds a record from rb, writes it and releases it.
func WriteRecord(iw *ipc.Writer, rb *array.RecordBuilder) error {
	rec := rb.NewRecordBatch()
	defer rec.Release()
	return iw.Write(rec)
}

// ReadStream reads one IPC stream whose field types must be those of want
// (names are not checked), validating every record fully before fn sees
// it. name says which stream, for errors.
func ReadStream(r io.Reader, mem memory.Allocator, name string, want *arrow.Schema, fn func(arrow.RecordBatch) error) error {
	er := &eofReader{r: r}
	rd, err := NewStreamReader(er, mem)
	if err != nil {
		return fmt.Errorf("%s stream: %w", name, err)
	}
	defer rd.Release()
	got := rd.Schema()
	if got == nil {
		return fmt.Errorf("%s stream: no schema: %w", name, rd.Err())
	}
	if got.NumFields() != want.NumFields() {
		return fmt.Errorf("%s stream has %d columns, want %d", name, got.NumFields(), want.NumFields())
	}
	for i := range want.NumFields() {
		if !arrow.TypeEqual(got.Field(i).Type, want.Field(i).Type) {
			return fmt.Errorf("%s stream: column %d (%s) is %s, want %s", name, i, got.Field(i).Name, got.Field(i).Type, want.Field(i).Type)
		}
	}
	for rd.Next() {
		rec := rd.RecordBatch()
		if err := array.ValidateRecordFull(rec); err != nil {
			return fmt.Errorf("%s stream: %w", name, err)
		}
		if err := fn(rec); err != nil {
			return fmt.Errorf("%s stream: %w", name, err)
		}
	}
	if err := rd.Err(); err != nil {
		return fmt.Errorf("%s stream: %w", name, err)
	}
	if er.eof {
		return fmt.Errorf("%s stream: truncated: %w", name, io.ErrUnexpectedEOF)
	}
	return nil
}

// Header is the first stream of a checkpoint.
type Header struct {
	Format  string
	Version uint32
	Config  string
	Names   []string // of Counts
	Counts  []int64
}

func (h *Header) schema() *arrow.Schema {
	fields := []arrow.Field{
		{Name: "format", Type: arrow.BinaryTypes.String},
		{Name: "version", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "config", Type: arrow.BinaryTypes.String},
	}
	for _, n := range h.Names {
		fields = append(fields, arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Int64})
	}
	return arrow.NewSchema(fields, nil)
}

func (h *Header) Write(w io.Writer, mem memory.Allocator) error {
	schema := h.schema()
	return WriteStream(w, mem, schema, func(iw *ipc.Writer) error {
		rb := array.NewRecordBuilder(mem, schema)
		defer rb.Release()
		rb.Field(0).(*array.StringBuilder).Append(h.Format)
		rb.Field(1).(*array.Uint32Builder).Append(h.Version)
		rb.Field(2).(*array.StringBuilder).Append(h.Config)
		for i, c := range h.Counts {
			rb.Field(3 + i).(*array.Int64Builder).Append(c)
		}
		return WriteRecord(iw, rb)
	})
}

// read reads a Header and checks it against h's format, version and
// config, then fills h.Counts.
func (h *Header) Read(r io.Reader, mem memory.Allocator) error {
	// The format and version are checked before the rest of the schema,
	// so a checkpoint of another format or version says so.
	want := h.schema()
	rows := 0
	er := &eofReader{r: r}
	rd, err := NewStreamReader(er, mem)
	if err != nil {
		return fmt.Errorf("Header stream: %w", err)
	}
	defer rd.Release()
	schema := rd.Schema()
	if schema == nil {
		return fmt.Errorf("Header stream: no schema: %w", rd.Err())
	}
	if schema.NumFields() < 3 || schema.Field(0).Name != "format" || !arrow.TypeEqual(schema.Field(0).Type, arrow.BinaryTypes.String) ||
		schema.Field(1).Name != "version" || !arrow.TypeEqual(schema.Field(1).Type, arrow.PrimitiveTypes.Uint32) {
		return fmt.Errorf("not a %s checkpoint: Header schema %s", h.Format, schema)
	}
	for rd.Next() {
		rec := rd.RecordBatch()
		if err := array.ValidateRecordFull(rec); err != nil {
			return fmt.Errorf("Header stream: %w", err)
		}
		if rec.NumRows() == 0 {
			continue
		}
		rows += int(rec.NumRows())
		if rows > 1 {
			return errors.New("Header stream has more than one row")
		}
		format := rec.Column(0).(*array.String).Value(0)
		version := rec.Column(1).(*array.Uint32).Value(0)
		if format != h.Format {
			return fmt.Errorf("not a %s checkpoint: format %q", h.Format, format)
		}
		if version != h.Version {
			return fmt.Errorf("%s checkpoint version %d, this build reads version %d: %w", h.Format, version, h.Version, operators.ErrStateMismatch)
		}
		if !schema.Equal(want) {
			return fmt.Errorf("%s checkpoint Header schema %s, want %s", h.Format, schema, want)
		}
		if config := rec.Column(2).(*array.String).Value(0); config != h.Config {
			return fmt.Errorf("checkpoint of a differently configured operator: checkpoint has %q, operator is %q: %w", config, h.Config, operators.ErrStateMismatch)
		}
		h.Counts = make([]int64, len(h.Names))
		for i := range h.Names {
			col := rec.Column(3 + i).(*array.Int64)
			if col.IsNull(0) {
				return fmt.Errorf("Header: %s is NULL", h.Names[i])
			}
			h.Counts[i] = col.Value(0)
		}
	}
	if err := rd.Err(); err != nil {
		return fmt.Errorf("Header stream: %w", err)
	}
	if er.eof {
		return fmt.Errorf("Header stream: truncated: %w", io.ErrUnexpectedEOF)
	}
	if rows != 1 {
		return errors.New("Header stream has no row")
	}
	return nil
}

var trailerSchema = arrow.NewSchema([]arrow.Field{
	{Name: "bytes", Type: arrow.PrimitiveTypes.Int64},
	{Name: "crc32c", Type: arrow.PrimitiveTypes.Uint32},
}, nil)

// WriteTrailer writes the trailer for the bytes cw has seen.
func WriteTrailer(cw *CRCWriter, mem memory.Allocator) error {
	n, crc := cw.n, cw.crc
	return WriteStream(cw.w, mem, trailerSchema, func(iw *ipc.Writer) error {
		rb := array.NewRecordBuilder(mem, trailerSchema)
		defer rb.Release()
		rb.Field(0).(*array.Int64Builder).Append(n)
		rb.Field(1).(*array.Uint32Builder).Append(crc)
		return WriteRecord(iw, rb)
	})
}

// TrailerBytes is the trailer for n bytes with checksum crc.
// TrailerBytes encodes a trailer for n bytes with checksum crc.
func TrailerBytes(mem memory.Allocator, n int64, crc uint32) ([]byte, error) {
	var buf bytes.Buffer
	if err := WriteTrailer(&CRCWriter{w: &buf, n: n, crc: crc}, mem); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// TrailerLen is the length of every trailer (its values are fixed-width).
// TrailerLen is the encoded length of a trailer (fixed).
var TrailerLen = sync.OnceValues(func() (int, error) {
	b, err := TrailerBytes(memory.DefaultAllocator, 0, 0)
	return len(b), err
})

// ReadVerified reads r to its end and checks the trailer: it returns the
// checkpoint without its trailer, every byte covered by the checksum.
func ReadVerified(r io.Reader, mem memory.Allocator) ([]byte, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading the checkpoint: %w", err)
	}
	tl, err := TrailerLen()
	if err != nil {
		return nil, err
	}
	if len(data) < tl {
		return nil, fmt.Errorf("checkpoint of %d bytes is truncated (the trailer alone is %d)", len(data), tl)
	}
	body := data[:len(data)-tl]
	want, err := TrailerBytes(mem, int64(len(body)), crc32.Update(0, CRCTable, body))
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(want, data[len(body):]) {
		return nil, fmt.Errorf("checksum mismatch over %d bytes: the checkpoint is corrupt or truncated", len(data))
	}
	return body, nil
}
