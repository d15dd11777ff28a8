package eval

import "github.com/sluicedb/sluice/expr"

// DOUBLE arithmetic kernels. bad reports a non-finite result (checked
// against validity by the caller); zero reports a zero divisor.

func floatVV(op expr.Func, a, b, out []float64) (bad, zero bool) {
	switch op {
	case expr.Add:
		return fAddVV(a, b, out)
	case expr.Sub:
		return fSubVV(a, b, out)
	case expr.Mul:
		return fMulVV(a, b, out)
	case expr.Div:
		return fDivVV(a, b, out)
	}
	return false, false
}

func fAddVV(a, b, out []float64) (bad, zero bool) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		r := a[i] + b[i]
		out[i] = r
		if r-r != 0 {
			bad = true
		}
	}
	return
}

func fSubVV(a, b, out []float64) (bad, zero bool) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		r := a[i] - b[i]
		out[i] = r
		if r-r != 0 {
			bad = true
		}
	}
	return
}

func fMulVV(a, b, out []float64) (bad, zero bool) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		r := a[i] * b[i]
		out[i] = r
		if r-r != 0 {
			bad = true
		}
	}
	return
}

func fDivVV(a, b, out []float64) (bad, zero bool) {
	a, b = a[:len(out)], b[:len(out)]
	for i := range out {
		r := a[i] / b[i]
		out[i] = r
		if r-r != 0 {
			bad = true
		}
		if b[i] == 0 {
			zero = true
		}
	}
	return
}

func floatVS(op expr.Func, a []float64, y float64, out []float64) (bad, zero bool) {
	switch op {
	case expr.Add:
		return fAddVS(a, y, out)
	case expr.Sub:
		return fSubVS(a, y, out)
	case expr.Mul:
		return fMulVS(a, y, out)
	case expr.Div:
		return fDivVS(a, y, out)
	}
	return false, false
}

func fAddVS(a []float64, y float64, out []float64) (bad, zero bool) {
	a = a[:len(out)]
	for i := range out {
		r := a[i] + y
		out[i] = r
		if r-r != 0 {
			bad = true
		}
	}
	return
}

func fSubVS(a []float64, y float64, out []float64) (bad, zero bool) {
	a = a[:len(out)]
	for i := range out {
		r := a[i] - y
		out[i] = r
		if r-r != 0 {
			bad = true
		}
	}
	return
}

func fMulVS(a []float64, y float64, out []float64) (bad, zero bool) {
	a = a[:len(out)]
	for i := range out {
		r := a[i] * y
		out[i] = r
		if r-r != 0 {
			bad = true
		}
	}
	return
}

func fDivVS(a []float64, y float64, out []float64) (bad, zero bool) {
	a = a[:len(out)]
	for i := range out {
		r := a[i] / y
		out[i] = r
		if r-r != 0 {
			bad = true
		}
		if y == 0 {
			zero = true
		}
	}
	return
}

func floatSV(op expr.Func, x float64, b []float64, out []float64) (bad, zero bool) {
	switch op {
	case expr.Add:
		return fAddSV(x, b, out)
	case expr.Sub:
		return fSubSV(x, b, out)
	case expr.Mul:
		return fMulSV(x, b, out)
	case expr.Div:
		return fDivSV(x, b, out)
	}
	return false, false
}

func fAddSV(x float64, b []float64, out []float64) (bad, zero bool) {
	b = b[:len(out)]
	for i := range out {
		r := x + b[i]
		out[i] = r
		if r-r != 0 {
			bad = true
		}
	}
	return
}

func fSubSV(x float64, b []float64, out []float64) (bad, zero bool) {
	b = b[:len(out)]
	for i := range out {
		r := x - b[i]
		out[i] = r
		if r-r != 0 {
			bad = true
		}
	}
	return
}

func fMulSV(x float64, b []float64, out []float64) (bad, zero bool) {
	b = b[:len(out)]
	for i := range out {
		r := x * b[i]
		out[i] = r
		if r-r != 0 {
			bad = true
		}
	}
	return
}

func fDivSV(x float64, b []float64, out []float64) (bad, zero bool) {
	b = b[:len(out)]
	for i := range out {
		r := x / b[i]
		out[i] = r
		if r-r != 0 {
			bad = true
		}
		if b[i] == 0 {
			zero = true
		}
	}
	return
}
