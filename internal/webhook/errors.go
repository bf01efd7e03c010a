package webhook

import (
	"errors"
	"fmt"
)

// Errors of the registry. The API maps each to one HTTP status.
var (
	ErrNotFound = errors.New("webhook not found")
	ErrConflict = errors.New("webhook was changed concurrently")
	ErrLimit    = errors.New("webhook limit reached")
	ErrInvalid  = errors.New("invalid webhook")
)

// FieldError names the field of a webhook that is not valid. errors.Is(err,
// ErrInvalid) holds for every FieldError.
type FieldError struct {
	Field  string // JSON name, e.g. "url" or "events[2]"
	Detail string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Detail) }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }
