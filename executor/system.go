package executor

import (
	"math"
	"sync/atomic"

	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/types"
)

// systemTable is a read-only relation computed on demand from the
// engine's state.
type systemTable struct {
	rel  *planner.Relation
	rows func(e *Engine) [][]types.Datum
}

// systemTables are the engine's system tables, by name. Their IDs are
// above every object ID so they never collide.
var systemTables = map[string]*systemTable{
	"sluice_late_rows": {
		rel: &planner.Relation{ID: math.MaxUint64 - 1, Name: "sluice_late_rows", Kind: planner.SystemRelation,
			Schema: types.Schema{
				{Name: "name", Type: types.TextType},
				{Name: "late_rows", Type: types.BigIntType},
				{Name: "watermark", Type: types.TimestampType(6), Nullable: true},
			},
			Definition: "rows dropped as late by each table with a WATERMARK, and its current watermark"},
		rows: func(e *Engine) [][]types.Datum {
			var out [][]types.Datum
			for _, o := range e.cat.list(planner.TableRelation) {
				if o.rel.Watermark == nil {
					continue
				}
				wm := types.NewNull(types.TimestampType(6))
				if w := o.wm.current.Load(); w != math.MinInt64 {
					wm = types.NewTimestamp(w)
				}
				out = append(out, []types.Datum{types.NewText(o.rel.Name), types.NewBigInt(o.wm.late.Load()), wm})
			}
			return out
		},
	},
}

func init() {
	ts := types.TimestampType(6)
	systemTables["sluice_views"] = &systemTable{
		rel: &planner.Relation{ID: math.MaxUint64 - 6, Name: "sluice_views", Kind: planner.SystemRelation,
			Schema: types.Schema{
				{Name: "name", Type: types.TextType}, {Name: "kind", Type: types.TextType},
				{Name: "row_count", Type: types.BigIntType}, {Name: "changes", Type: types.BigIntType},
				{Name: "last_change", Type: ts, Nullable: true}, {Name: "committed_epoch", Type: types.BigIntType},
				{Name: "error", Type: types.TextType, Nullable: true},
			},
			Definition: "every table and materialized view: its rows, committed changes, and when an epoch last changed it"},
		rows: func(e *Engine) [][]types.Datum {
			var out [][]types.Datum
			epoch := types.NewBigInt(int64(e.committed.Load()))
			for _, o := range e.cat.all() {
				if o.store == nil {
					continue
				}
				last := types.NewNull(ts)
				if t := o.lastChange.Load(); t != 0 {
					last = types.NewTimestamp(t)
				}
				errText := types.NewNull(types.TextType)
				if o.failed != nil {
					errText = types.NewText(o.failed.Error())
				}
				out = append(out, []types.Datum{types.NewText(o.rel.Name), types.NewText(o.rel.Kind.String()),
					types.NewBigInt(o.store.Len()), types.NewBigInt(o.rowsChanged.Load()), last, epoch, errText})
			}
			return out
		},
	}
}

func systemByID(id uint64) *systemTable {
	for _, s := range systemTables {
		if s.rel.ID == id {
			return s
		}
	}
	return nil
}

// watermarkState is a table's event-time progress.
type watermarkState struct {
	maxSeen int64        // largest event time seen; under the table's dmlMu
	current atomic.Int64 // the watermark: maxSeen - delay
	late    atomic.Int64 // rows dropped as late
}
