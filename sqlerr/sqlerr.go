// Package sqlerr defines Sluice's typed errors: every error a user can see
// carries the phase that raised it and a stable code (the SQLSTATE the wire
// server reports), so callers wrap errors freely with %w and the code
// survives.
package sqlerr

import (
	"errors"
	"fmt"
)

// Phase is where an error arose.
type Phase uint8

// The phases.
const (
	Parse Phase = iota + 1
	Plan
	Execution
	Resource
	Internal
)

// Stable codes (Postgres SQLSTATE values).
const (
	SyntaxError          = "42601"
	UndefinedTable       = "42P01"
	UndefinedColumn      = "42703"
	UndefinedFunction    = "42883"
	AmbiguousColumn      = "42702"
	DuplicateTable       = "42P07"
	DuplicateObject      = "42710"
	UndefinedObject      = "42704"
	DatatypeMismatch     = "42804"
	GroupingError        = "42803"
	WrongObjectType      = "42809"
	FeatureNotSupported  = "0A000"
	DependentObjects     = "2BP01"
	InvalidParameter     = "22023"
	DataException        = "22000"
	NumericOutOfRange    = "22003"
	DivisionByZero       = "22012"
	InvalidTextRep       = "22P02"
	InvalidDatetime      = "22007"
	DatetimeOverflow     = "22008"
	StringTooLong        = "22001"
	NotNullViolation     = "23502"
	UniqueViolation      = "23505"
	QueryCanceled        = "57014"
	TooManyConnections   = "53300"
	ProgramLimitExceeded = "54000"
	InternalError        = "XX000"
)

// InvalidZoneDisplacement is Postgres's invalid_time_zone_displacement_value:
// a date/time whose zone offset is out of range (+16:00).
const InvalidZoneDisplacement = "22009"

// Error is a user-facing error.
type Error struct {
	Phase Phase
	Code  string
	Msg   string
	// Position is the 1-based character offset in the statement text the
	// error points at, or 0.
	Position int
	// Line and Column locate Position (1-based), when known.
	Line, Column int
	// Detail and Hint are optional extra lines.
	Detail, Hint string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s at line %d, column %d", e.Msg, e.Line, e.Column)
	}
	return e.Msg
}

// New returns an Error with a formatted message.
func New(phase Phase, code, format string, args ...any) *Error {
	return &Error{Phase: phase, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Planf returns a plan-phase error.
func Planf(code, format string, args ...any) *Error { return New(Plan, code, format, args...) }

// Execf returns an execution-phase error.
func Execf(code, format string, args ...any) *Error { return New(Execution, code, format, args...) }

// As finds the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Code returns the code of the first *Error in err's chain, or InternalError.
func Code(err error) string {
	if e, ok := As(err); ok {
		return e.Code
	}
	return InternalError
}
