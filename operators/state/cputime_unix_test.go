//go:build unix

package state

import (
	"syscall"
	"time"
)

// cpuTime returns the process's CPU time (user and system): a measure
// less disturbed than the wall time by other processes sharing the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
