package join

import (
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/internal/optest"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// TestAppendOnlyRetractionIsAnError checks a retraction arriving on an
// append-only side is an internal error naming the side, for every join
// kind, and that the chunk carrying it changes nothing: no output, no
// rows stored. The other side still takes retractions.
func TestAppendOnlyRetractionIsAnError(t *testing.T) {
	ev := func(user, item, ts int64) row {
		return row{types.NewBigInt(user), types.NewBigInt(item), types.NewTimestamp(ts)}
	}
	for _, kind := range []Kind{Inner, StreamingLeftOuter, LeftOuter} {
		for in, name := range []string{"left", "right"} {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			c := newCollector(t, append(slices.Clone(evTypes), evTypes...))
			out := func() int { return len(c.All()) }
			var ao [2]bool
			ao[in] = true
			j := NewWithOptions(mem, kind, evTypes, evTypes, []int{0}, []int{0}, nil, c.Schema, Options{AppendOnly: ao}, c)
			ports := [2]operators.Output{j.Left(), j.Right()}
			if err := optest.Feed(mem, ports[1-in], evSchema, []row{ev(1, 1, 10), ev(2, 2, 20)}, nil, 0); err != nil {
				t.Fatal(err)
			}
			if err := optest.Feed(mem, ports[in], evSchema, []row{ev(1, 3, 10)}, nil, 0); err != nil {
				t.Fatal(err)
			}
			rows, before := j.StateRows(), out()
			err := optest.Feed(mem, ports[in], evSchema, []row{ev(2, 4, 20), ev(1, 3, 10)},
				[]operators.Op{operators.Insert, operators.UpdateBefore}, 0)
			e, ok := sqlerr.As(err)
			if !ok || e.Code != sqlerr.InternalError || !strings.Contains(e.Msg, name+" input is append-only") || !strings.Contains(e.Msg, "(1, 3, ") {
				t.Fatalf("kind %d, %s side: error %v", kind, name, err)
			}
			if j.StateRows() != rows || out() != before {
				t.Fatalf("kind %d, %s side: the failed chunk stored %d rows and emitted %d", kind, name, j.StateRows()-rows, out()-before)
			}
			// The other side is not append-only: its retraction is applied.
			if err := optest.Feed(mem, ports[1-in], evSchema, []row{ev(2, 2, 20)}, []operators.Op{operators.Delete}, 0); err != nil {
				t.Fatalf("kind %d, %s side: retraction on the other side: %v", kind, name, err)
			}
			if j.StateRows() != rows-1 {
				t.Fatalf("kind %d, %s side: %d rows after the other side's retraction, want %d", kind, name, j.StateRows(), rows-1)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			mem.AssertSize(t, 0)
		}
	}
}
