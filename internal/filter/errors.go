package filter

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalid is wrapped by every error that Check and Compile return for
	// an expression they refuse. The error is an *InvalidError.
	ErrInvalid = errors.New("invalid filter")

	// ErrEval is wrapped by every error that a Program returns when an
	// evaluation fails: a missing key, a type mismatch, an exceeded cost
	// limit, an invalid JSON value. The caller treats the event as not
	// matched.
	ErrEval = errors.New("filter evaluation failed")

	// ErrCostLimit is wrapped, with ErrEval, by the error of an evaluation
	// stopped because it exceeded the cost limit.
	ErrCostLimit = errors.New("cost limit exceeded")

	// ErrOption is wrapped by the error NewCompiler returns for an invalid
	// option.
	ErrOption = errors.New("invalid filter option")
)

// Issue is one problem found in an expression.
type Issue struct {
	// Line and Column are 1-based; both are 0 when the issue concerns the
	// whole expression.
	Line, Column int
	Message      string
}

func (i Issue) String() string {
	if i.Line == 0 {
		return i.Message
	}
	return fmt.Sprintf("line %d, column %d: %s", i.Line, i.Column, i.Message)
}

// InvalidError is the error of an expression that Check or Compile refused.
// Its message is meant for the person who wrote the expression.
type InvalidError struct {
	Issues []Issue // at least one
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = is.String()
	}
	return strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(line, col int, format string, args ...any) *InvalidError {
	return &InvalidError{Issues: []Issue{{Line: line, Column: col, Message: fmt.Sprintf(format, args...)}}}
}
