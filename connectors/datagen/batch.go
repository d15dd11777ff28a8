package datagen

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/types"
)

// Field identifies one of the event's fields a column is filled from.
type Field uint8

// The event fields, by the column names that select them.
const (
	FieldUserID    Field = iota // user_id: INT or BIGINT
	FieldItemID                 // item_id: INT or BIGINT
	FieldTS                     // ts: TIMESTAMP(p)
	FieldSessionID              // session_id: BIGINT
	FieldEvent                  // event: VARCHAR/TEXT ('view', 'cart', 'purchase')
)

// FieldNames are the column names of the fields, in Field order.
var FieldNames = [...]string{"user_id", "item_id", "ts", "session_id", "event"}

// Schema is the full event schema: every field, in Field order, with
// microsecond timestamps.
func Schema() types.Schema {
	return types.Schema{
		{Name: "user_id", Type: types.BigIntType},
		{Name: "item_id", Type: types.BigIntType},
		{Name: "ts", Type: types.TimestampType(6)},
		{Name: "session_id", Type: types.BigIntType},
		{Name: "event", Type: types.TextType},
	}
}

// chunk is how many events are generated at a time before their columns
// are appended.
const chunk = 1024

// column is one output column and where its values come from.
type column struct {
	field Field
	i32   *array.Int32Builder // INT id columns
	i64   *array.Int64Builder // BIGINT id columns
	ts    *array.TimestampBuilder
	str   *array.StringBuilder
	unit  int64 // ts truncation, µs (1 for TIMESTAMP(6))
}

// BatchBuilder fills Arrow record batches of a schema with generated
// events. Columns are matched to event fields by name (case-insensitive);
// a column with any other name, or of a type the field cannot fill, is an
// error. A TIMESTAMP(p) column with p < 6 gets ts truncated to that
// precision. Not safe for concurrent use.
type BatchBuilder struct {
	g    *Generator
	rb   *array.RecordBuilder
	cols []column
	n    int // rows pending

	ev   [chunk]Event
	i32s [chunk]int32
	i64s [chunk]int64
	tss  [chunk]arrow.Timestamp
	strs [chunk]string
}

// NewBatchBuilder returns a builder for schema drawing events from g;
// batches are allocated from alloc. Release it when done.
func NewBatchBuilder(g *Generator, schema types.Schema, alloc memory.Allocator) (*BatchBuilder, error) {
	cols, err := resolveColumns(schema)
	if err != nil {
		return nil, err
	}
	b := &BatchBuilder{g: g, cols: cols, rb: array.NewRecordBuilder(alloc, schema.Arrow())}
	for i := range cols {
		switch fb := b.rb.Field(i).(type) {
		case *array.Int32Builder:
			cols[i].i32 = fb
		case *array.Int64Builder:
			cols[i].i64 = fb
		case *array.TimestampBuilder:
			cols[i].ts = fb
		case *array.StringBuilder:
			cols[i].str = fb
		default:
			b.rb.Release()
			return nil, fmt.Errorf("datagen: column %s: unexpected Arrow builder %T", schema[i].Name, fb)
		}
	}
	return b, nil
}

// resolveColumns matches schema's columns to event fields.
func resolveColumns(schema types.Schema) ([]column, error) {
	if len(schema) == 0 {
		return nil, fmt.Errorf("datagen: the source has no columns (want some of %s)", strings.Join(FieldNames[:], ", "))
	}
	cols := make([]column, len(schema))
	for i, c := range schema {
		f := -1
		for j, n := range FieldNames {
			if strings.EqualFold(c.Name, n) {
				f = j
			}
		}
		if f < 0 {
			return nil, fmt.Errorf("datagen: unknown column %q (the generator fills %s)", c.Name, strings.Join(FieldNames[:], ", "))
		}
		cols[i].field = Field(f)
		ok := false
		switch Field(f) {
		case FieldUserID, FieldItemID:
			ok = c.Type.Kind == types.Int || c.Type.Kind == types.BigInt
		case FieldSessionID:
			ok = c.Type.Kind == types.BigInt
		case FieldTS:
			ok = c.Type.Kind == types.Timestamp
			if ok {
				cols[i].unit = 1
				for p := c.Type.Precision; p < 6 && p >= 0; p++ {
					cols[i].unit *= 10
				}
			}
		case FieldEvent:
			ok = c.Type.Kind == types.Varchar
		}
		if !ok {
			return nil, fmt.Errorf("datagen: column %s cannot be %s", c.Name, c.Type)
		}
	}
	return cols, nil
}

// CheckSchema reports whether the generator can fill schema: every column
// must be one of FieldNames, of a type that holds the field.
func CheckSchema(schema types.Schema) error {
	_, err := resolveColumns(schema)
	return err
}

// Generator returns the builder's generator.
func (b *BatchBuilder) Generator() *Generator { return b.g }

// Len returns the number of rows appended since the last NewRecordBatch.
func (b *BatchBuilder) Len() int { return b.n }

// Append generates n events and appends them as rows.
func (b *BatchBuilder) Append(n int) {
	for n > 0 {
		k := min(n, chunk)
		for i := range k {
			b.g.Next(&b.ev[i])
		}
		b.appendRows(k)
		n -= k
	}
}

// AppendUntil appends the events that arrive before limit (µs since the
// epoch), at most max of them, and returns how many it appended.
func (b *BatchBuilder) AppendUntil(limit int64, max int) int {
	total := 0
	for total < max {
		k := 0
		for k < chunk && total+k < max && b.g.NextArrival() < limit {
			b.g.Next(&b.ev[k])
			k++
		}
		if k == 0 {
			break
		}
		b.appendRows(k)
		total += k
	}
	return total
}

// appendRows appends b.ev[:k], column by column.
func (b *BatchBuilder) appendRows(k int) {
	ev := b.ev[:k]
	for c := range b.cols {
		col := &b.cols[c]
		switch {
		case col.str != nil:
			s := b.strs[:k]
			for i := range ev {
				s[i] = kindNames[ev[i].Kind]
			}
			col.str.AppendValues(s, nil)
		case col.ts != nil:
			t := b.tss[:k]
			if u := col.unit; u > 1 {
				for i := range ev {
					t[i] = arrow.Timestamp(floorTo(ev[i].TS, u))
				}
			} else {
				for i := range ev {
					t[i] = arrow.Timestamp(ev[i].TS)
				}
			}
			col.ts.AppendValues(t, nil)
		case col.i64 != nil:
			v := b.i64s[:k]
			switch col.field {
			case FieldUserID:
				for i := range ev {
					v[i] = ev[i].UserID
				}
			case FieldItemID:
				for i := range ev {
					v[i] = ev[i].ItemID
				}
			default:
				for i := range ev {
					v[i] = ev[i].SessionID
				}
			}
			col.i64.AppendValues(v, nil)
		case col.i32 != nil:
			// Ids fit: Users <= MaxUsers and Items <= MaxItems.
			v := b.i32s[:k]
			if col.field == FieldUserID {
				for i := range ev {
					v[i] = int32(ev[i].UserID)
				}
			} else {
				for i := range ev {
					v[i] = int32(ev[i].ItemID)
				}
			}
			col.i32.AppendValues(v, nil)
		}
	}
	b.n += k
}

// floorTo rounds us down to a multiple of unit.
func floorTo(us, unit int64) int64 {
	r := us % unit
	if r < 0 {
		r += unit
	}
	return us - r
}

// NewRecordBatch returns the rows appended so far as a batch (possibly
// empty) and starts a new one. The caller owns (and releases) the batch.
func (b *BatchBuilder) NewRecordBatch() arrow.RecordBatch {
	b.n = 0
	return b.rb.NewRecordBatch()
}

// Release frees the builder's buffers.
func (b *BatchBuilder) Release() { b.rb.Release() }
