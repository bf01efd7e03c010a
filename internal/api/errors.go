package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/problem"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/webhook"
)

var setErrorsOnce sync.Once

// installErrors makes huma's errors this API's: validation failures are
// the client's bad input, 400 rather than 422; a missing field is named
// itself, not its parent object; and a rejected value is echoed only as
// echoed allows.
func installErrors() {
	base := huma.NewError
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
		for _, e := range errs {
			var d *huma.ErrorDetail
			if !errors.As(e, &d) {
				continue
			}
			var prop, number string
			if _, err := fmt.Sscanf(d.Message, "expected required property %s to be present", &prop); err == nil {
				d.Location += "." + prop
			}
			if _, err := fmt.Sscanf(d.Message, "json: cannot unmarshal number %s into", &number); err == nil && d.Location == "body" {
				if body, ok := d.Value.(string); ok {
					if path := numberPath(body, number); path != "" {
						d.Location, d.Message = "body"+path, "number out of range"
					}
				}
			}
			d.Value = echoed(d.Location, d.Value)
		}
		return base(status, msg, errs...)
	}
}

// numberPath is where in the JSON document body the number literal occurs
// (".rateLimit", ".events[1]"; the first in path order if several), or ""
// if it does not: encoding/json names no field when a number overflows a
// float64 in a document decoded into any, which huma does before it
// validates.
func numberPath(body, literal string) string {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber() // keeps the literal, which cannot overflow
	var doc any
	if dec.Decode(&doc) != nil {
		return ""
	}
	var found string
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case json.Number:
			if string(v) == literal && (found == "" || at < found) {
				found = at
			}
		case map[string]any:
			for k, item := range v {
				walk(item, at+"."+k)
			}
		case []any:
			for i, item := range v {
				walk(item, fmt.Sprintf("%s[%d]", at, i))
			}
		}
	}
	walk(doc, "")
	return found
}

// echoed is what an error may show of the value rejected at location:
// nothing of a secret, nor of the whole body (which may hold one), nor of
// a list or an object (their items have locations of their own); a string
// clipped to problem.MaxEcho bytes; any other scalar as it is.
func echoed(location string, v any) any {
	if location == "body" || isSecret(location) {
		return nil
	}
	switch v := v.(type) {
	case string:
		return problem.Clip(v)
	case bool, int, int64, int32, uint, uint64, uint32, float64, float32, json.Number, time.Time:
		return v
	default:
		return nil
	}
}

// isSecret reports whether location names a secret field ("body.secret").
func isSecret(location string) bool {
	name := location[strings.LastIndexAny(location, ".[")+1:]
	return strings.Contains(strings.ToLower(name), "secret")
}

// fail maps a domain error to its HTTP status: the one place that does.
func (s *Server) fail(ctx context.Context, err error) error {
	var fe *webhook.FieldError
	var se huma.StatusError
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &fe):
		return huma.Error400BadRequest("invalid webhook: "+fe.Error(), &huma.ErrorDetail{Location: "body." + fe.Field, Message: fe.Detail})
	case errors.Is(err, stream.ErrBadCursor):
		return huma.Error400BadRequest("invalid cursor", &huma.ErrorDetail{Location: "body.cursor", Message: stream.ErrBadCursor.Error()})
	case errors.Is(err, webhook.ErrNotFound):
		return huma.Error404NotFound("webhook not found")
	case errors.Is(err, inspect.ErrNotFound):
		return huma.Error404NotFound("delivery not found")
	case errors.Is(err, inspect.ErrNotDead):
		return huma.Error404NotFound("delivery not found among dead letters (only dead-lettered or parked deliveries can be redelivered)")
	case errors.Is(err, webhook.ErrConflict):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, webhook.ErrLimit):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, context.Canceled):
		return huma.NewError(499, "request cancelled")
	default:
		s.log.ErrorContext(ctx, "api: internal error", "company", companyOf(ctx), "err", err)
		return huma.Error500InternalServerError("internal error; see the server log")
	}
}
