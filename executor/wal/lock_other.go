//go:build !unix

package wal

import "os"

// lockDir is a no-op where flock is unavailable.
func lockDir(dir string) (*os.File, error) { return nil, nil }
