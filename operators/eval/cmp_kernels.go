// Comparison kernels, one loop per operator so every inner loop is
// branch-free and packs eight result bits per store.

package eval

import "github.com/sluicedb/sluice/expr"

// num is the set of physical value types the typed kernels handle.
type num interface{ ~int32 | ~int64 | ~float64 }

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// cmpVS writes the comparison bits of a[i] op c into out (len(a) bits).
func cmpVS[T num](op expr.Func, a []T, c T, out []byte) {
	switch op {
	case expr.Eq:
		cmpVSEq(a, c, out)
	case expr.Ne:
		cmpVSNe(a, c, out)
	case expr.Lt:
		cmpVSLt(a, c, out)
	case expr.Le:
		cmpVSLe(a, c, out)
	case expr.Gt:
		cmpVSGt(a, c, out)
	case expr.Ge:
		cmpVSGe(a, c, out)
	}
}

func cmpVSEq[T num](a []T, c T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] == c) | b2u(s[1] == c)<<1 | b2u(s[2] == c)<<2 | b2u(s[3] == c)<<3 | b2u(s[4] == c)<<4 | b2u(s[5] == c)<<5 | b2u(s[6] == c)<<6 | b2u(s[7] == c)<<7
	}
	if full < n {
		var b byte
		for i := full; i < n; i++ {
			b |= b2u(a[i] == c) << (i & 7)
		}
		out[full>>3] = b
	}
}

func cmpVSNe[T num](a []T, c T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] != c) | b2u(s[1] != c)<<1 | b2u(s[2] != c)<<2 | b2u(s[3] != c)<<3 | b2u(s[4] != c)<<4 | b2u(s[5] != c)<<5 | b2u(s[6] != c)<<6 | b2u(s[7] != c)<<7
	}
	if full < n {
		var b byte
		for i := full; i < n; i++ {
			b |= b2u(a[i] != c) << (i & 7)
		}
		out[full>>3] = b
	}
}

func cmpVSLt[T num](a []T, c T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] < c) | b2u(s[1] < c)<<1 | b2u(s[2] < c)<<2 | b2u(s[3] < c)<<3 | b2u(s[4] < c)<<4 | b2u(s[5] < c)<<5 | b2u(s[6] < c)<<6 | b2u(s[7] < c)<<7
	}
	if full < n {
		var b byte
		for i := full; i < n; i++ {
			b |= b2u(a[i] < c) << (i & 7)
		}
		out[full>>3] = b
	}
}

func cmpVSLe[T num](a []T, c T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] <= c) | b2u(s[1] <= c)<<1 | b2u(s[2] <= c)<<2 | b2u(s[3] <= c)<<3 | b2u(s[4] <= c)<<4 | b2u(s[5] <= c)<<5 | b2u(s[6] <= c)<<6 | b2u(s[7] <= c)<<7
	}
	if full < n {
		var b byte
		for i := full; i < n; i++ {
			b |= b2u(a[i] <= c) << (i & 7)
		}
		out[full>>3] = b
	}
}

func cmpVSGt[T num](a []T, c T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] > c) | b2u(s[1] > c)<<1 | b2u(s[2] > c)<<2 | b2u(s[3] > c)<<3 | b2u(s[4] > c)<<4 | b2u(s[5] > c)<<5 | b2u(s[6] > c)<<6 | b2u(s[7] > c)<<7
	}
	if full < n {
		var b byte
		for i := full; i < n; i++ {
			b |= b2u(a[i] > c) << (i & 7)
		}
		out[full>>3] = b
	}
}

func cmpVSGe[T num](a []T, c T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] >= c) | b2u(s[1] >= c)<<1 | b2u(s[2] >= c)<<2 | b2u(s[3] >= c)<<3 | b2u(s[4] >= c)<<4 | b2u(s[5] >= c)<<5 | b2u(s[6] >= c)<<6 | b2u(s[7] >= c)<<7
	}
	if full < n {
		var b byte
		for i := full; i < n; i++ {
			b |= b2u(a[i] >= c) << (i & 7)
		}
		out[full>>3] = b
	}
}

// cmpVV writes the comparison bits of a[i] op b[i] into out (len(a) bits).
func cmpVV[T num](op expr.Func, a, b []T, out []byte) {
	switch op {
	case expr.Eq:
		cmpVVEq(a, b, out)
	case expr.Ne:
		cmpVVNe(a, b, out)
	case expr.Lt:
		cmpVVLt(a, b, out)
	case expr.Le:
		cmpVVLe(a, b, out)
	case expr.Gt:
		cmpVVGt(a, b, out)
	case expr.Ge:
		cmpVVGe(a, b, out)
	}
}

func cmpVVEq[T num](a, b []T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		t := b[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] == t[0]) | b2u(s[1] == t[1])<<1 | b2u(s[2] == t[2])<<2 | b2u(s[3] == t[3])<<3 | b2u(s[4] == t[4])<<4 | b2u(s[5] == t[5])<<5 | b2u(s[6] == t[6])<<6 | b2u(s[7] == t[7])<<7
	}
	if full < n {
		var bb byte
		for i := full; i < n; i++ {
			bb |= b2u(a[i] == b[i]) << (i & 7)
		}
		out[full>>3] = bb
	}
}

func cmpVVNe[T num](a, b []T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		t := b[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] != t[0]) | b2u(s[1] != t[1])<<1 | b2u(s[2] != t[2])<<2 | b2u(s[3] != t[3])<<3 | b2u(s[4] != t[4])<<4 | b2u(s[5] != t[5])<<5 | b2u(s[6] != t[6])<<6 | b2u(s[7] != t[7])<<7
	}
	if full < n {
		var bb byte
		for i := full; i < n; i++ {
			bb |= b2u(a[i] != b[i]) << (i & 7)
		}
		out[full>>3] = bb
	}
}

func cmpVVLt[T num](a, b []T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		t := b[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] < t[0]) | b2u(s[1] < t[1])<<1 | b2u(s[2] < t[2])<<2 | b2u(s[3] < t[3])<<3 | b2u(s[4] < t[4])<<4 | b2u(s[5] < t[5])<<5 | b2u(s[6] < t[6])<<6 | b2u(s[7] < t[7])<<7
	}
	if full < n {
		var bb byte
		for i := full; i < n; i++ {
			bb |= b2u(a[i] < b[i]) << (i & 7)
		}
		out[full>>3] = bb
	}
}

func cmpVVLe[T num](a, b []T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		t := b[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] <= t[0]) | b2u(s[1] <= t[1])<<1 | b2u(s[2] <= t[2])<<2 | b2u(s[3] <= t[3])<<3 | b2u(s[4] <= t[4])<<4 | b2u(s[5] <= t[5])<<5 | b2u(s[6] <= t[6])<<6 | b2u(s[7] <= t[7])<<7
	}
	if full < n {
		var bb byte
		for i := full; i < n; i++ {
			bb |= b2u(a[i] <= b[i]) << (i & 7)
		}
		out[full>>3] = bb
	}
}

func cmpVVGt[T num](a, b []T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		t := b[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] > t[0]) | b2u(s[1] > t[1])<<1 | b2u(s[2] > t[2])<<2 | b2u(s[3] > t[3])<<3 | b2u(s[4] > t[4])<<4 | b2u(s[5] > t[5])<<5 | b2u(s[6] > t[6])<<6 | b2u(s[7] > t[7])<<7
	}
	if full < n {
		var bb byte
		for i := full; i < n; i++ {
			bb |= b2u(a[i] > b[i]) << (i & 7)
		}
		out[full>>3] = bb
	}
}

func cmpVVGe[T num](a, b []T, out []byte) {
	n := len(a)
	full := n &^ 7
	for i := 0; i < full; i += 8 {
		s := a[i : i+8 : i+8]
		t := b[i : i+8 : i+8]
		out[i>>3] = b2u(s[0] >= t[0]) | b2u(s[1] >= t[1])<<1 | b2u(s[2] >= t[2])<<2 | b2u(s[3] >= t[3])<<3 | b2u(s[4] >= t[4])<<4 | b2u(s[5] >= t[5])<<5 | b2u(s[6] >= t[6])<<6 | b2u(s[7] >= t[7])<<7
	}
	if full < n {
		var bb byte
		for i := full; i < n; i++ {
			bb |= b2u(a[i] >= b[i]) << (i & 7)
		}
		out[full>>3] = bb
	}
}
