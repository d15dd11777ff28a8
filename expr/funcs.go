package expr

// Func names a built-in scalar function or operator.
//
// The comment on each Func states the argument types the planner guarantees
// (after inserting casts) and the result type. "num" means all arguments
// share one of BIGINT, DOUBLE or DECIMAL (decimal arguments may differ in
// scale; the result type's scale says what to produce). INT arguments are
// widened to BIGINT by the planner before any arithmetic.
// Unless noted, a NULL argument gives a NULL result.
type Func uint8

// The built-in functions.
const (
	Add    Func = iota + 1 // num + num -> num; int overflow is error 22003
	Sub                    // num - num -> num
	Mul                    // num * num -> num
	Div                    // num / num -> DOUBLE or DECIMAL (MySQL: BIGINT/BIGINT is DECIMAL with scale+4); x/0 is NULL (MySQL)
	IntDiv                 // BIGINT DIV BIGINT -> BIGINT, truncating; x DIV 0 is NULL
	Mod                    // num % num -> num; x % 0 is NULL
	Neg                    // -num -> num

	Eq // a = b, args of one type -> BOOLEAN
	Ne // a <> b
	Lt // a < b
	Le // a <= b
	Gt // a > b
	Ge // a >= b

	And       // BOOLEAN AND BOOLEAN, three-valued: false AND NULL = false
	Or        // BOOLEAN OR BOOLEAN, three-valued: true OR NULL = true
	Not       // NOT BOOLEAN
	IsNull    // x IS NULL -> BOOLEAN, never NULL
	IsNotNull // x IS NOT NULL -> BOOLEAN, never NULL
	In        // args[0] IN (args[1:]...), all one type -> BOOLEAN; NULL if no match and a NULL among them
	Like      // VARCHAR LIKE VARCHAR [, VARCHAR escape] -> BOOLEAN; % and _ wildcards, \ escapes by default

	Coalesce // first non-NULL of args, all one type
	Greatest // largest of args (one type); NULL if any is NULL (MySQL)
	Least    // smallest of args (one type); NULL if any is NULL

	Abs   // ABS(num) -> num
	Round // ROUND(num [, BIGINT digits]) -> same type (DOUBLE rounds half away from zero)
	Floor // FLOOR(num) -> BIGINT for BIGINT, DOUBLE for DOUBLE, DECIMAL(p,0) for DECIMAL
	Ceil  // CEIL(num) -> like FLOOR
	Sqrt  // SQRT(DOUBLE) -> DOUBLE; negative input gives NULL (MySQL)
	Ln    // LN(DOUBLE) -> DOUBLE; x <= 0 gives NULL
	Exp   // EXP(DOUBLE) -> DOUBLE; overflow is error 22003
	Pow   // POW(DOUBLE, DOUBLE) -> DOUBLE

	Lower  // LOWER(VARCHAR) -> VARCHAR
	Upper  // UPPER(VARCHAR) -> VARCHAR
	Concat // CONCAT(VARCHAR...) -> VARCHAR; NULL if any is NULL (MySQL)
	Length // LENGTH(VARCHAR) -> BIGINT, in characters (as CHAR_LENGTH)

	AddInterval // TIMESTAMP + INTERVAL -> TIMESTAMP; DATE + INTERVAL -> DATE if the interval has no time part, else TIMESTAMP
	SubInterval // TIMESTAMP - INTERVAL -> TIMESTAMP; DATE - INTERVAL likewise
	Extract     // EXTRACT(VARCHAR unit literal, TIMESTAMP|DATE) -> BIGINT (unit: YEAR QUARTER MONTH WEEK DAY HOUR MINUTE SECOND MICROSECOND DOW DOY EPOCH; EPOCH gives seconds)
	DateTrunc   // DATE_TRUNC(VARCHAR unit literal, TIMESTAMP) -> TIMESTAMP (unit: year quarter month week day hour minute second)

	// Now is NOW() / CURRENT_TIMESTAMP -> TIMESTAMP(6). Evaluators never
	// see it: a query replaces it with the statement's start time, and a
	// continuous query may use it only in a temporal filter
	// (ts > NOW() - INTERVAL ...), which the planner turns into an operator.
	Now
)

// FuncInfo describes a Func for printing and lookup.
type FuncInfo struct {
	Name  string // SQL name, upper case
	Infix string // operator symbol when printed infix, else ""
}

var funcInfos = map[Func]FuncInfo{
	Add: {"ADD", "+"}, Sub: {"SUB", "-"}, Mul: {"MUL", "*"}, Div: {"DIV", "/"},
	IntDiv: {"INTDIV", "DIV"}, Mod: {"MOD", "%"}, Neg: {"NEG", ""},
	Eq: {"EQ", "="}, Ne: {"NE", "<>"}, Lt: {"LT", "<"}, Le: {"LE", "<="}, Gt: {"GT", ">"}, Ge: {"GE", ">="},
	And: {"AND", "AND"}, Or: {"OR", "OR"}, Not: {"NOT", ""},
	IsNull: {"ISNULL", ""}, IsNotNull: {"ISNOTNULL", ""}, In: {"IN", ""}, Like: {"LIKE", "LIKE"},
	Coalesce: {"COALESCE", ""}, Greatest: {"GREATEST", ""}, Least: {"LEAST", ""},
	Abs: {"ABS", ""}, Round: {"ROUND", ""}, Floor: {"FLOOR", ""}, Ceil: {"CEIL", ""},
	Sqrt: {"SQRT", ""}, Ln: {"LN", ""}, Exp: {"EXP", ""}, Pow: {"POW", ""},
	Lower: {"LOWER", ""}, Upper: {"UPPER", ""}, Concat: {"CONCAT", ""}, Length: {"LENGTH", ""},
	AddInterval: {"ADD_INTERVAL", "+"}, SubInterval: {"SUB_INTERVAL", "-"},
	Extract: {"EXTRACT", ""}, DateTrunc: {"DATE_TRUNC", ""}, Now: {"NOW", ""},
}

// Info returns the printing information of f.
func (f Func) Info() FuncInfo {
	if i, ok := funcInfos[f]; ok {
		return i
	}
	return FuncInfo{Name: "?"}
}

// String returns f's SQL name.
func (f Func) String() string { return f.Info().Name }

// Swapped is the comparison that holds with f's operands swapped: a < b
// as b > a, a >= b as b <= a; = and <> stay. Other functions are
// returned as they are.
func (f Func) Swapped() Func {
	switch f {
	case Lt:
		return Gt
	case Gt:
		return Lt
	case Le:
		return Ge
	case Ge:
		return Le
	}
	return f
}
