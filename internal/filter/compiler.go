package filter

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"

	"github.com/bluehq/webhooks/internal/event"
)

// Limits and defaults.
const (
	// MaxLength is the longest expression, in bytes, that Check accepts
	// (the same as webhook.MaxFilterLen).
	MaxLength = 4096
	// DefaultCostLimit is the cost limit of an evaluation unless
	// WithCostLimit says otherwise. A cost unit is roughly one operation:
	// a typical filter costs 5 to 50.
	DefaultCostLimit = 10_000
	// DefaultCacheSize is the number of compiled programs a Compiler keeps
	// unless WithCacheSize says otherwise.
	DefaultCacheSize = 10_000
	// NominalSize is the number of entries that Check assumes for every
	// list and map of the event when it estimates an expression's cost.
	NominalSize = 20
	// DefaultMaxStringSize is how long, in bytes, Check assumes a string of
	// the event that a string function works on may be, unless
	// WithMaxStringSize says otherwise: the default largest event
	// (MAX_EVENT_BYTES).
	DefaultMaxStringSize = event.DefaultMaxBytes

	// interruptCheckFrequency is how many comprehension iterations pass
	// between two checks of the context in Program.MatchContext.
	interruptCheckFrequency = 100
	// maxIssues is the most issues an InvalidError lists; a syntax error
	// is often followed by consequential ones.
	maxIssues = 3
	// regexProgramSizeLimit bounds the size of a compiled RE2 program in
	// matches().
	regexProgramSizeLimit = 2000
)

// Option configures a Compiler.
type Option func(*config) error

type config struct {
	costLimit uint64
	cacheSize int
	maxString uint64
}

// WithCostLimit sets the cost limit of one evaluation, which is also the
// bound on an expression's estimated cost at Check. It must be positive.
func WithCostLimit(limit uint64) Option {
	return func(c *config) error {
		if limit == 0 {
			return fmt.Errorf("%w: cost limit must be positive", ErrOption)
		}
		c.costLimit = limit
		return nil
	}
}

// WithMaxStringSize sets how long, in bytes, Check assumes a string of the
// event that a string function works on may be: the largest event the
// platform accepts. It must be positive.
func WithMaxStringSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("%w: string size must be positive", ErrOption)
		}
		c.maxString = uint64(n)
		return nil
	}
}

// WithCacheSize sets how many compiled programs the Compiler keeps, least
// recently used first out. Zero disables the cache; it must not be negative.
func WithCacheSize(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: cache size must not be negative", ErrOption)
		}
		c.cacheSize = n
		return nil
	}
}

// Compiler checks and compiles filter expressions. It is safe for concurrent
// use.
type Compiler struct {
	env       *cel.Env
	costLimit uint64
	maxString uint64
	cache     *programCache // nil: no cache
}

// NewCompiler returns a Compiler. It returns an error wrapping ErrOption if
// an option is invalid.
func NewCompiler(opts ...Option) (*Compiler, error) {
	cfg := config{costLimit: DefaultCostLimit, cacheSize: DefaultCacheSize, maxString: DefaultMaxStringSize}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	env, err := cel.NewEnv(
		cel.Variable(varName, cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
		pureTimeZones(),
		// JSON numbers are doubles; let them compare with int literals.
		cel.CrossTypeNumericComparisons(true),
		cel.RegexProgramSizeLimit(regexProgramSizeLimit),
		cel.ParserExpressionSizeLimit(MaxLength),
	)
	if err != nil {
		return nil, fmt.Errorf("filter: CEL environment: %w", err)
	}
	c := &Compiler{env: env, costLimit: cfg.costLimit, maxString: cfg.maxString}
	if cfg.cacheSize > 0 {
		c.cache = newProgramCache(cfg.cacheSize)
	}
	return c, nil
}

// Check reports whether expr is a filter to save: one that Compile accepts
// and whose estimated cost is within the cost limit. It returns nil or an
// *InvalidError (wrapping ErrInvalid) whose message says what is wrong and
// where, for the person who wrote expr. Check compiles expr (some
// mistakes, such as an invalid constant regular expression, only show then)
// and caches the program, which the dispatcher will likely need next.
func (c *Compiler) Check(expr string) error {
	p, err := c.Compile(expr)
	if err != nil {
		return err
	}
	return p.tooExpensive
}

// Compile returns the compiled filter of expr, from the cache when it is
// there. It returns the error of Check, except for a cost estimate over
// the limit: a filter saved before the estimate grew stricter keeps
// selecting events, each evaluation bounded by the runtime cost limit.
// Compile as a method value is a registry.FilterCompiler.
func (c *Compiler) Compile(expr string) (*Program, error) {
	if c.cache != nil {
		if p, ok := c.cache.get(expr); ok {
			return p, nil
		}
	}
	ast, err := c.check(expr)
	if err != nil {
		return nil, err
	}
	tooExpensive, err := c.estimate(ast)
	if err != nil {
		return nil, err
	}
	prg, err := c.env.Program(ast,
		cel.CostLimit(c.costLimit),
		cel.InterruptCheckFrequency(interruptCheckFrequency),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		// Planning fails for what the checker lets through, e.g. an
		// invalid constant regular expression.
		return nil, invalid(0, 0, "%s", cleanMessage(err.Error()))
	}
	p := &Program{expr: expr, prg: prg, src: ast.NativeRep().SourceInfo(), costLimit: c.costLimit, tooExpensive: tooExpensive}
	if c.cache != nil {
		p = c.cache.add(p)
	}
	return p, nil
}

func (c *Compiler) check(expr string) (*cel.Ast, error) {
	switch {
	case len(expr) > MaxLength:
		return nil, invalid(0, 0, "the expression is %d bytes long; the limit is %d", len(expr), MaxLength)
	case !utf8.ValidString(expr):
		return nil, invalid(0, 0, "the expression is not valid UTF-8")
	case strings.TrimSpace(expr) == "":
		return nil, invalid(0, 0, "the expression is empty")
	}
	ast, iss := c.env.Compile(expr)
	if iss.Err() != nil {
		return nil, issuesError(iss)
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) {
		if t.IsExactType(cel.DynType) {
			return nil, invalid(0, 0, "the expression must be a condition (type bool), but its type is only known when it runs (dyn); compare the value, e.g. event.currentValue.done == true")
		}
		return nil, invalid(0, 0, "the expression must be a condition (type bool), but its type is %s", t)
	}
	return ast, nil
}

// estimate returns the *InvalidError of an expression whose estimated cost
// is over the limit, or nil; err is for an expression it cannot estimate.
func (c *Compiler) estimate(ast *cel.Ast) (tooExpensive, err error) {
	est, eerr := c.env.EstimateCost(ast, newSizes(ast, c.maxString))
	if eerr != nil {
		return nil, invalid(0, 0, "cannot estimate the cost of the expression: %s", cleanMessage(eerr.Error()))
	}
	if est.Max <= c.costLimit {
		return nil, nil
	}
	return invalid(0, 0, "the expression is too expensive: its estimated cost is %s, the limit is %d. "+
		"The estimate assumes lists and maps of %d entries, and strings of the event as long as an event may be (%d bytes): "+
		"avoid nesting exists, all, map and filter, and functions that scan or build strings "+
		"(contains, matches, replace, split, join, lowerAscii, +) on values of the event; "+
		"==, in, startsWith and endsWith with a literal are cheap",
		costString(est.Max), c.costLimit, NominalSize, c.maxString), nil
}

// costString prints an estimate, which saturates at the largest uint64.
func costString(n uint64) string {
	if n == ^uint64(0) {
		return "unbounded"
	}
	return fmt.Sprint(n)
}

// issuesError turns CEL's issues into an *InvalidError.
func issuesError(iss *cel.Issues) *InvalidError {
	errs := iss.Errors()
	out := &InvalidError{}
	for _, e := range errs {
		if len(out.Issues) == maxIssues {
			break
		}
		is := Issue{Message: cleanMessage(e.Message)}
		if line := e.Location.Line(); line > 0 {
			is.Line, is.Column = line, e.Location.Column()+1
		}
		out.Issues = append(out.Issues, is)
	}
	if len(out.Issues) == 0 {
		out.Issues = append(out.Issues, Issue{Message: cleanMessage(iss.String())})
	}
	return out
}

var (
	// ANTLR lists every token it would have accepted.
	expectingSet = regexp.MustCompile(` expecting \{[^}]*\}`)
	noContainer  = " (in container '')"
	// What is left of "mismatched input 'x' expecting {...}" once the set
	// is gone.
	mismatched = regexp.MustCompile(`(?:mismatched|extraneous) input ('.*')$`)
)

// cleanMessage strips the parts of CEL's messages that mean nothing to the
// author of a filter.
func cleanMessage(msg string) string {
	msg = strings.ReplaceAll(msg, noContainer, "")
	msg = expectingSet.ReplaceAllStringFunc(msg, func(s string) string {
		if len(s) > 60 {
			return ""
		}
		return s
	})
	msg = mismatched.ReplaceAllString(msg, "unexpected $1")
	msg = strings.ReplaceAll(msg, "'<EOF>'", "end of expression")
	msg = strings.ReplaceAll(msg, "<EOF>", "end of expression")
	msg = strings.TrimPrefix(msg, "ERROR: <input>:")
	return strings.TrimSpace(msg)
}
