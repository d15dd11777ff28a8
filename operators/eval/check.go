package eval

import (
	"github.com/sluicedb/sluice/expr"
	"github.com/sluicedb/sluice/types"
)

// check verifies that every node of e has a kernel.
func check(e expr.Expr) error {
	switch x := e.(type) {
	case nil:
		return errUnsupported("nil expression")
	case *expr.ColumnRef:
		if x.Index < 0 {
			return errUnsupported("negative column index %d", x.Index)
		}
		if x.T.Kind == types.Interval {
			return errUnsupported("INTERVAL column %s", x)
		}
		return nil
	case *expr.Literal:
		return nil
	case *expr.Param:
		return errUnsupported("parameter $%d was not bound", x.Ordinal)
	case *expr.Cast:
		if err := check(x.Arg); err != nil {
			return err
		}
		if !castSupported(x.Arg.Type().Kind, x.To.Kind) {
			return errUnsupported("cannot cast %s to %s", x.Arg.Type(), x.To)
		}
		return nil
	case *expr.Case:
		for _, w := range x.Whens {
			if err := check(w.Cond); err != nil {
				return err
			}
			if k := w.Cond.Type().Kind; k != types.Boolean && k != types.Unknown {
				return errUnsupported("CASE condition %s is %s, not BOOLEAN", w.Cond, w.Cond.Type())
			}
			if err := check(w.Result); err != nil {
				return err
			}
			if err := checkConform(w.Result, x.T); err != nil {
				return err
			}
		}
		if x.Else != nil {
			if err := check(x.Else); err != nil {
				return err
			}
			return checkConform(x.Else, x.T)
		}
		return nil
	case *expr.Call:
		for _, a := range x.Args {
			if err := check(a); err != nil {
				return err
			}
		}
		return checkCall(x)
	}
	return errUnsupported("expression %T", e)
}

func checkConform(e expr.Expr, t types.T) error {
	if k := e.Type().Kind; k != t.Kind && k != types.Unknown && !castSupported(k, t.Kind) {
		return errUnsupported("%s of type %s cannot produce %s", e, e.Type(), t)
	}
	return nil
}

func isNum(t types.T) bool { return t.IsNumeric() || t.Kind == types.Unknown }
func isKind(t types.T, ks ...types.Kind) bool {
	if t.Kind == types.Unknown {
		return true
	}
	for _, k := range ks {
		if t.Kind == k {
			return true
		}
	}
	return false
}

// comparable reports whether values of a and b can be compared.
func comparable(a, b types.T) bool {
	switch {
	case a.Kind == types.Unknown || b.Kind == types.Unknown:
		return true
	case a.IsNumeric() && b.IsNumeric():
		return true
	case a.IsTemporal() && b.IsTemporal():
		return true
	case a.Kind == types.Interval || b.Kind == types.Interval:
		return false
	}
	return a.Kind == b.Kind
}

func checkCall(c *expr.Call) error {
	n := len(c.Args)
	argc := func(lo, hi int) error {
		if n < lo || (hi >= 0 && n > hi) {
			return errUnsupported("%s takes %d..%d arguments, got %d", c.Func, lo, hi, n)
		}
		return nil
	}
	bad := func() error {
		ts := make([]types.T, n)
		for i, a := range c.Args {
			ts[i] = a.Type()
		}
		return errUnsupported("%s%v -> %s is not supported", c.Func, ts, c.T)
	}
	args := c.Args
	switch c.Func {
	case expr.Add, expr.Sub, expr.Mul, expr.Div, expr.Mod:
		if err := argc(2, 2); err != nil {
			return err
		}
		if !isNum(args[0].Type()) || !isNum(args[1].Type()) || !c.T.IsNumeric() {
			return bad()
		}
	case expr.IntDiv:
		if err := argc(2, 2); err != nil {
			return err
		}
		if !isNum(args[0].Type()) || !isNum(args[1].Type()) || !c.T.IsNumeric() {
			return bad()
		}
	case expr.Neg, expr.Abs, expr.Floor, expr.Ceil:
		if err := argc(1, 1); err != nil {
			return err
		}
		if !isNum(args[0].Type()) || !c.T.IsNumeric() {
			return bad()
		}
	case expr.Round:
		if err := argc(1, 2); err != nil {
			return err
		}
		if !isNum(args[0].Type()) || !c.T.IsNumeric() || (n == 2 && !isKind(args[1].Type(), types.Int, types.BigInt)) {
			return bad()
		}
	case expr.Sqrt, expr.Ln, expr.Exp:
		if err := argc(1, 1); err != nil {
			return err
		}
		if !isNum(args[0].Type()) || c.T.Kind != types.Double {
			return bad()
		}
	case expr.Pow:
		if err := argc(2, 2); err != nil {
			return err
		}
		if !isNum(args[0].Type()) || !isNum(args[1].Type()) || c.T.Kind != types.Double {
			return bad()
		}
	case expr.Eq, expr.Ne, expr.Lt, expr.Le, expr.Gt, expr.Ge:
		if err := argc(2, 2); err != nil {
			return err
		}
		if !comparable(args[0].Type(), args[1].Type()) {
			return bad()
		}
	case expr.And, expr.Or:
		if err := argc(2, 2); err != nil {
			return err
		}
		if !isKind(args[0].Type(), types.Boolean) || !isKind(args[1].Type(), types.Boolean) {
			return bad()
		}
	case expr.Not:
		if err := argc(1, 1); err != nil {
			return err
		}
		if !isKind(args[0].Type(), types.Boolean) {
			return bad()
		}
	case expr.IsNull, expr.IsNotNull:
		return argc(1, 1)
	case expr.In:
		if err := argc(2, -1); err != nil {
			return err
		}
		for _, a := range args[1:] {
			if !comparable(args[0].Type(), a.Type()) {
				return bad()
			}
		}
	case expr.Like:
		if err := argc(2, 3); err != nil {
			return err
		}
		for _, a := range args {
			if !isKind(a.Type(), types.Varchar) {
				return bad()
			}
		}
	case expr.Coalesce, expr.Greatest, expr.Least:
		if err := argc(1, -1); err != nil {
			return err
		}
		for _, a := range args {
			if !comparable(a.Type(), c.T) {
				return bad()
			}
			if err := checkConform(a, c.T); err != nil {
				return err
			}
		}
	case expr.Lower, expr.Upper, expr.Length:
		if err := argc(1, 1); err != nil {
			return err
		}
		if !isKind(args[0].Type(), types.Varchar) {
			return bad()
		}
	case expr.Concat:
		if err := argc(1, -1); err != nil {
			return err
		}
		for _, a := range args {
			if !isKind(a.Type(), types.Varchar) {
				return bad()
			}
		}
	case expr.AddInterval, expr.SubInterval:
		if err := argc(2, 2); err != nil {
			return err
		}
		if !isKind(args[0].Type(), types.Timestamp, types.Date) || !isKind(args[1].Type(), types.Interval) ||
			!isKind(c.T, types.Timestamp, types.Date) {
			return bad()
		}
	case expr.Extract, expr.DateTrunc:
		if err := argc(2, 2); err != nil {
			return err
		}
		if !isKind(args[0].Type(), types.Varchar) || !isKind(args[1].Type(), types.Timestamp, types.Date) {
			return bad()
		}
		if l, ok := args[0].(*expr.Literal); ok && !l.Value.Null {
			if _, err := parseUnit(l.Value.S, c.Func == expr.DateTrunc); err != nil {
				return err
			}
		}
	default:
		return errUnsupported("function %s", c.Func)
	}
	return nil
}
