package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/operators"
)

// Checkpoint files.
//
// An operator's snapshot is a sequence of sections. Each section is one
// complete Arrow IPC stream (a schema, any number of record batches, the
// end-of-stream marker) of plain columns, framed so that corruption and
// truncation are caught before a byte of it is parsed:
//
//	frame   = magic "SLK1" | crc32c(stream) uint32 LE | len(stream) uint64 LE | stream
//
// The stream's schema carries the section name in its metadata
// ("sluice.section"), so a tool can tell the sections apart: strip the
// 16-byte frame headers and any Arrow IPC reader reads each stream. By
// convention the first section is a header (see SnapshotWriter.Header)
// naming the format, its version and the configuration of the operator
// that wrote it, so that Restore into a differently configured operator
// fails with a clear error before any state is touched.
//
// A reader knows which sections to expect, in order; a missing, reordered,
// truncated or bit-flipped section is an error, never a panic and never
// an allocation beyond the bytes actually present.

const (
	frameMagic      = "SLK1"
	frameHeaderSize = 16
	// maxSectionBytes bounds the length a frame may declare.
	maxSectionBytes = 1 << 40
	// sectionMetaKey is the schema metadata key holding a section's name.
	sectionMetaKey = "sluice.section"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotBatchRows bounds the rows of one record batch in a snapshot
// section, so no single Arrow array grows past what its offsets can hold.
const SnapshotBatchRows = 1 << 16

// SnapshotWriter writes a snapshot: framed Arrow IPC streams, one per
// section. Sections are buffered in memory until End, which writes the
// frame. It is not safe for concurrent use.
type SnapshotWriter struct {
	w      io.Writer
	mem    memory.Allocator
	buf    bytes.Buffer
	iw     *ipc.Writer
	name   string
	schema *arrow.Schema
	bytes  int64
}

// NewSnapshotWriter returns a writer of sections to w, building Arrow
// data with mem.
func NewSnapshotWriter(w io.Writer, mem memory.Allocator) *SnapshotWriter {
	return &SnapshotWriter{w: w, mem: mem}
}

// Mem is the allocator the writer builds Arrow data with.
func (sw *SnapshotWriter) Mem() memory.Allocator { return sw.mem }

// Bytes is the number of bytes written to the underlying writer so far.
func (sw *SnapshotWriter) Bytes() int64 { return sw.bytes }

// Begin starts section name whose record batches have the given schema.
func (sw *SnapshotWriter) Begin(name string, schema *arrow.Schema) error {
	if sw.iw != nil {
		return fmt.Errorf("snapshot: section %q begun before section %q ended", name, sw.name)
	}
	md := arrow.NewMetadata([]string{sectionMetaKey}, []string{name})
	sw.schema = arrow.NewSchema(schema.Fields(), &md)
	sw.name = name
	sw.buf.Reset()
	sw.iw = ipc.NewWriter(&sw.buf, ipc.WithSchema(sw.schema), ipc.WithAllocator(sw.mem))
	return nil
}

// Write appends a record batch to the open section. Its fields must be
// those given to Begin.
func (sw *SnapshotWriter) Write(rec arrow.RecordBatch) error {
	if sw.iw == nil {
		return errors.New("snapshot: Write outside a section")
	}
	if !rec.Schema().Equal(sw.schema) {
		return fmt.Errorf("snapshot: section %q: record schema %s, want %s", sw.name, rec.Schema(), sw.schema)
	}
	if err := sw.iw.Write(rec); err != nil {
		return fmt.Errorf("snapshot: section %q: %w", sw.name, err)
	}
	return nil
}

// End finishes the open section and writes its frame.
func (sw *SnapshotWriter) End() error {
	if sw.iw == nil {
		return errors.New("snapshot: End outside a section")
	}
	err := sw.iw.Close()
	sw.iw = nil
	if err != nil {
		return fmt.Errorf("snapshot: section %q: %w", sw.name, err)
	}
	payload := sw.buf.Bytes()
	var hdr [frameHeaderSize]byte
	copy(hdr[:4], frameMagic)
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(payload, castagnoli))
	binary.LittleEndian.PutUint64(hdr[8:], uint64(len(payload)))
	if _, err := sw.w.Write(hdr[:]); err != nil {
		return fmt.Errorf("snapshot: writing section %q: %w", sw.name, err)
	}
	if _, err := sw.w.Write(payload); err != nil {
		return fmt.Errorf("snapshot: writing section %q: %w", sw.name, err)
	}
	sw.bytes += int64(len(hdr) + len(payload))
	if sw.buf.Cap() > 64<<20 {
		sw.buf = bytes.Buffer{} // do not pin a large buffer
	}
	return nil
}

// Close abandons an open section (after an error). It is idempotent.
func (sw *SnapshotWriter) Close() {
	if sw.iw != nil {
		_ = sw.iw.Close()
		sw.iw = nil
	}
	sw.buf = bytes.Buffer{}
}

// Section writes a whole section: Begin, Write of each record, End.
func (sw *SnapshotWriter) Section(name string, schema *arrow.Schema, recs ...arrow.RecordBatch) error {
	if err := sw.Begin(name, schema); err != nil {
		return err
	}
	for _, rec := range recs {
		if err := sw.Write(rec); err != nil {
			return err
		}
	}
	return sw.End()
}

// headerSchema is the schema of the header section; it never changes, so
// any build can read any snapshot's header.
var headerSchema = arrow.NewSchema([]arrow.Field{
	{Name: "format", Type: arrow.BinaryTypes.String},
	{Name: "version", Type: arrow.PrimitiveTypes.Uint32},
	{Name: "config", Type: arrow.BinaryTypes.String},
}, nil)

// Header writes the header section: the snapshot's format name, its
// version and a fingerprint of the writer's configuration.
func (sw *SnapshotWriter) Header(format string, version uint32, config string) error {
	b := array.NewRecordBuilder(sw.mem, headerSchema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append(format)
	b.Field(1).(*array.Uint32Builder).Append(version)
	b.Field(2).(*array.StringBuilder).Append(config)
	rec := b.NewRecordBatch()
	defer rec.Release()
	return sw.Section("header", headerSchema, rec)
}

// scalarSchema returns a schema of one int64 column per name.
func scalarSchema(names []string) *arrow.Schema {
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Int64}
	}
	return arrow.NewSchema(fields, nil)
}

// Scalars writes section name as one row of int64 columns: an
// operator's counters, watermarks and flags.
func (sw *SnapshotWriter) Scalars(name string, names []string, vals []int64) error {
	if len(names) != len(vals) {
		return fmt.Errorf("snapshot: section %q: %d names for %d values", name, len(names), len(vals))
	}
	schema := scalarSchema(names)
	b := array.NewRecordBuilder(sw.mem, schema)
	defer b.Release()
	for i, v := range vals {
		b.Field(i).(*array.Int64Builder).Append(v)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return sw.Section(name, schema, rec)
}

// SnapshotReader reads the sections a SnapshotWriter wrote, in order.
type SnapshotReader struct {
	r   io.Reader
	mem memory.Allocator
	buf bytes.Buffer
}

// NewSnapshotReader returns a reader of sections from r, allocating Arrow
// data with mem.
func NewSnapshotReader(r io.Reader, mem memory.Allocator) *SnapshotReader {
	return &SnapshotReader{r: r, mem: mem}
}

// ExpectEnd checks that the snapshot ends after the sections read: a
// snapshot is the whole of its file, so bytes after its last section are
// damage (a file written twice, or appended to).
func (sr *SnapshotReader) ExpectEnd() error {
	var extra [1]byte
	n, err := io.ReadFull(sr.r, extra[:])
	switch {
	case n > 0:
		return corrupt("bytes after the last section")
	case err != io.EOF:
		return fmt.Errorf("snapshot: reading past the last section: %w", err)
	}
	return nil
}

// ErrCorrupt is wrapped by every error reporting a damaged snapshot
// (truncated, checksum mismatch, bad framing, unexpected layout).
var ErrCorrupt = errors.New("corrupt snapshot")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("snapshot: %s: %w", fmt.Sprintf(format, args...), ErrCorrupt)
}

// readFrame reads and verifies the next frame into sr.buf.
func (sr *SnapshotReader) readFrame(name string) error {
	var hdr [frameHeaderSize]byte
	if _, err := io.ReadFull(sr.r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return corrupt("section %q: truncated (%v)", name, err)
		}
		return fmt.Errorf("snapshot: reading section %q: %w", name, err)
	}
	if string(hdr[:4]) != frameMagic {
		return corrupt("section %q: bad frame magic %q (not a Sluice snapshot, or damaged)", name, hdr[:4])
	}
	sum := binary.LittleEndian.Uint32(hdr[4:])
	n := binary.LittleEndian.Uint64(hdr[8:])
	if n > maxSectionBytes {
		return corrupt("section %q: declared length %d is too large", name, n)
	}
	sr.buf.Reset()
	sr.buf.Grow(int(min(n, 64<<20))) // past that, grows with the data actually read
	got, err := io.CopyN(&sr.buf, sr.r, int64(n))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return corrupt("section %q: truncated after %d of %d bytes", name, got, n)
		}
		return fmt.Errorf("snapshot: reading section %q: %w", name, err)
	}
	if c := crc32.Checksum(sr.buf.Bytes(), castagnoli); c != sum {
		return corrupt("section %q: checksum mismatch (%08x, want %08x)", name, c, sum)
	}
	return nil
}

// Section reads the next section, which must be called name and have
// the field types of schema (names are informational), and calls fn with
// each record batch. The record is released after fn returns; fn must
// Retain it to keep it.
func (sr *SnapshotReader) Section(name string, schema *arrow.Schema, fn func(arrow.RecordBatch) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corrupt("section %q: %v", name, r)
		}
	}()
	if err := sr.readFrame(name); err != nil {
		return err
	}
	n := int64(sr.buf.Len())
	mr := ipc.NewMessageReader(bytes.NewReader(sr.buf.Bytes()), ipc.WithAllocator(sr.mem),
		ipc.WithBodySizeLimit(n), ipc.WithMetadataSizeLimit(n))
	rd, err := ipc.NewReaderFromMessageReader(mr, ipc.WithAllocator(sr.mem))
	if err != nil {
		mr.Release()
		return corrupt("section %q: %v", name, err)
	}
	defer rd.Release()
	got := rd.Schema()
	md := got.Metadata()
	if i := md.FindKey(sectionMetaKey); i < 0 || md.Values()[i] != name {
		found := "an unnamed section"
		if i >= 0 {
			found = fmt.Sprintf("section %q", md.Values()[i])
		}
		return corrupt("found %s where section %q was expected", found, name)
	}
	if !sameTypes(got, schema) {
		return fmt.Errorf("snapshot: section %q has columns %s, want %s (written by an incompatible build or configuration): %w",
			name, fieldTypes(got), fieldTypes(schema), ErrCorrupt)
	}
	for rd.Next() {
		if err := fn(rd.RecordBatch()); err != nil {
			return fmt.Errorf("snapshot: section %q: %w", name, err)
		}
	}
	if err := rd.Err(); err != nil {
		return corrupt("section %q: %v", name, err)
	}
	return nil
}

// sameTypes reports whether a and b have the same field types in order.
func sameTypes(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.Fields() {
		if !arrow.TypeEqual(a.Field(i).Type, b.Field(i).Type) {
			return false
		}
	}
	return true
}

func fieldTypes(s *arrow.Schema) string {
	var b bytes.Buffer
	b.WriteByte('(')
	for i, f := range s.Fields() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Type.String())
	}
	b.WriteByte(')')
	return b.String()
}

// Header reads the header section and checks it names format at version
// with the configuration fingerprint config.
func (sr *SnapshotReader) Header(format string, version uint32, config string) error {
	var gotFormat, gotConfig string
	var gotVersion uint32
	rows := 0
	err := sr.Section("header", headerSchema, func(rec arrow.RecordBatch) error {
		for i := 0; i < int(rec.NumRows()); i++ {
			rows++
			gotFormat = rec.Column(0).(*array.String).Value(i)
			gotVersion = rec.Column(1).(*array.Uint32).Value(i)
			gotConfig = rec.Column(2).(*array.String).Value(i)
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch {
	case rows != 1:
		return corrupt("header has %d rows", rows)
	case gotFormat != format:
		return fmt.Errorf("snapshot: is a %q snapshot, want %q", gotFormat, format)
	case gotVersion != version:
		return fmt.Errorf("snapshot: %s format version %d, this build reads version %d: %w", format, gotVersion, version, operators.ErrStateMismatch)
	case gotConfig != config:
		return fmt.Errorf("snapshot: %s was taken by a differently configured operator:\n  snapshot: %s\n  operator: %s: %w", format, gotConfig, config, operators.ErrStateMismatch)
	}
	return nil
}

// Scalars reads a section Scalars wrote with the same names.
func (sr *SnapshotReader) Scalars(name string, names []string) ([]int64, error) {
	vals := make([]int64, len(names))
	rows := 0
	err := sr.Section(name, scalarSchema(names), func(rec arrow.RecordBatch) error {
		for i := 0; i < int(rec.NumRows()); i++ {
			rows++
			for c := range vals {
				vals[c] = rec.Column(c).(*array.Int64).Value(i)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rows != 1 {
		return nil, corrupt("section %q has %d rows, want 1", name, rows)
	}
	return vals, nil
}
