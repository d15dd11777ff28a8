// Package format decodes external events (JSON objects, CSV lines) into
// Arrow builders for a source's schema, and encodes a view's rows as JSON
// for sinks.
//
// Decoding is the hot path of every source: the decoders scan the event's
// bytes by hand (no reflection, no maps, no per-field allocation except the
// bytes of strings, which Arrow copies into its own buffers), fill one
// temporary row, and append it to the builders only when the whole event
// decoded, so a bad event never leaves a half-appended row behind.
package format

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/internal/pgtext"
	"github.com/sluicedb/sluice/types"
)

// MetaField says which message attribute fills a metadata column.
type MetaField uint8

// The metadata columns a source can fill from the message instead of its
// payload. A column is a metadata column when its name is one of _key,
// _partition, _offset or _timestamp (case-insensitive).
const (
	MetaNone      MetaField = iota // a payload column
	MetaKey                        // _key: the message key (VARCHAR)
	MetaPartition                  // _partition: the partition (INT or BIGINT)
	MetaOffset                     // _offset: the offset (BIGINT)
	MetaTimestamp                  // _timestamp: the record timestamp (TIMESTAMP)
)

// Meta is a message's metadata, the values of the metadata columns.
type Meta struct {
	// Key is the message key; nil makes _key NULL.
	Key       []byte
	Partition int32
	Offset    int64
	// Timestamp is the record time in microseconds since the Unix epoch.
	Timestamp int64
}

// MetaFields classifies each column of schema and checks that metadata
// columns have a type that can hold their value.
func MetaFields(schema types.Schema) ([]MetaField, error) {
	out := make([]MetaField, len(schema))
	for i, c := range schema {
		var want string
		ok := true
		switch strings.ToLower(c.Name) {
		case "_key":
			out[i] = MetaKey
			ok, want = c.Type.Kind == types.Varchar, "VARCHAR"
		case "_partition":
			out[i] = MetaPartition
			ok, want = c.Type.IsInteger(), "INT or BIGINT"
		case "_offset":
			out[i] = MetaOffset
			ok, want = c.Type.Kind == types.BigInt, "BIGINT"
		case "_timestamp":
			out[i] = MetaTimestamp
			ok, want = c.Type.Kind == types.Timestamp, "TIMESTAMP"
		}
		if !ok {
			return nil, fmt.Errorf("metadata column %s must be %s, not %s", c.Name, want, c.Type)
		}
	}
	return out, nil
}

// Decoder decodes one event into a row of a Batch.
type Decoder interface {
	// Decode appends the row decoded from value (with meta filling the
	// metadata columns) to dst, or returns an error saying why the event
	// is bad and leaves dst unchanged. dst must be built for the schema
	// the decoder was made for. A nil meta makes metadata columns NULL.
	Decode(dst *Batch, value []byte, meta *Meta) error
}

// NewDecoder returns the decoder for a format name ("json" or "csv").
func NewDecoder(format string, schema types.Schema) (Decoder, error) {
	switch strings.ToLower(format) {
	case "json":
		return NewJSONDecoder(schema)
	case "csv":
		return NewCSVDecoder(schema)
	}
	return nil, fmt.Errorf("unknown format %q (known: csv, json)", format)
}

// checkSchema rejects column types a decoder cannot fill.
func checkSchema(schema types.Schema) error {
	for _, c := range schema {
		switch c.Type.Kind {
		case types.Boolean, types.Int, types.BigInt, types.Double, types.Decimal,
			types.Varchar, types.Timestamp, types.Date:
		default:
			return fmt.Errorf("column %s: type %s cannot be decoded from events", c.Name, c.Type)
		}
		if c.Type.Kind == types.Decimal && (c.Type.Precision < 1 || c.Type.Precision > types.MaxDecimalPrecision) {
			return fmt.Errorf("column %s: invalid DECIMAL precision %d", c.Name, c.Type.Precision)
		}
	}
	return nil
}

// slot state values.
const (
	slotNull  = 0 // missing or null
	slotValue = 1 // set
)

// slot holds one decoded value until the whole event has decoded.
type slot struct {
	state uint8
	exact bool // set from a field whose name matched exactly (JSON)
	i     int64
	f     float64
	dec   decimal128.Num
	s     []byte // VARCHAR bytes: a view of the event or of a scratch buffer
}

// column is one column's builder, held by its concrete type so that
// appending needs no interface call.
type column struct {
	kind types.Kind
	b    array.Builder
	bl   *array.BooleanBuilder
	i32  *array.Int32Builder
	i64  *array.Int64Builder
	f64  *array.Float64Builder
	dec  *array.Decimal128Builder
	str  *array.BinaryBuilder
	ts   *array.TimestampBuilder
	date *array.Date32Builder
}

// Batch accumulates decoded rows in Arrow builders for a schema.
type Batch struct {
	schema *arrow.Schema
	cols   []column
	n      int
}

// NewBatch returns an empty batch for schema allocating from mem. The
// caller must Release it.
func NewBatch(mem memory.Allocator, schema types.Schema) *Batch {
	b := &Batch{schema: schema.Arrow(), cols: make([]column, len(schema))}
	for i, c := range schema {
		bld := array.NewBuilder(mem, c.Type.Arrow())
		col := column{kind: c.Type.Kind, b: bld}
		switch x := bld.(type) {
		case *array.BooleanBuilder:
			col.bl = x
		case *array.Int32Builder:
			col.i32 = x
		case *array.Int64Builder:
			col.i64 = x
		case *array.Float64Builder:
			col.f64 = x
		case *array.Decimal128Builder:
			col.dec = x
		case *array.StringBuilder:
			col.str = x.BinaryBuilder
		case *array.TimestampBuilder:
			col.ts = x
		case *array.Date32Builder:
			col.date = x
		}
		b.cols[i] = col
	}
	return b
}

// Len is the number of rows appended since the last NewRecordBatch.
func (b *Batch) Len() int { return b.n }

// Reserve makes room for n more rows.
func (b *Batch) Reserve(n int) {
	for i := range b.cols {
		b.cols[i].b.Reserve(n)
	}
}

// NewRecordBatch hands over the rows appended so far as a record batch
// (the caller owns it) and leaves the batch empty.
func (b *Batch) NewRecordBatch() arrow.RecordBatch {
	arrs := make([]arrow.Array, len(b.cols))
	for i := range b.cols {
		arrs[i] = b.cols[i].b.NewArray()
	}
	rec := array.NewRecordBatch(b.schema, arrs, int64(b.n))
	for _, a := range arrs {
		a.Release()
	}
	b.n = 0
	return rec
}

// Release frees the builders.
func (b *Batch) Release() {
	for i := range b.cols {
		b.cols[i].b.Release()
	}
	b.cols = nil
}

// appendRow appends one fully decoded row.
func (b *Batch) appendRow(row []slot) {
	for i := range b.cols {
		c := &b.cols[i]
		s := &row[i]
		if s.state != slotValue {
			c.b.AppendNull()
			continue
		}
		switch c.kind {
		case types.Boolean:
			c.bl.Append(s.i != 0)
		case types.Int:
			c.i32.Append(int32(s.i))
		case types.BigInt:
			c.i64.Append(s.i)
		case types.Double:
			c.f64.Append(s.f)
		case types.Decimal:
			c.dec.Append(s.dec)
		case types.Varchar:
			c.str.Append(s.s)
		case types.Timestamp:
			c.ts.Append(arrow.Timestamp(s.i))
		case types.Date:
			c.date.Append(arrow.Date32(s.i))
		}
	}
	b.n++
}

// fillMeta sets the metadata slots of row from m.
func fillMeta(row []slot, fields []MetaField, cols types.Schema, m *Meta) error {
	for i, f := range fields {
		s := &row[i]
		switch f {
		case MetaNone:
			continue
		case MetaKey:
			if m.Key == nil {
				s.state = slotNull
				continue
			}
			if !utf8.Valid(m.Key) {
				return fmt.Errorf("column %s: message key is not valid UTF-8", cols[i].Name)
			}
			if err := checkWidth(m.Key, cols[i]); err != nil {
				return err
			}
			s.s = m.Key
		case MetaPartition:
			s.i = int64(m.Partition)
		case MetaOffset:
			s.i = m.Offset
		case MetaTimestamp:
			s.i = pgtext.RoundMicros(m.Timestamp, cols[i].Type.Precision)
		}
		s.state = slotValue
	}
	return nil
}

// checkWidth enforces a VARCHAR(n) length limit in characters.
func checkWidth(v []byte, c types.Column) error {
	w := int(c.Type.Width)
	if w > 0 && len(v) > w && utf8.RuneCount(v) > w {
		return fmt.Errorf("column %s: value too long for %s (%d characters)", c.Name, c.Type, utf8.RuneCount(v))
	}
	return nil
}

// quote shows a value in an error message, shortened.
func quote(v []byte) string {
	const max = 40
	if len(v) > max {
		return fmt.Sprintf("%q...", v[:max])
	}
	return fmt.Sprintf("%q", v)
}
