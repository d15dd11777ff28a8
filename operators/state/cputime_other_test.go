//go:build !unix

package state

import "time"

// cpuTime is 0 where the process's CPU time is not read: the benchmarks'
// cpu-ns metrics are then 0.
func cpuTime() time.Duration { return 0 }
