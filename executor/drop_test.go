package executor

import (
	"runtime"
	"testing"
	"weak"
)

// TestDropFreesViewState checks that a dropped view's rows and operators
// become unreachable (so their memory is returned), for a view read by
// nothing and for one read by another view dropped before it.
func TestDropFreesViewState(t *testing.T) {
	e := openManual(t)
	defer e.Close()
	mustExec(t, e, "CREATE TABLE t (k BIGINT, v BIGINT) APPEND ONLY")
	mustExec(t, e, "CREATE MATERIALIZED VIEW a AS SELECT k, COUNT(*) AS n FROM t GROUP BY k")
	mustExec(t, e, "CREATE MATERIALIZED VIEW b AS SELECT k, n FROM a WHERE n > 1")
	mustExec(t, e, "CREATE MATERIALIZED VIEW c AS SELECT v, COUNT(*) AS n FROM t GROUP BY v")
	mustExec(t, e, "INSERT INTO t VALUES (1, 1), (1, 2), (2, 3)")
	mustExec(t, e, "FLUSH")

	refs := map[string]weak.Pointer[object]{}
	for _, name := range []string{"a", "b", "c"} {
		o, ok := e.cat.get(name)
		if !ok {
			t.Fatalf("view %s not in the catalog", name)
		}
		refs[name] = weak.Make(o)
	}
	mustExec(t, e, "DROP MATERIALIZED VIEW b")
	mustExec(t, e, "DROP MATERIALIZED VIEW a")
	mustExec(t, e, "DROP MATERIALIZED VIEW c")
	runtime.GC()
	runtime.GC()
	for name, ref := range refs {
		if ref.Value() != nil {
			t.Errorf("view %s is still reachable after DROP", name)
		}
	}
	// The table still works.
	mustExec(t, e, "INSERT INTO t VALUES (3, 3)")
	mustExec(t, e, "FLUSH")
}
