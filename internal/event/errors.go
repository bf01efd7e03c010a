package event

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// ErrInvalid matches, with errors.Is, every error that reports an invalid
// event or batch.
var ErrInvalid = errors.New("invalid event")

// FieldError says which part of an event is invalid and why. Validation
// methods return it as *FieldError; errors.Is(err, ErrInvalid) is true for it.
type FieldError struct {
	// Field is a JSON pointer (RFC 6901) to the offending value, such as
	// "/companyId" or "/currentValue/id", prefixed with the item's index in a
	// batch ("/2/companyId"). It is "" when the body as a whole is at fault
	// (not JSON, not an object, an empty batch).
	Field string
	// Detail says what is wrong, for people.
	Detail string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Detail
	}
	return e.Field + ": " + e.Detail
}

// Is reports whether target is ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func notJSON(detail string) *FieldError {
	return &FieldError{Detail: "body is not valid JSON: " + detail}
}

// Human wording for the patterns of envelope.schema.json.
var patternDetail = map[string]string{
	"^[A-Za-z0-9_-]{1,64}$":  "must be 1 to 64 characters from A-Z, a-z, 0-9, _ and -",
	"^[A-Z][A-Z0-9_]{0,63}$": "must be 1 to 64 characters from A-Z, 0-9 and _, starting with a letter",
}

var printer = message.NewPrinter(language.English)

// schemaError turns a jsonschema validation error into a FieldError naming
// the most specific cause: the leaf with the deepest instance location (ties
// go to the smallest pointer, so that the result does not depend on map
// order). prefix is the pointer of the validated value in the envelope.
func schemaError(err error, prefix string) *FieldError {
	ve, ok := errors.AsType[*jsonschema.ValidationError](err)
	if !ok {
		return &FieldError{Field: prefix, Detail: err.Error()}
	}
	var best *FieldError
	bestDepth := -1
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		loc, detail := describe(e)
		field := prefix + pointer(loc)
		if len(loc) > bestDepth || len(loc) == bestDepth && field < best.Field {
			best, bestDepth = &FieldError{Field: field, Detail: detail}, len(loc)
		}
	}
	walk(ve)
	if best == nil { // not produced by the library, but never report nothing
		return &FieldError{Field: prefix, Detail: "does not match its schema"}
	}
	return best
}

// describe returns the instance location a leaf error is about, and its
// message. Errors about an object's properties name the property.
func describe(e *jsonschema.ValidationError) ([]string, string) {
	loc := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		return append(slices.Clip(loc), k.Missing[0]), "missing property"
	case *kind.AdditionalProperties:
		return append(slices.Clip(loc), slices.Min(k.Properties)), "unknown property"
	case *kind.Type:
		return loc, "must be " + strings.Join(k.Want, " or ") + ", got " + k.Got
	case *kind.Pattern:
		if d, ok := patternDetail[k.Want]; ok {
			return loc, d
		}
		return loc, "must match the pattern " + strconv.Quote(k.Want)
	case *kind.Format:
		return loc, fmt.Sprintf("must be a valid %s: %v", k.Want, k.Err)
	case *kind.MaxLength:
		if k.Want == 0 {
			return loc, "must be empty"
		}
	}
	return loc, e.ErrorKind.LocalizedString(printer)
}

// pointer encodes tokens as a JSON pointer.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		if strings.ContainsAny(t, "~/") {
			t = strings.NewReplacer("~", "~0", "/", "~1").Replace(t)
		}
		b.WriteString(t)
	}
	return b.String()
}
