package executor

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicedb/sluice/parser"
	"github.com/sluicedb/sluice/types"
)

// benchPairs is the number of distinct (a, b) pairs of the checkpoint and
// recovery benchmarks.
const benchPairs = 1_000_000

// benchPairCounts opens an engine on dir (fsync on, no checkpoint timer,
// epochs only on FLUSH) with an append-only table t of benchPairs rows,
// each a distinct pair (a, b), and the view
// `pairs AS SELECT a, b, COUNT(*) AS n FROM t GROUP BY a, b` over it.
func benchPairCounts(b *testing.B, dir string) *Engine {
	b.Helper()
	e, err := Open(Options{DataDir: dir, BarrierInterval: -1, CheckpointInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	mustExec(b, e, "CREATE TABLE t (a BIGINT, b BIGINT) APPEND ONLY")
	mustExec(b, e, "CREATE MATERIALIZED VIEW pairs AS SELECT a, b, COUNT(*) AS n FROM t GROUP BY a, b")
	mem := memory.NewGoAllocator()
	for start := 0; start < benchPairs; start += 4096 {
		// 1000 values of a, 1000 of b, every pair once.
		rec := kvBatch(mem, min(4096, benchPairs-start), func(i int) (int64, int64) {
			k := int64(start + i)
			return k / 1000, k%1000 + 1_000_000
		})
		if err := e.Append(context.Background(), "t", rec); err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	mustExec(b, e, "FLUSH")
	if n := benchScalar(b, e, "SELECT COUNT(*) FROM pairs"); n != benchPairs {
		b.Fatalf("pairs has %d rows, want %d", n, benchPairs)
	}
	return e
}

// benchDirSize returns the bytes of the regular files under dir, and
// those whose name starts with prefix.
func benchDirSize(b *testing.B, dir, prefix string) (total, matching int64) {
	b.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		if len(d.Name()) >= len(prefix) && d.Name()[:len(prefix)] == prefix {
			matching += info.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return total, matching
}

// benchLatestCheckpoint returns the newest complete checkpoint directory.
func benchLatestCheckpoint(b *testing.B, dataDir string) string {
	b.Helper()
	root := filepath.Join(dataDir, "checkpoints")
	dirs := listCheckpoints(root)
	if len(dirs) == 0 {
		b.Fatal("no checkpoint written")
	}
	return filepath.Join(root, dirs[len(dirs)-1])
}

// BenchmarkCheckpointPairCounts1M times Engine.Checkpoint (a checkpoint
// barrier, then every store and operator state written as Arrow IPC files
// with fsync, temp directory renamed into place) on an engine holding a
// view of 1M pair counts over an append-only table of 1M rows. It reports
// the newest checkpoint directory's size on disk and the part of it that
// is the view (its materialized rows and its operators' state; the rest is
// the table's own rows), the duration and size sluice_checkpoints
// recorded for the last one, and its manifest's split of that duration
// into snapshot (in the epoch) and write (files, fsync, rename).
//
//	go test ./executor/ -run '^$' -bench CheckpointPairCounts1M -benchtime 5x
func BenchmarkCheckpointPairCounts1M(b *testing.B) {
	dir := b.TempDir()
	e := benchPairCounts(b, dir)
	defer e.Close()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	ck := benchLatestCheckpoint(b, dir)
	total, _ := benchDirSize(b, ck, "")
	m, err := readManifest(ck)
	if err != nil {
		b.Fatal(err)
	}
	var view int64
	for _, o := range m.Objects {
		if o.Name != "pairs" {
			continue
		}
		names := []string{o.Store}
		for _, f := range o.Operators {
			names = append(names, f)
		}
		for _, n := range names {
			st, err := os.Stat(filepath.Join(ck, n))
			if err != nil {
				b.Fatal(err)
			}
			view += st.Size()
		}
	}
	res, err := e.Execute(ctx, "SELECT duration_ms, bytes FROM sluice_checkpoints ORDER BY epoch DESC LIMIT 1")
	if err != nil || len(res[0].Rows) != 1 {
		b.Fatalf("sluice_checkpoints: %v %v", err, res)
	}
	row := res[0].Rows[0]
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/checkpoint")
	b.ReportMetric(float64(total)/1e6, "MB-on-disk")
	b.ReportMetric(float64(view)/1e6, "MB-view")
	b.ReportMetric(row[0].Float(), "recorded-ms")
	b.ReportMetric(float64(row[1].I)/1e6, "recorded-MB")
	b.ReportMetric(m.Durations.SnapshotMS, "snapshot-ms")
	b.ReportMetric(m.Durations.WriteMS, "write-ms")
	for _, f := range m.Files {
		b.Logf("%s: %.1f MB", f.Name, float64(f.Bytes)/1e6)
	}
}

// BenchmarkRecoverPairCounts1M times recovery of the state of
// BenchmarkCheckpointPairCounts1M: executor.Open on its data directory
// (read and check the newest checkpoint, rebuild the catalog, restore the
// table's rows, the view's rows and its operators' state, replay the log
// after the checkpoint — empty here) until the engine answers a prepared
// point lookup on the view.
//
//	go test ./executor/ -run '^$' -bench RecoverPairCounts1M -benchtime 5x
func BenchmarkRecoverPairCounts1M(b *testing.B) {
	dir := b.TempDir()
	e := benchPairCounts(b, dir)
	if err := e.Checkpoint(context.Background()); err != nil {
		b.Fatal(err)
	}
	e.Close()
	_, ckBytes := benchDirSize(b, dir, "")
	stmt, err := parser.ParseOne("SELECT n FROM pairs WHERE a = $1 AND b = $2")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, err := Open(Options{DataDir: dir, BarrierInterval: -1, CheckpointInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		p, err := e.Prepare(stmt)
		if err != nil {
			b.Fatal(err)
		}
		res, err := e.ExecutePrepared(ctx, p, []types.Datum{types.NewBigInt(int64(i % 1000)), types.NewBigInt(1_000_000 + 7)})
		if err != nil || len(res.Rows) != 1 || res.Rows[0][0].I != 1 {
			b.Fatalf("lookup after recovery: %v %v", err, res)
		}
		b.StopTimer()
		if n := benchScalar(b, e, "SELECT COUNT(*) FROM pairs"); n != benchPairs {
			b.Fatalf("recovered view has %d rows, want %d", n, benchPairs)
		}
		e.Close()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/recovery")
	b.ReportMetric(float64(ckBytes)/1e6, "MB-data-dir")
}

// BenchmarkCheckpointCost measures the throughput cost of periodic
// checkpoints: a datagen source (rate 'max': as fast as the engine takes
// events; 1,000 users, 1,000 items: up to 1M pairs) feeds a pair-count view
// `SELECT user_id, item_id, COUNT(*) ... GROUP BY user_id, item_id` for
// SLUICE_CKPT_SECONDS (default 60) with the default one-second barrier
// and a data directory (fsync on), once checkpointing every 10 s and once
// never. It reports the source's events/s over the run, the checkpoints
// taken with their mean duration and size, and the view's final rows.
//
//	go test ./executor/ -run '^$' -bench CheckpointCost -benchtime 1x
func BenchmarkCheckpointCost(b *testing.B) {
	secs := benchEnvInt(b, "SLUICE_CKPT_SECONDS", 60)
	for _, c := range []struct {
		name     string
		interval time.Duration
	}{{"every10s", 10 * time.Second}, {"never", -1}} {
		b.Run(c.name, func(b *testing.B) {
			var events, ckpts, ckptBytes int64
			var ckptMS float64
			var busy time.Duration
			for it := 0; it < b.N; it++ {
				e, err := Open(Options{DataDir: b.TempDir(), CheckpointInterval: c.interval})
				if err != nil {
					b.Fatal(err)
				}
				mustExec(b, e, `CREATE SOURCE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3))
					WITH (connector = 'datagen', rate = 'max', users = '1000', items = '1000', seed = '7', start = '2026-01-01 00:00:00')`)
				mustExec(b, e, "CREATE MATERIALIZED VIEW pairs AS SELECT user_id, item_id, COUNT(*) AS n FROM clicks GROUP BY user_id, item_id")
				n0 := benchScalar(b, e, "SELECT events FROM sluice_sources")
				t0 := time.Now()
				time.Sleep(time.Duration(secs) * time.Second)
				n1 := benchScalar(b, e, "SELECT events FROM sluice_sources")
				busy += time.Since(t0)
				events += n1 - n0
				res, err := e.Execute(context.Background(), "SELECT COUNT(*), COALESCE(SUM(duration_ms), 0), COALESCE(SUM(bytes), 0) FROM sluice_checkpoints WHERE error IS NULL")
				if err != nil {
					b.Fatal(err)
				}
				row := res[0].Rows[0]
				ckpts += row[0].I
				ckptMS += row[1].Float()
				ckptBytes += row[2].I
				if bad := benchScalar(b, e, "SELECT COUNT(*) FROM sluice_checkpoints WHERE error IS NOT NULL"); bad != 0 {
					b.Fatalf("%d checkpoints failed", bad)
				}
				mustExec(b, e, "FLUSH")
				b.ReportMetric(float64(benchScalar(b, e, "SELECT COUNT(*) FROM pairs")), "view-rows")
				e.Close()
			}
			b.ReportMetric(float64(events)/busy.Seconds(), "events/s")
			b.ReportMetric(float64(ckpts)/float64(b.N), "checkpoints")
			if ckpts > 0 {
				b.ReportMetric(ckptMS/float64(ckpts), "ms/checkpoint")
				b.ReportMetric(float64(ckptBytes)/float64(ckpts)/1e6, "MB/checkpoint")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
