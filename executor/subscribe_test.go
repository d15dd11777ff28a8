package executor

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestSubscribeSnapshotThenChanges(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	e, err := Open(Options{BarrierInterval: -1, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, e, "CREATE TABLE t (k BIGINT PRIMARY KEY, v BIGINT)")
	mustExec(t, e, "CREATE MATERIALIZED VIEW s AS SELECT v, COUNT(*) AS n FROM t GROUP BY v")
	mustExec(t, e, "INSERT INTO t VALUES (1, 10), (2, 10)")
	mustExec(t, e, "FLUSH")
	sub, err := e.Subscribe("s", true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := renderChanges(b); got != "insert 10 2" {
		t.Fatalf("snapshot: %q", got)
	}
	mustExec(t, e, "UPDATE t SET v = 20 WHERE k = 2")
	mustExec(t, e, "FLUSH")
	b, err = sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.Epoch <= sub.Epoch {
		t.Fatalf("epoch %d not after the snapshot's %d", b.Epoch, sub.Epoch)
	}
	if got := renderChanges(b); got != "update_before 10 2; update_after 10 1; insert 20 1" {
		t.Fatalf("changes: %q", got)
	}
	mustExec(t, e, "DROP MATERIALIZED VIEW s")
	if _, err := sub.Next(ctx); err == nil || !strings.Contains(err.Error(), "dropped") {
		t.Fatalf("after drop: %v", err)
	}
	sub.Close()
	e.Close()
	mem.AssertSize(t, 0)
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	e := openManual(t)
	defer e.Close()
	mustExec(t, e, "CREATE TABLE t (k BIGINT PRIMARY KEY, v BIGINT)")
	sub, err := e.Subscribe("t", false)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := 0; i <= SubscribeBuffer; i++ {
		mustExec(t, e, "INSERT INTO t VALUES (1, "+strconv.Itoa(i)+")")
		mustExec(t, e, "FLUSH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lastErr error
	for i := 0; i <= SubscribeBuffer+1; i++ {
		if _, lastErr = sub.Next(ctx); lastErr != nil {
			break
		}
	}
	if lastErr == nil || !strings.Contains(lastErr.Error(), "behind") {
		t.Fatalf("slow subscriber not dropped: %v", lastErr)
	}
}

func renderChanges(b *ChangeBatch) string {
	var parts []string
	for _, c := range b.Changes {
		s := c.Op.String()
		for _, d := range c.Row {
			s += " " + d.String()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
