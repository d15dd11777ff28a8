package types

import (
	"cmp"
	"strings"
)

// Compare orders two non-NULL datums of the same kind: -1, 0 or +1.
// Decimals of different scales compare by value.
func Compare(a, b Datum) int {
	switch a.Kind {
	case Double:
		return cmp.Compare(a.F, b.F)
	case Varchar:
		return strings.Compare(a.S, b.S)
	case Decimal:
		x, y := a.Dec, b.Dec
		if a.Scale != b.Scale {
			return cmp.Compare(a.Float(), b.Float())
		}
		return x.Cmp(y)
	case Interval:
		if c := cmp.Compare(a.Months, b.Months); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Days, b.Days); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.I, b.I)
}

// CompareNullsLast orders datums with NULL after every value.
func CompareNullsLast(a, b Datum) int {
	switch {
	case a.Null && b.Null:
		return 0
	case a.Null:
		return 1
	case b.Null:
		return -1
	}
	return Compare(a, b)
}
