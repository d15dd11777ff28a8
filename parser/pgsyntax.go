package parser

import (
	"strconv"
	"strings"

	"github.com/sluicedb/sluice/sqlerr"
)

// pgEdits returns the rewrites of the Postgres syntax that Postgres
// clients send and TiDB lacks:
//
//   - $n parameters become ? (padded to the same length; numberParams then
//     restores their numbers);
//   - expr::type becomes CAST(expr AS type) when expr is a literal, a
//     parameter, a (qualified) column name, a parenthesised expression or a
//     function call; chains (x::int::text) nest. 'n unit'::interval becomes
//     INTERVAL 'n' UNIT and a literal ::boolean becomes TRUE or FALSE.
//
// Tokens already covered by an edit in skip are left alone.
func (ps *parseState) pgEdits(sp span, skip []edit) ([]edit, error) {
	var out []edit
	t, src := sp.toks, ps.src
	covered := func(tk token) bool {
		for _, e := range skip {
			if tk.pos < e.end && e.pos < tk.end {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(t); i++ {
		tk := t[i]
		if covered(tk) {
			continue
		}
		if tk.kind == tokParam {
			out = append(out, edit{tk.pos, tk.end, "?" + strings.Repeat(" ", tk.end-tk.pos-1)})
			continue
		}
		if !tk.isOp(src, "::") {
			continue
		}
		if i == 0 {
			return nil, ps.errAt(tk.pos, sqlerr.SyntaxError, "syntax error near \"::\"")
		}
		first, ok := operandStart(src, t, i-1)
		if !ok {
			return nil, ps.errAt(tk.pos, sqlerr.FeatureNotSupported,
				"this ::type cast is not supported; use CAST(expr AS type)")
		}
		var casts []edit
		var specials []string
		j := i
		for j < len(t) && t[j].isOp(src, "::") {
			target, next, err := ps.pgCastTarget(sp, j+1)
			if err != nil {
				return nil, err
			}
			casts = append(casts, edit{t[j].pos, t[next-1].end, " AS " + target + ")"})
			specials = append(specials, target)
			j = next
		}
		if specials[0] == "interval" || specials[0] == "boolean" {
			if len(casts) != 1 || first != i-1 {
				return nil, ps.errAt(tk.pos, sqlerr.FeatureNotSupported,
					"::%s is supported only on a single literal", specials[0])
			}
			lit, err := ps.pgLiteralCast(t[i-1], specials[0])
			if err != nil {
				return nil, err
			}
			out = append(out, edit{t[i-1].pos, casts[0].end, lit})
			i = j - 1
			continue
		}
		for _, s := range specials {
			if s == "interval" || s == "boolean" {
				return nil, ps.errAt(tk.pos, sqlerr.FeatureNotSupported, "::%s is supported only on a single literal", s)
			}
		}
		out = append(out, edit{t[first].pos, t[first].pos, strings.Repeat("CAST(", len(casts))})
		out = append(out, casts...)
		i = j - 1
	}
	return out, nil
}

// operandStart returns the index of the first token of the operand that
// ends at token k, for the operand shapes the :: rewrite supports.
func operandStart(src string, t []token, k int) (int, bool) {
	switch tk := t[k]; {
	case tk.kind == tokString || tk.kind == tokDQString || tk.kind == tokNumber || tk.kind == tokParam || tk.kind == tokDollarStr:
		return k, tk.kind != tokDollarStr
	case tk.kind == tokWord || tk.kind == tokQuotedIdent:
		for k >= 2 && t[k-1].isOp(src, ".") && (t[k-2].kind == tokWord || t[k-2].kind == tokQuotedIdent) {
			k -= 2
		}
		return k, true
	case tk.isOp(src, ")"):
		depth := 0
		for m := k; m >= 0; m-- {
			switch {
			case t[m].isOp(src, ")"):
				depth++
			case t[m].isOp(src, "("):
				depth--
				if depth == 0 {
					if m > 0 && t[m-1].kind == tokWord && t[m-1].end == t[m].pos && !isOperatorKeyword(t[m-1].text(src)) {
						return m - 1, true
					}
					return m, true
				}
			}
		}
	}
	return 0, false
}

// isOperatorKeyword reports whether w, directly before '(', is a keyword
// rather than a function name.
func isOperatorKeyword(w string) bool {
	switch strings.ToUpper(w) {
	case "SELECT", "WHERE", "AND", "OR", "NOT", "XOR", "IN", "ON", "BY", "WHEN", "THEN", "ELSE",
		"IS", "LIKE", "BETWEEN", "HAVING", "FROM", "VALUES", "AS", "EXISTS", "USING", "SET",
		"CASE", "DIV", "MOD", "ALL", "ANY", "SOME", "DISTINCT", "WITH", "LIMIT", "OFFSET",
		"RETURNING", "INTO", "JOIN", "UNION", "EXCEPT", "INTERSECT", "REGEXP", "RLIKE", "ESCAPE":
		return true
	}
	return false
}

// pgCastTarget parses the Postgres type name starting at token j and
// returns its MySQL CAST target ("SIGNED", "DATETIME(6)", ...), or
// "interval" / "boolean" for the literal-only special cases, and the index
// after the type.
func (ps *parseState) pgCastTarget(sp span, j int) (string, int, error) {
	t, src := sp.toks, ps.src
	if j >= len(t) || t[j].kind != tokWord {
		return "", 0, ps.errNear(sp, j)
	}
	word := func(k int, w string) bool { return k < len(t) && t[k].isWord(src, w) }
	name := strings.ToLower(t[j].text(src))
	namePos := t[j].pos
	k := j + 1
	switch {
	case name == "double" && word(k, "precision"):
		name, k = "double precision", k+1
	case name == "character" && word(k, "varying"):
		name, k = "varchar", k+1
	}
	var args []string
	if k < len(t) && t[k].isOp(src, "(") {
		k++
		for {
			if k >= len(t) || t[k].kind != tokNumber {
				return "", 0, ps.errNear(sp, k)
			}
			args = append(args, t[k].text(src))
			k++
			if k < len(t) && t[k].isOp(src, ",") {
				k++
				continue
			}
			if k >= len(t) || !t[k].isOp(src, ")") {
				return "", 0, ps.errNear(sp, k)
			}
			k++
			break
		}
	}
	if (name == "timestamp" || name == "time") && (word(k, "with") || word(k, "without")) && word(k+1, "time") && word(k+2, "zone") {
		k += 3
	}
	if k < len(t) && t[k].isOp(src, "[") {
		return "", 0, ps.errAt(t[k].pos, sqlerr.FeatureNotSupported, "array types are not supported")
	}
	argList := func(maxArgs int) (string, error) {
		if len(args) > maxArgs {
			return "", ps.errAt(namePos, sqlerr.SyntaxError, "too many modifiers for type %s", name)
		}
		if len(args) == 0 {
			return "", nil
		}
		return "(" + strings.Join(args, ",") + ")", nil
	}
	var target string
	var err error
	switch name {
	case "int", "int2", "int4", "int8", "integer", "smallint", "bigint":
		target = "SIGNED"
	case "float", "float4", "float8", "real", "double", "double precision":
		target = "DOUBLE"
	case "numeric", "decimal":
		var a string
		a, err = argList(2)
		target = "DECIMAL" + a
	case "text", "varchar", "char", "character", "bpchar", "string", "name":
		var a string
		a, err = argList(1)
		target = "CHAR" + a
	case "timestamp", "timestamptz", "datetime":
		target = "DATETIME(6)"
		if len(args) > 0 {
			var a string
			a, err = argList(1)
			target = "DATETIME" + a
		}
	case "date":
		target = "DATE"
	case "bool", "boolean":
		target = "boolean"
	case "interval":
		target = "interval"
	default:
		return "", 0, ps.errAt(namePos, sqlerr.FeatureNotSupported, "cast to type %s is not supported", name)
	}
	if err != nil {
		return "", 0, err
	}
	return target, k, nil
}

// pgLiteralCast rewrites a literal cast to boolean or interval.
func (ps *parseState) pgLiteralCast(lit token, to string) (string, error) {
	src := ps.src
	val := lit.text(src)
	if lit.kind == tokString {
		val = strings.ReplaceAll(val[1:len(val)-1], "''", "'")
	} else if lit.kind != tokNumber {
		return "", ps.errAt(lit.pos, sqlerr.FeatureNotSupported, "::%s is supported only on a literal", to)
	}
	v := strings.ToLower(strings.TrimSpace(val))
	if to == "boolean" {
		switch v {
		case "t", "true", "y", "yes", "on", "1":
			return "TRUE", nil
		case "f", "false", "n", "no", "off", "0":
			return "FALSE", nil
		}
		return "", ps.errAt(lit.pos, sqlerr.InvalidTextRep, "invalid input syntax for type boolean: %q", val)
	}
	f := strings.Fields(v)
	if len(f) == 2 {
		if _, err := strconv.ParseFloat(f[0], 64); err == nil {
			if unit, ok := intervalUnits[f[1]]; ok {
				return "INTERVAL '" + f[0] + "' " + unit, nil
			}
		}
	}
	return "", ps.errAt(lit.pos, sqlerr.FeatureNotSupported,
		"interval literal %q is not supported; write 'n unit' with one unit, or INTERVAL n UNIT", val)
}

var intervalUnits = map[string]string{
	"microsecond": "MICROSECOND", "microseconds": "MICROSECOND", "us": "MICROSECOND",
	"second": "SECOND", "seconds": "SECOND", "sec": "SECOND", "secs": "SECOND", "s": "SECOND",
	"minute": "MINUTE", "minutes": "MINUTE", "min": "MINUTE", "mins": "MINUTE", "m": "MINUTE",
	"hour": "HOUR", "hours": "HOUR", "h": "HOUR",
	"day": "DAY", "days": "DAY", "d": "DAY",
	"week": "WEEK", "weeks": "WEEK",
	"month": "MONTH", "months": "MONTH", "mon": "MONTH", "mons": "MONTH",
	"year": "YEAR", "years": "YEAR", "y": "YEAR",
}
