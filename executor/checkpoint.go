package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicedb/sluice/connectors"
	"github.com/sluicedb/sluice/executor/wal"
	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/planner"
	"github.com/sluicedb/sluice/sqlerr"
	"github.com/sluicedb/sluice/types"
)

// A checkpoint is a directory checkpoints/<epoch>/ holding, for one
// consistent cut at a checkpoint barrier: every table's and view's
// committed rows (store-<id>.arrow), every view operator's state
// (op-<id>-<index>.arrow), and MANIFEST.json with the catalog (each
// object's DDL, in creation order), the log position, the sources'
// offsets and the watermarks. Files are written into a temporary
// directory, fsync'd, and the directory renamed into place, so a
// checkpoint is complete or absent. Recovery loads the newest checkpoint
// that reads back whole (falling back to the one before, with an error
// naming the bad file), then replays the log after its position.

const manifestName = "MANIFEST.json"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type manifest struct {
	Version   int          `json:"version"`
	Epoch     uint64       `json:"epoch"`
	LogLSN    uint64       `json:"log_lsn"`
	NextID    uint64       `json:"next_id"`
	TakenAt   time.Time    `json:"taken_at"`
	Objects   []manObject  `json:"objects"`
	Sinks     []string     `json:"sinks"` // CREATE SINK statements
	Files     []manFile    `json:"files"`
	Durations manDurations `json:"durations"`
}

type manObject struct {
	ID         uint64            `json:"id"`
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	DDL        string            `json:"ddl"`
	Store      string            `json:"store,omitempty"`
	Operators  map[string]string `json:"operators,omitempty"` // operator index -> file
	MaxSeen    int64             `json:"max_seen"`
	Watermark  int64             `json:"watermark"`
	Late       int64             `json:"late"`
	Offsets    []manOffset       `json:"offsets,omitempty"`
	Events     int64             `json:"events,omitempty"`
	BadEvents  int64             `json:"bad_events,omitempty"`
	RowChanges int64             `json:"row_changes"`
	// Plan is a view's continuous plan as the build that took the
	// checkpoint made it (viewPlanText): its operators' state is restored
	// only into the same plan.
	Plan string `json:"plan,omitempty"`
}

type manOffset struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

type manFile struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	CRC32 uint32 `json:"crc32c"`
}

type manDurations struct {
	SnapshotMS float64 `json:"snapshot_ms"`
	WriteMS    float64 `json:"write_ms"`
}

// checkpointCut gathers a checkpoint's contents during its epoch.
type checkpointCut struct {
	m       manifest
	byID    map[uint64]*manObject
	files   map[string][]byte
	started time.Time
	snapErr error
}

// checkpointStat is one row of sluice_checkpoints.
type checkpointStat struct {
	epoch    uint64
	at       time.Time
	duration time.Duration
	bytes    int64
	files    int
	err      string
}

type checkpointStats struct {
	mu   sync.Mutex
	rows []checkpointStat
}

func (s *checkpointStats) add(r checkpointStat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, r)
	if len(s.rows) > 100 {
		s.rows = s.rows[len(s.rows)-100:]
	}
}

// checkpointDue reports whether the checkpoint timer has asked for one.
func (e *Engine) checkpointDue() bool {
	return e.dur != nil && e.ckptWanted.Swap(false)
}

// Checkpoint ends the current epoch with a checkpoint and waits until it
// is written.
func (e *Engine) Checkpoint(ctx context.Context) error {
	if e.dur == nil {
		return sqlerr.New(sqlerr.Execution, sqlerr.FeatureNotSupported, "CHECKPOINT needs a data directory (sluice serve --data-dir)")
	}
	done := make(chan error, 1)
	select {
	case e.checkpointReq <- done:
	case <-e.stopCh:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// captureCut records the catalog, log position, offsets and watermarks.
// Called with coordMu and ingestMu held: nothing is being ingested.
func (e *Engine) captureCut(epoch uint64) *checkpointCut {
	c := &checkpointCut{byID: map[uint64]*manObject{}, files: map[string][]byte{}, started: time.Now()}
	c.m = manifest{Version: 1, Epoch: epoch, LogLSN: uint64(e.dur.log.LastLSN()), TakenAt: time.Now().UTC()}
	e.cat.mu.RLock()
	c.m.NextID = e.cat.nextID
	e.cat.mu.RUnlock()
	for _, o := range e.cat.all() {
		mo := manObject{ID: o.rel.ID, Name: o.rel.Name, Kind: o.rel.Kind.String(), DDL: o.rel.Definition,
			MaxSeen: o.wm.maxSeen, Watermark: o.wm.current.Load(), Late: o.wm.late.Load(), RowChanges: o.rowsChanged.Load()}
		if o.source != nil {
			for _, p := range o.source.conn.Progress() {
				mo.Offsets = append(mo.Offsets, manOffset{Partition: p.Partition, Offset: p.Offset})
			}
			mo.Events, mo.BadEvents = o.source.events.Load(), o.source.bad.Load()
		}
		if o.frag != nil {
			mo.Plan = o.frag.plan
		}
		c.m.Objects = append(c.m.Objects, mo)
	}
	for i := range c.m.Objects {
		c.byID[c.m.Objects[i].ID] = &c.m.Objects[i]
	}
	e.sinkMu.Lock()
	for _, r := range e.sinks {
		c.m.Sinks = append(c.m.Sinks, r.definition)
	}
	e.sinkMu.Unlock()
	sort.Strings(c.m.Sinks)
	return c
}

// addOperators keeps a view's operator snapshots from its report.
func (c *checkpointCut) addOperators(r epochReport) {
	mo := c.byID[r.view.rel.ID]
	if mo == nil {
		return
	}
	if r.err != nil && c.snapErr == nil {
		c.snapErr = fmt.Errorf("materialized view %q cannot be checkpointed: %w", r.view.rel.Name, r.err)
	}
	for i, b := range r.snapshots {
		if b == nil {
			continue
		}
		if mo.Operators == nil {
			mo.Operators = map[string]string{}
		}
		name := fmt.Sprintf("op-%d-%d.arrow", mo.ID, i)
		mo.Operators[strconv.Itoa(i)] = name
		c.files[name] = b
	}
}

// snapshotStores writes every store. Called under snapMu (write) right
// after the epoch's changes were applied.
func (c *checkpointCut) snapshotStores(e *Engine) {
	for _, o := range e.cat.all() {
		mo := c.byID[o.rel.ID]
		if mo == nil || o.store == nil {
			continue
		}
		var buf bytes.Buffer
		if err := o.store.SnapshotWith(e.mem, &buf); err != nil && c.snapErr == nil {
			c.snapErr = fmt.Errorf("checkpoint of %s %q: %w", o.rel.Kind, o.rel.Name, err)
		}
		mo.Store = fmt.Sprintf("store-%d.arrow", mo.ID)
		c.files[mo.Store] = buf.Bytes()
	}
}

// writeCheckpoint writes a cut's files and manifest atomically, removes
// old checkpoints and truncates the log they no longer need.
func (e *Engine) writeCheckpoint(c *checkpointCut) (err error) {
	stat := checkpointStat{epoch: c.m.Epoch, at: c.started}
	defer func() {
		stat.duration = time.Since(c.started)
		if err != nil {
			stat.err = err.Error()
		}
		e.ckptStats.add(stat)
	}()
	if c.snapErr != nil {
		return c.snapErr
	}
	snapDone := time.Now()
	root := filepath.Join(e.opts.DataDir, "checkpoints")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	final := filepath.Join(root, fmt.Sprintf("%020d", c.m.Epoch))
	tmp := final + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(c.files))
	for n := range c.files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := writeFileSync(filepath.Join(tmp, n), c.files[n], e.opts.NoSync); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("checkpoint %d: %w", c.m.Epoch, err)
		}
		c.m.Files = append(c.m.Files, manFile{Name: n, Bytes: int64(len(c.files[n])), CRC32: crc32.Checksum(c.files[n], castagnoli)})
		stat.bytes += int64(len(c.files[n]))
		stat.files++
	}
	c.m.Durations = manDurations{SnapshotMS: ms(snapDone.Sub(c.started)), WriteMS: ms(time.Since(snapDone))}
	man, err := json.MarshalIndent(&c.m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(tmp, manifestName), man, e.opts.NoSync); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("checkpoint %d: %w", c.m.Epoch, err)
	}
	stat.bytes += int64(len(man))
	if err := syncDir(tmp, e.opts.NoSync); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("checkpoint %d: %w", c.m.Epoch, err)
	}
	if err := syncDir(root, e.opts.NoSync); err != nil {
		return err
	}
	return e.pruneCheckpoints(root)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pruneCheckpoints keeps the newest KeepCheckpoints and truncates the log
// before the oldest kept one's position.
func (e *Engine) pruneCheckpoints(root string) error {
	dirs := listCheckpoints(root)
	keep := e.opts.KeepCheckpoints
	for len(dirs) > keep {
		os.RemoveAll(filepath.Join(root, dirs[0]))
		dirs = dirs[1:]
	}
	oldest, err := readManifest(filepath.Join(root, dirs[0]))
	if err != nil {
		return nil // nothing to truncate safely
	}
	return e.dur.log.TruncateBefore(wal.LSN(oldest.LogLSN + 1))
}

// listCheckpoints lists complete checkpoint directories, oldest first.
func listCheckpoints(root string) []string {
	ents, _ := os.ReadDir(root)
	var out []string
	for _, en := range ents {
		if en.IsDir() && !strings.HasSuffix(en.Name(), ".tmp") {
			if _, err := strconv.ParseUint(en.Name(), 10, 64); err == nil {
				out = append(out, en.Name())
			}
		}
	}
	sort.Strings(out)
	return out
}

func readManifest(dir string) (*manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, manifestName), err)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("%s: unknown version %d", filepath.Join(dir, manifestName), m.Version)
	}
	return &m, nil
}

func writeFileSync(path string, data []byte, noSync bool) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !noSync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("fsync %s: %w", path, err)
		}
	}
	return f.Close()
}

func syncDir(dir string, noSync bool) error {
	if noSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// restoreState is a checkpoint being loaded into a fresh engine.
type restoreState struct {
	dir    string
	m      *manifest
	byName map[string]*manObject
	files  map[string][]byte
	// rebuilt names the views rebuilt from their inputs instead of
	// restored, and why.
	rebuilt map[string]string
}

// rebuildCause says why a view over deps must be rebuilt from them rather
// than restored: an input of it was rebuilt, so its rows arrive again, as
// inserts. It is "" when none was.
func (rs *restoreState) rebuildCause(deps []*object) string {
	for _, d := range deps {
		if _, ok := rs.rebuilt[d.rel.Name]; ok {
			return fmt.Sprintf("its input %q is rebuilt", d.rel.Name)
		}
	}
	return ""
}

// noteRebuilt records that view name is rebuilt from its inputs, and why.
func (rs *restoreState) noteRebuilt(name, why string) {
	if rs.rebuilt == nil {
		rs.rebuilt = map[string]string{}
	}
	rs.rebuilt[name] = why
	slog.Warn("materialized view rebuilt from its inputs instead of restored from the checkpoint", "view", name, "checkpoint", rs.dir, "why", why)
}

// loadCheckpoint reads a checkpoint directory whole, verifying that every
// file the manifest names is present with its size (each snapshot also
// carries its own checksums, verified on restore).
func loadCheckpoint(dir string) (*restoreState, error) {
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	rs := &restoreState{dir: dir, m: m, byName: map[string]*manObject{}, files: map[string][]byte{}}
	for _, f := range m.Files {
		path := filepath.Join(dir, f.Name)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("checkpoint file %s: %w", path, err)
		}
		if int64(len(b)) != f.Bytes {
			return nil, fmt.Errorf("checkpoint file %s: %d bytes, the manifest says %d", path, len(b), f.Bytes)
		}
		if crc32.Checksum(b, castagnoli) != f.CRC32 {
			return nil, fmt.Errorf("checkpoint file %s is corrupt: its checksum does not match the manifest", path)
		}
		rs.files[f.Name] = b
	}
	for i := range m.Objects {
		rs.byName[m.Objects[i].Name] = &m.Objects[i]
	}
	return rs, nil
}

func (rs *restoreState) file(name string) (*bytes.Reader, error) {
	b, ok := rs.files[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint file %s is missing", filepath.Join(rs.dir, name))
	}
	return bytes.NewReader(b), nil
}

// restoreTable loads a table's committed rows (and, for a keyed table, its
// current rows, which equal them at the cut) and watermark.
func (rs *restoreState) restoreTable(e *Engine, o *object) error {
	mo := rs.byName[o.rel.Name]
	if mo == nil {
		return nil
	}
	o.wm.maxSeen = mo.MaxSeen
	o.wm.late.Store(mo.Late)
	o.rowsChanged.Store(mo.RowChanges)
	o.wm.current.Store(mo.Watermark)
	if mo.Store == "" {
		return nil
	}
	r, err := rs.file(mo.Store)
	if err != nil {
		return err
	}
	if err := o.store.RestoreWith(e.mem, r); err != nil {
		return fmt.Errorf("checkpoint file %s: %w", filepath.Join(rs.dir, mo.Store), err)
	}
	if o.current != nil {
		r, _ := rs.file(mo.Store)
		if err := o.current.RestoreWith(e.mem, r); err != nil {
			return fmt.Errorf("checkpoint file %s: %w", filepath.Join(rs.dir, mo.Store), err)
		}
	}
	return nil
}

// restoreView loads a view's committed rows and its operators' state.
// rebuildable says whether the view could be rebuilt from its inputs
// instead (none is a source).
func (rs *restoreState) restoreView(e *Engine, o *object, rebuildable bool) error {
	mo := rs.byName[o.rel.Name]
	if mo == nil {
		return nil
	}
	o.rowsChanged.Store(mo.RowChanges)
	if mo.Store != "" {
		r, err := rs.file(mo.Store)
		if err != nil {
			return err
		}
		if err := o.store.RestoreWith(e.mem, r); err != nil {
			return fmt.Errorf("checkpoint file %s: %w", filepath.Join(rs.dir, mo.Store), err)
		}
	}
	for idx, name := range mo.Operators {
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= len(o.frag.ops) {
			return fmt.Errorf("checkpoint %s: view %q has no operator %s: %w", rs.dir, o.rel.Name, idx, operators.ErrStateMismatch)
		}
		cp, ok := o.frag.ops[i].(operators.Checkpointer)
		if !ok {
			return fmt.Errorf("checkpoint %s: operator %d of view %q keeps no state: the view's plan changed: %w", rs.dir, i, o.rel.Name, operators.ErrStateMismatch)
		}
		r, err := rs.file(name)
		if err != nil {
			return err
		}
		if err := cp.Restore(r); err != nil {
			return fmt.Errorf("checkpoint file %s: %w", filepath.Join(rs.dir, name), err)
		}
	}
	// Every operator that keeps state was snapshotted: one that has no
	// snapshot belongs to another plan than the checkpoint's.
	for i, op := range o.frag.ops {
		if _, ok := op.(operators.Checkpointer); ok && mo.Operators[strconv.Itoa(i)] == "" {
			return fmt.Errorf("checkpoint %s: operator %d of view %q has no snapshot: the view's plan changed: %w", rs.dir, i, o.rel.Name, operators.ErrStateMismatch)
		}
	}
	// Operator state is matched by position and each operator's own
	// configuration, which can look the same while the plan around it
	// changed its meaning (an aggregate that now counts one orientation
	// of each pair under a Mirror): state is used only by the same plan.
	// This is checked after the operators, whose errors say more about
	// what differs. A checkpoint without the plan (taken before plans
	// were recorded) cannot vouch for it either.
	//
	// A view over a source cannot be rebuilt (a source keeps no rows), so
	// failing it would fail recovery: its state is trusted to its
	// operators' own checks, as before plans were recorded, which refuse
	// state whose meaning changed (an aggregate under a Mirror has its
	// own fingerprint, agg.Options.Meaning), and a warning says so.
	if len(mo.Operators) > 0 && mo.Plan != o.frag.plan {
		if !rebuildable {
			slog.Warn("materialized view over a source restored into a plan other than the checkpoint's (or one it does not record): its operators accepted their state", "view", o.rel.Name, "checkpoint", rs.dir, "checkpoint_plan", mo.Plan, "plan", o.frag.plan)
			return nil
		}
		why := "the checkpoint does not record its plan"
		if mo.Plan != "" {
			why = fmt.Sprintf("checkpoint:\n%s\nthis build:\n%s", mo.Plan, o.frag.plan)
		}
		return fmt.Errorf("checkpoint %s: the plan of view %q changed (%s): %w", rs.dir, o.rel.Name, why, operators.ErrStateMismatch)
	}
	return nil
}

// viewPlanText is the EXPLAIN text of the continuous plan query of view
// rel, as EXPLAIN CREATE MATERIALIZED VIEW shows it.
func viewPlanText(rel *planner.Relation, query planner.Node) string {
	p := &planner.CreateViewPlan{Name: rel.Name, Query: query, Keyed: rel.Keyed, Key: rel.Key}
	return strings.Join(planner.Explain(p), "\n")
}

// restoreSource sets a source's counters and watermark from the cut.
func (rs *restoreState) restoreSource(o *object) error {
	mo := rs.byName[o.rel.Name]
	if mo == nil {
		return nil
	}
	o.wm.maxSeen = mo.MaxSeen
	o.wm.late.Store(mo.Late)
	o.wm.current.Store(mo.Watermark)
	o.source.events.Store(mo.Events)
	o.source.bad.Store(mo.BadEvents)
	return nil
}

// sourceOffsets is where a source resumes.
func (rs *restoreState) sourceOffsets(name string) []connectors.PartitionProgress {
	mo := rs.byName[name]
	if mo == nil {
		return nil
	}
	out := make([]connectors.PartitionProgress, 0, len(mo.Offsets))
	for _, p := range mo.Offsets {
		out = append(out, connectors.PartitionProgress{Partition: p.Partition, Offset: p.Offset, HighWatermark: -1})
	}
	return out
}

// assignID picks a new object's ID: the checkpoint's while restoring, else
// the next one. The caller holds cat.mu.
func (e *Engine) assignID(name string) uint64 {
	if e.restoring != nil {
		if mo := e.restoring.byName[name]; mo != nil {
			e.cat.nextID = max(e.cat.nextID, mo.ID)
			return mo.ID
		}
	}
	e.cat.nextID++
	return e.cat.nextID
}

// restoreCheckpoint loads the newest readable checkpoint under dir into
// e and returns its log position (0 when there is none). A checkpoint
// that cannot be read is reported and the previous one is tried.
func (e *Engine) restoreCheckpoint(ctx context.Context, dir string) (wal.LSN, error) {
	root := filepath.Join(dir, "checkpoints")
	dirs := listCheckpoints(root)
	var failures []error
	for i := len(dirs) - 1; i >= 0; i-- {
		rs, err := loadCheckpoint(filepath.Join(root, dirs[i]))
		if err == nil {
			err = e.applyCheckpoint(ctx, rs)
			if err == nil {
				if len(failures) > 0 {
					slog.Error("fell back to an older checkpoint", "used", dirs[i], "errors", errors.Join(failures...))
				}
				return wal.LSN(rs.m.LogLSN), nil
			}
			return 0, fmt.Errorf("restore checkpoint %s: %w", dirs[i], err)
		}
		slog.Error("checkpoint unreadable, trying the previous one", "checkpoint", dirs[i], "err", err)
		failures = append(failures, err)
	}
	if len(failures) > 0 {
		return 0, fmt.Errorf("no complete checkpoint can be read: %w", errors.Join(failures...))
	}
	return 0, nil
}

// applyCheckpoint recreates the catalog of a checkpoint with its state.
// Objects are created by their DDL, in creation order, in restore mode:
// no backfill, state from the checkpoint instead.
func (e *Engine) applyCheckpoint(ctx context.Context, rs *restoreState) error {
	e.restoring = rs
	defer func() { e.restoring = nil }()
	for _, mo := range rs.m.Objects {
		st, err := parser.ParseOne(mo.DDL)
		if err != nil {
			return fmt.Errorf("object %q: %w", mo.Name, err)
		}
		if _, err := e.ExecuteStatement(ctx, st, nil); err != nil {
			return fmt.Errorf("object %q: %w", mo.Name, err)
		}
	}
	e.cat.mu.Lock()
	e.cat.nextID = max(e.cat.nextID, rs.m.NextID)
	e.cat.mu.Unlock()
	e.nextEpoch = rs.m.Epoch + 1
	e.committed.Store(rs.m.Epoch)
	e.restoring = nil
	for _, sql := range rs.m.Sinks {
		st, err := parser.ParseOne(sql)
		if err != nil {
			return err
		}
		if _, err := e.ExecuteStatement(ctx, st, nil); err != nil {
			return fmt.Errorf("sink: %w", err)
		}
	}
	return nil
}

func init() {
	ts := types.TimestampType(6)
	systemTables["sluice_checkpoints"] = &systemTable{
		rel: &planner.Relation{ID: math.MaxUint64 - 7, Name: "sluice_checkpoints", Kind: planner.SystemRelation,
			Schema: types.Schema{
				{Name: "epoch", Type: types.BigIntType}, {Name: "taken_at", Type: ts},
				{Name: "duration_ms", Type: types.DoubleType}, {Name: "bytes", Type: types.BigIntType},
				{Name: "files", Type: types.BigIntType}, {Name: "error", Type: types.TextType, Nullable: true},
			},
			Definition: "the latest checkpoints: duration and size"},
		rows: func(e *Engine) [][]types.Datum {
			e.ckptStats.mu.Lock()
			defer e.ckptStats.mu.Unlock()
			var out [][]types.Datum
			for _, r := range e.ckptStats.rows {
				errText := types.NewNull(types.TextType)
				if r.err != "" {
					errText = types.NewText(r.err)
				}
				out = append(out, []types.Datum{types.NewBigInt(int64(r.epoch)), types.NewTimestamp(r.at.UnixMicro()),
					types.NewDouble(ms(r.duration)), types.NewBigInt(r.bytes), types.NewBigInt(int64(r.files)), errText})
			}
			return out
		},
	}
}
