package datagen

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/types"
)

func TestBatchMatchesEvents(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	cfg := Config{Rate: 3000, Items: 300, MaxDelay: 2 * time.Second, Seed: 17}
	b, err := NewBatchBuilder(mustGen(t, cfg), Schema(), mem)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	want := events(mustGen(t, cfg), 5000)

	b.Append(3000) // more than one chunk
	if b.Len() != 3000 {
		t.Fatalf("Len %d after Append(3000)", b.Len())
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	if b.Len() != 0 {
		t.Fatalf("Len %d after NewRecordBatch", b.Len())
	}
	checkRows(t, rec, want[:3000])

	// AppendUntil stops at the limit, then at max.
	limit := want[4000].Arrival
	if n := b.AppendUntil(limit, 100000); n != 1000 {
		t.Fatalf("AppendUntil(arrival of event 4000) appended %d, want 1000", n)
	}
	if n := b.AppendUntil(limit+1e9, 700); n != 700 {
		t.Fatalf("AppendUntil(.., 700) appended %d", n)
	}
	rec2 := b.NewRecordBatch()
	defer rec2.Release()
	checkRows(t, rec2, want[3000:4700])

	empty := b.NewRecordBatch()
	defer empty.Release()
	if empty.NumRows() != 0 || empty.NumCols() != 5 {
		t.Fatalf("empty batch: %d rows, %d columns", empty.NumRows(), empty.NumCols())
	}
}

func checkRows(t *testing.T, rec arrow.RecordBatch, want []Event) {
	t.Helper()
	if int(rec.NumRows()) != len(want) {
		t.Fatalf("%d rows, want %d", rec.NumRows(), len(want))
	}
	user := rec.Column(0).(*array.Int64)
	item := rec.Column(1).(*array.Int64)
	ts := rec.Column(2).(*array.Timestamp)
	sess := rec.Column(3).(*array.Int64)
	kind := rec.Column(4).(*array.String)
	for i, e := range want {
		if user.Value(i) != e.UserID || item.Value(i) != e.ItemID || int64(ts.Value(i)) != e.TS ||
			sess.Value(i) != e.SessionID || kind.Value(i) != e.Kind.String() {
			t.Fatalf("row %d = (%d, %d, %d, %d, %s), want %+v", i, user.Value(i), item.Value(i), ts.Value(i),
				sess.Value(i), kind.Value(i), e)
		}
	}
}

func TestBatchSubsetTypesAndPrecision(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	schema := types.Schema{
		{Name: "TS", Type: types.TimestampType(3)},
		{Name: "item_id", Type: types.IntType},
		{Name: "user_id", Type: types.IntType},
	}
	cfg := Config{MaxDelay: time.Second, Seed: 4}
	b, err := NewBatchBuilder(mustGen(t, cfg), schema, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	want := events(mustGen(t, cfg), 2000)
	b.Append(2000)
	rec := b.NewRecordBatch()
	defer rec.Release()
	if !rec.Schema().Equal(schema.Arrow()) {
		t.Fatalf("schema %s, want %s", rec.Schema(), schema.Arrow())
	}
	ts := rec.Column(0).(*array.Timestamp)
	item := rec.Column(1).(*array.Int32)
	user := rec.Column(2).(*array.Int32)
	sub := 0
	for i, e := range want {
		if int64(ts.Value(i)) != e.TS-e.TS%1000 {
			t.Fatalf("row %d: ts %d, want %d truncated to ms", i, ts.Value(i), e.TS)
		}
		if e.TS%1000 != 0 {
			sub++
		}
		if int64(item.Value(i)) != e.ItemID || int64(user.Value(i)) != e.UserID {
			t.Fatalf("row %d: item %d user %d, want %d %d", i, item.Value(i), user.Value(i), e.ItemID, e.UserID)
		}
	}
	if sub == 0 {
		t.Fatal("no event had sub-millisecond digits to truncate")
	}
	if floorTo(-1500, 1000) != -2000 || floorTo(1500, 1000) != 1000 {
		t.Fatal("floorTo rounds towards minus infinity")
	}
}

func TestBatchSchemaErrors(t *testing.T) {
	g := mustGen(t, Config{})
	for name, tc := range map[string]struct {
		schema types.Schema
		msg    string
	}{
		"unknown column": {types.Schema{{Name: "user_id", Type: types.BigIntType}, {Name: "price", Type: types.DoubleType}}, `unknown column "price"`},
		"no columns":     {nil, "no columns"},
		"text user":      {types.Schema{{Name: "user_id", Type: types.TextType}}, "user_id cannot be TEXT"},
		"int session":    {types.Schema{{Name: "session_id", Type: types.IntType}}, "session_id cannot be INT"},
		"date ts":        {types.Schema{{Name: "ts", Type: types.DateType}}, "ts cannot be DATE"},
		"bigint event":   {types.Schema{{Name: "event", Type: types.BigIntType}}, "event cannot be BIGINT"},
	} {
		_, err := NewBatchBuilder(g, tc.schema, memory.NewGoAllocator())
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.msg)
		}
		if err2 := CheckSchema(tc.schema); (err2 == nil) != (err == nil) {
			t.Errorf("%s: CheckSchema disagrees: %v", name, err2)
		}
	}
}

func BenchmarkBatch(b *testing.B) {
	g := mustGen(b, Config{MaxDelay: time.Second})
	bb, err := NewBatchBuilder(g, Schema(), memory.NewGoAllocator())
	if err != nil {
		b.Fatal(err)
	}
	defer bb.Release()
	b.ResetTimer()
	for range b.N {
		bb.Append(MaxBatchRows)
		bb.NewRecordBatch().Release()
	}
	b.ReportMetric(float64(b.N)*MaxBatchRows/b.Elapsed().Seconds(), "events/s")
}
