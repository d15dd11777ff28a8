// Package recs embeds the recommendation SQL files of this directory, so
// the sluice binary (sluice demo) runs the same files the tests check.
package recs

import "embed"

// Files holds every *.sql file of testdata/recs.
//
//go:embed *.sql
var Files embed.FS
