package optest

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/sluicedb/sluice/operators"
)

// ChangeLines renders rows as sorted change lines: "+ row" for an insert,
// "- row" for a delete, "row -> row" for an update pair and "? row" for
// anything else.
func ChangeLines(rows []OutRow, format RowFormat) []string {
	format = format.or()
	var out []string
	for i := 0; i < len(rows); i++ {
		r := rows[i]
		switch r.Op {
		case operators.Insert:
			out = append(out, "+ "+format(r.Vals))
		case operators.Delete:
			out = append(out, "- "+format(r.Vals))
		case operators.UpdateBefore:
			if i+1 < len(rows) && rows[i+1].Op == operators.UpdateAfter {
				out = append(out, format(r.Vals)+" -> "+format(rows[i+1].Vals))
				i++
			} else {
				out = append(out, "? "+format(r.Vals)) // an unpaired UpdateBefore
			}
		default:
			out = append(out, "? "+format(r.Vals))
		}
	}
	sort.Strings(out)
	return out
}

// OpLines renders rows as sorted "op row" lines ("insert 1,2").
func OpLines(rows []OutRow, format RowFormat) []string {
	format = format.or()
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Op.String() + " " + format(r.Vals)
	}
	sort.Strings(out)
	return out
}

// Fold is the net multiset of the rows of a changelog: rendered row →
// multiplicity.
type Fold map[string]int

// Add folds one row in: +1 for an addition, -1 for a retraction. A
// retraction of a row not in f is an error.
func (f Fold) Add(r OutRow, format RowFormat) error {
	k := format.or()(r.Vals)
	f[k] += int(r.Op.Sign())
	n := f[k]
	if n == 0 {
		delete(f, k)
	}
	if n < 0 {
		return fmt.Errorf("retraction of %s, not in the output", k)
	}
	return nil
}

// Apply folds rows in, in order, stopping at the first error.
func (f Fold) Apply(rows []OutRow, format RowFormat) error {
	for _, r := range rows {
		if err := f.Add(r, format); err != nil {
			return err
		}
	}
	return nil
}

// Lines returns the rows of f, sorted, a row repeated by its
// multiplicity.
func (f Fold) Lines() []string {
	var out []string
	for k, n := range f {
		for ; n > 0; n-- {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// CheckLines reports (t.Errorf, naming what) unless got equals want once
// sorted; got must be sorted already. It returns whether they are equal.
func CheckLines(t testing.TB, what string, got []string, want ...string) bool {
	t.Helper()
	want = slices.Clone(want)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
		return false
	}
	return true
}

// DiffLines describes the first difference between two logs (the first
// differing line, else the lengths); "" when they are equal.
func DiffLines(got, want []string) string {
	if slices.Equal(got, want) {
		return ""
	}
	for k := 0; k < min(len(got), len(want)); k++ {
		if got[k] != want[k] {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", k, got[k], want[k])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(got), len(want))
}
