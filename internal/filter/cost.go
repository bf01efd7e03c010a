package filter

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
)

// maxEnvelopeString bounds the envelope's own strings: ids and the type are
// at most 64 characters (event.ValidID, the type pattern), occurredAt as
// RFC 3339 at most 35.
const maxEnvelopeString = 64

// envelopeStrings are the keys of event that hold one of those strings.
var envelopeStrings = map[string]bool{
	keyID: true, keyType: true, keyOccurredAt: true, keyCompanyID: true, keyProjectID: true, keyActorID: true,
}

// stringWork are the functions whose cost grows with the size of a string
// operand: they scan, search, copy or build strings. Comparisons (==, <)
// are left out: they stop at the first difference, and CEL costs them by
// the smaller operand, usually a literal.
var stringWork = map[string]bool{
	"contains": true, "startsWith": true, "endsWith": true, "matches": true,
	"lowerAscii": true, "upperAscii": true, "replace": true, "split": true, "join": true,
	"trim": true, "reverse": true, "substring": true, "charAt": true, "indexOf": true,
	"lastIndexOf": true, "format": true, "strings.quote": true,
}

// sizes is the size estimator of Check. Every list and map of the event
// has at most NominalSize entries (so comprehensions are costed for a
// typical event), and the envelope's own strings their bound. A value of
// the event that a string function works on may be as long as an event
// may be (maxString): a filter's values come from outside, and CEL's
// runtime cost of replace, split or matches on a 200 KB field is paid in
// full before the cost limit can stop it.
type sizes struct {
	maxString uint64
	// strings holds the ids of the expressions that string functions
	// work on.
	strings map[int64]bool
}

func newSizes(a *cel.Ast, maxString uint64) sizes {
	s := sizes{maxString: maxString, strings: map[int64]bool{}}
	native := a.NativeRep()
	ast.PostOrderVisit(native.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		call := e.AsCall()
		name := call.FunctionName()
		// + costs the size of what it builds, when it builds a string.
		concat := name == "_+_" && native.GetType(e.ID()).IsExactType(types.StringType)
		if !stringWork[name] && !concat {
			return
		}
		if call.IsMemberFunction() {
			s.strings[call.Target().ID()] = true
		}
		for _, arg := range call.Args() {
			s.strings[arg.ID()] = true
		}
	}))
	return s
}

func (s sizes) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	p := n.Path()
	switch {
	case len(p) == 1 && p[0] == varName:
		return &checker.SizeEstimate{Min: uint64(len(eventKeys)), Max: uint64(len(eventKeys))}
	case len(p) == 2 && p[0] == varName && envelopeStrings[p[1]]:
		return &checker.SizeEstimate{Min: 0, Max: maxEnvelopeString}
	case s.strings[n.Expr().ID()]:
		return &checker.SizeEstimate{Min: 0, Max: s.maxString}
	}
	return &checker.SizeEstimate{Min: 0, Max: NominalSize}
}

func (sizes) EstimateCallCost(function, overloadID string, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	return nil
}
