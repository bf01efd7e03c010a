package filter

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"

	"github.com/bluehq/webhooks/internal/event"
)

// Program is a compiled filter. It is immutable and safe for concurrent use.
type Program struct {
	expr      string
	prg       cel.Program
	src       *ast.SourceInfo
	costLimit uint64
	// tooExpensive is Check's refusal of an estimate over costLimit, or
	// nil.
	tooExpensive error
}

// String returns the expression.
func (p *Program) String() string { return p.expr }

// Match reports whether the filter is true for e. It decodes e's values for
// this call only; to evaluate several filters on one event, make one
// Activation and use MatchActivation. It returns an error wrapping ErrEval
// if the evaluation fails (a missing key, a type mismatch, the cost limit,
// with ErrCostLimit); the caller then treats the event as not matched.
func (p *Program) Match(e *event.Envelope) (bool, error) {
	a, err := NewActivation(e)
	if err != nil {
		return false, err
	}
	return p.MatchActivation(a)
}

// MatchActivation is Match on an Activation, which may be shared by several
// programs.
func (p *Program) MatchActivation(a *Activation) (bool, error) {
	if a == nil {
		return false, errNilActivation
	}
	out, _, err := p.prg.Eval(a)
	return p.result(out, err)
}

// MatchContext is MatchActivation that also stops, with an error wrapping
// ErrEval and ctx's error, when ctx ends. It allocates a little more than
// MatchActivation, whose evaluations the cost limit already bounds.
func (p *Program) MatchContext(ctx context.Context, a *Activation) (bool, error) {
	if a == nil {
		return false, errNilActivation
	}
	out, _, err := p.prg.ContextEval(ctx, a)
	return p.result(out, err)
}

var errNilActivation = errors.New("filter: nil activation")

func (p *Program) result(out ref.Val, err error) (bool, error) {
	if err != nil {
		return false, p.evalError(err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		// The checker makes the type bool; a custom value could still lie.
		return false, fmt.Errorf("%w: the result is %s, not bool", ErrEval, out.Type().TypeName())
	}
	return bool(b), nil
}

func (p *Program) evalError(err error) error {
	var cancelled interpreter.EvalCancelledError
	if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
		return fmt.Errorf("%w: %w (limit %d)", ErrEval, ErrCostLimit, p.costLimit)
	}
	var celErr *types.Err
	if errors.As(err, &celErr) && celErr.NodeID() != 0 && p.src != nil {
		if loc := p.src.GetStartLocation(celErr.NodeID()); loc.Line() > 0 {
			return fmt.Errorf("%w: line %d, column %d: %w", ErrEval, loc.Line(), loc.Column()+1, err)
		}
	}
	return fmt.Errorf("%w: %w", ErrEval, err)
}
