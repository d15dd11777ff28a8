package optest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/types"
)

// TestOnlyImportedByTests checks no production package of the module
// imports optest (go list's Imports leave out test files).
func TestOnlyImportedByTests(t *testing.T) {
	const module, self = "github.com/sluicedb/sluice", "github.com/sluicedb/sluice/internal/optest"
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command(gobin, "list", "-e", "-f", `{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 10 {
		t.Fatalf("go list listed only %d packages", len(lines))
	}
	for _, line := range lines {
		pkg, imports, _ := strings.Cut(line, ":")
		if slices.Contains(strings.Fields(imports), self) {
			t.Errorf("%s imports the test kit %s", pkg, self)
		}
	}
}

// errRecorder is a testing.TB that records Errorf calls.
type errRecorder struct {
	testing.TB
	errs []string
}

func (e *errRecorder) Errorf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

func (e *errRecorder) Helper() {}

var kvCols = []types.Column{{Name: "k", Type: types.BigIntType}, {Name: "ts", Type: types.TimestampType(6)}}

// pushRows sends one chunk of rows with ops to c.
func pushRows(t *testing.T, c operators.Output, schema *arrow.Schema, ops []operators.Op, rows ...[]types.Datum) {
	t.Helper()
	mem := CheckedMem(t)
	if err := Feed(mem, c, schema, rows, ops, len(rows)); err != nil {
		t.Fatal(err)
	}
}

// TestCollectorReportsBrokenContract sends a collector each kind of
// message the operator contract forbids, and a well-formed stream: each
// breach is reported, the well-formed stream is not.
func TestCollectorReportsBrokenContract(t *testing.T) {
	schema := types.Schema(kvCols).Arrow()
	other := types.Schema([]types.Column{{Name: "x", Type: types.BigIntType}}).Arrow()
	r := func(k, ts int64) []types.Datum { return Row(BigInt(k), Timestamp(ts)) }
	cases := []struct {
		name string
		send func(t *testing.T, c *Collector)
		want string
	}{
		{"well formed", func(t *testing.T, c *Collector) {
			pushRows(t, c, schema, nil, r(1, 5))
			pushRows(t, c, schema, []operators.Op{operators.UpdateBefore, operators.UpdateAfter, operators.Delete}, r(1, 5), r(1, 6), r(1, 6))
			c.Push(operators.Watermark{Column: 1, Time: 7})
			c.Push(operators.Barrier{Epoch: 1})
			pushRows(t, c, schema, []operators.Op{operators.Insert}, r(2, 7))
			c.Push(operators.Watermark{Column: 0, Time: -10}) // a first watermark below 0
			pushRows(t, c, schema, nil, r(-3, 8))
			c.Push(operators.Barrier{Epoch: 3})
		}, ""},
		{"schema", func(t *testing.T, c *Collector) { pushRows(t, c, other, nil, Row(BigInt(1))) }, "chunk schema"},
		{"empty chunk", func(t *testing.T, c *Collector) {
			rec := BuildRecord(CheckedMem(t), schema, nil)
			defer rec.Release()
			c.Push(&operators.Chunk{Rec: rec})
		}, "chunk of 0 rows"},
		{"large chunk", func(t *testing.T, c *Collector) { pushRows(t, c, schema, nil, r(1, 1), r(2, 2), r(3, 3), r(4, 4)) }, "chunk of 4 rows"},
		{"lone before", func(t *testing.T, c *Collector) {
			pushRows(t, c, schema, nil, r(1, 1))
			pushRows(t, c, schema, []operators.Op{operators.UpdateBefore, operators.Insert}, r(1, 1), r(1, 2))
		}, "not followed by UpdateAfter"},
		{"lone after", func(t *testing.T, c *Collector) {
			pushRows(t, c, schema, []operators.Op{operators.Insert, operators.UpdateAfter}, r(1, 1), r(1, 2))
		}, "not preceded by UpdateBefore"},
		{"epoch", func(t *testing.T, c *Collector) {
			c.Push(operators.Barrier{Epoch: 2})
			c.Push(operators.Barrier{Epoch: 2})
		}, "barrier epoch 2 after 2"},
		{"watermark back", func(t *testing.T, c *Collector) {
			c.Push(operators.Watermark{Column: 1, Time: 9})
			c.Push(operators.Watermark{Column: 1, Time: 8})
		}, "went back"},
		{"row below watermark", func(t *testing.T, c *Collector) {
			c.Push(operators.Watermark{Column: 1, Time: 9})
			pushRows(t, c, schema, nil, r(1, 8))
		}, "below the watermark 9"},
		{"retraction never emitted", func(t *testing.T, c *Collector) {
			pushRows(t, c, schema, nil, r(1, 1))
			pushRows(t, c, schema, []operators.Op{operators.Delete, operators.Delete}, r(1, 1), r(1, 1))
		}, "retraction of 1,1970-01-01 00:00:00.000001"},
		{"message", func(t *testing.T, c *Collector) { c.Push(nil) }, "unexpected message"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &errRecorder{TB: t}
			c := NewCollector(rec, schema, ColumnTypes(kvCols))
			c.MaxChunkRows = 3
			c.Net = Fold{}
			tc.send(t, c)
			got := strings.Join(rec.errs, "; ")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("reported %q, want %q", got, tc.want)
			}
			if tc.want != "" && len(rec.errs) != 1 {
				t.Errorf("%d reports: %q", len(rec.errs), rec.errs)
			}
		})
	}
}

func TestCollectorEpochsAndLines(t *testing.T) {
	schema := types.Schema(kvCols).Arrow()
	c := NewCollector(t, schema, ColumnTypes(kvCols))
	c.Format = FormatRowMicros
	c.Net = Fold{}
	h := &Harness{T: t, Mem: CheckedMem(t), Input: c, InSchema: schema, Out: c, Batch: 2}
	h.Push(operators.Insert, Row(BigInt(1), Timestamp(10)), Row(BigInt(2), Timestamp(20)), Row(BigInt(2), Timestamp(20)))
	if got := h.Pending(); fmt.Sprint(got) != "[+ 1,10 + 2,20 + 2,20]" {
		t.Errorf("pending %q", got)
	}
	h.Expect("+ 2,20", "+ 1,10", "+ 2,20")
	h.PushOps([]operators.Op{operators.UpdateBefore, operators.UpdateAfter, operators.Delete},
		Row(BigInt(1), Timestamp(10)), Row(BigInt(1), Timestamp(11)), Row(BigInt(2), Timestamp(20)))
	h.Run(Step{Watermark: &operators.Watermark{Column: 1, Time: 5}}, Step{Epoch: 7, Now: 99})
	if got := ChangeLines(c.LastEpoch(), c.Format); fmt.Sprint(got) != "[- 2,20 1,10 -> 1,11]" {
		t.Errorf("changes %q", got)
	}
	unpaired := []OutRow{{Op: operators.UpdateBefore, Vals: Row(BigInt(3))}, {Op: operators.Insert, Vals: Row(BigInt(4))}}
	if got := ChangeLines(unpaired, nil); fmt.Sprint(got) != "[+ 4 ? 3]" {
		t.Errorf("an UpdateBefore not followed by its UpdateAfter: %q", got)
	}
	if got := OpLines(c.LastEpoch(), nil); fmt.Sprint(got) != "[delete 2,1970-01-01 00:00:00.00002 update_after 1,1970-01-01 00:00:00.000011 update_before 1,1970-01-01 00:00:00.00001]" {
		t.Errorf("op lines %q", got)
	}
	if got := c.Net.Lines(); fmt.Sprint(got) != "[1,11 2,20]" {
		t.Errorf("net %q", got)
	}
	if len(c.All()) != 6 || h.Epoch != 7 || len(c.Watermarks) != 1 || c.Chunks != 4 || c.MaxChunk != 2 {
		t.Errorf("%d rows, epoch %d, %d watermarks, %d chunks of up to %d rows", len(c.All()), h.Epoch, len(c.Watermarks), c.Chunks, c.MaxChunk)
	}
	if got := DiffLines([]string{"a", "b"}, []string{"a", "c"}); got != "line 1:\n got b\nwant c" {
		t.Errorf("DiffLines = %q", got)
	}
	if got := DiffLines([]string{"a"}, []string{"a", "c"}); got != "1 lines, want 2" {
		t.Errorf("DiffLines = %q", got)
	}
	if DiffLines(nil, []string{}) != "" {
		t.Error("DiffLines of two empty logs")
	}
}

func TestRecorderAndTranscript(t *testing.T) {
	schema := types.Schema(kvCols).Arrow()
	rec := &Recorder{T: t, Types: ColumnTypes(kvCols)}
	tr := &Transcript{Next: rec, Types: rec.Types, Format: FormatRowMicros, ChunkEnds: true}
	h := &Harness{T: t, Mem: CheckedMem(t), Input: tr, InSchema: schema}
	h.Run(Step{Rows: [][]types.Datum{Row(BigInt(2), Timestamp(1)), Row(BigInt(1), Null(types.TimestampType(6)))}, Batch: 1},
		Step{Watermark: &operators.Watermark{Column: 1, Time: 1}}, Step{Epoch: 1},
		Step{Rows: [][]types.Datum{Row(BigInt(3), Timestamp(2))}})
	if got, want := strings.Join(rec.Log, "; "), "insert 1,NULL; insert 2,1970-01-01 00:00:00.000001; watermark 1 1; barrier 1"; got != want {
		t.Errorf("recorded %q, want %q", got, want)
	}
	if got, want := strings.Join(tr.Lines, "; "), "insert 2,1; |; insert 1,NULL; |; barrier 1; insert 3,2; |"; got != want {
		t.Errorf("transcript %q, want %q", got, want)
	}
}

func TestDamage(t *testing.T) {
	snap := []byte("0123456789abcdef")
	n, seen := 0, map[string]bool{}
	ForEachDamage(snap, func(what string, data []byte) {
		n++
		if bytes.Equal(data, snap) {
			t.Errorf("%s: not damaged", what)
		}
		seen[strings.Fields(what)[0]] = true
	})
	if want := 2*len(snap) + 500 + 50 + 1; n != want || len(seen) != 5 {
		t.Errorf("%d damaged copies of %d kinds, want %d of 5", n, len(seen), want)
	}
	bad := SomeDamaged(rand.New(rand.NewPCG(1, 1)), snap, 4, 10)
	for _, b := range bad {
		if bytes.Equal(b, snap) {
			t.Error("SomeDamaged returned the snapshot intact")
		}
	}
	if len(bad) < 10+len(snap)/5 {
		t.Errorf("%d damaged copies", len(bad))
	}
	w := &FailWriter{N: 3}
	if n, err := w.Write([]byte("ab")); n != 2 || err != nil {
		t.Errorf("first write: %d, %v", n, err)
	}
	if n, err := w.Write([]byte("cd")); n != 1 || err != ErrDiskFull {
		t.Errorf("second write: %d, %v", n, err)
	}
}

func TestChunkSteps(t *testing.T) {
	var rows [][]types.Datum
	var ops []operators.Op
	for i := range int64(300) {
		rows = append(rows, Row(BigInt(i)))
		ops = append(ops, []operators.Op{operators.Insert, operators.UpdateBefore, operators.UpdateAfter}[i%3])
	}
	for _, keep := range []bool{false, true} {
		steps := ChunkSteps(rand.New(rand.NewPCG(1, 2)), rows, ops, 4, keep)
		n, split := 0, 0
		for _, s := range steps {
			if len(s.Rows) == 0 || len(s.Rows) > 5 || len(s.Ops) != len(s.Rows) || s.IsBarrier() {
				t.Fatalf("keep=%v: step of %d rows, %d ops", keep, len(s.Rows), len(s.Ops))
			}
			if s.Rows[0][0].I != int64(n) {
				t.Fatalf("keep=%v: step starts at row %d, want %d", keep, s.Rows[0][0].I, n)
			}
			n += len(s.Rows)
			if s.Ops[0] == operators.UpdateAfter {
				split++
			}
		}
		if n != len(rows) || (keep && split > 0) || (!keep && split == 0) {
			t.Errorf("keep=%v: %d rows in steps, %d steps starting with an UpdateAfter", keep, n, split)
		}
	}
}
