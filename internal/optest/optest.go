// Package optest is the shared kit of the streaming operators' tests
// (operators/agg, topn, window, temporal, ...): one place for what every
// operator test needs.
//
//   - Input: Datum shorthands (BigInt, Text, Row, ...), BuildRecord and
//     Feed to push rows of Go values as chunks of a given size, OpsOf,
//     and the batch sizes every test runs with (ForBatches).
//   - Output: Collector gathers an operator's messages into rows per
//     epoch and checks the invariants every operator keeps; Recorder and
//     Transcript log the output as lines for run-against-run comparisons.
//   - Comparison: FormatRow, ChangeLines and OpLines render rows; Fold is
//     the net multiset of a changelog; CheckLines and DiffLines compare.
//   - Driving: Harness pushes rows, watermarks, barriers and Steps of a
//     script into one operator under test; CloseAtEnd checks Close and
//     leaks.
//   - Checkpoints: Snapshot and RoundTrip, the damaged snapshots a
//     Restore must refuse (ForEachDamage, SomeDamaged), foreign headers,
//     and failing writers.
//
// It is for tests only: import it from _test.go files, never from a
// production package (TestOnlyImportedByTests checks this). Like the
// testing package, its helpers fail the test they are given instead of
// returning errors where a test could do nothing else with the error.
package optest
