package webhook

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/problem"
)

// Limits on webhook fields.
const (
	MaxNameLen    = 200
	MaxURLLen     = 2048
	MaxEvents     = 200
	MaxProjectIDs = 1000
	MaxFilterLen  = 4096
)

// Rules are the checks that depend on the rest of the system.
type Rules struct {
	// KnownEvent reports whether an event type is in the catalogue.
	KnownEvent func(string) bool
	// CheckURL refuses addresses the deliverer would never call (SSRF guard).
	CheckURL func(*url.URL) error
	// CheckFilter compiles a filter expression; nil accepts none.
	CheckFilter func(string) error
	// Limits are the ceilings of rateLimit and maxConcurrency.
	Limits Limits
}

// Validate checks every field of w and returns the first *FieldError.
func (r Rules) Validate(w *Webhook) error {
	name := strings.TrimSpace(w.Name)
	switch {
	case name == "":
		return &FieldError{"name", "must not be empty"}
	case utf8.RuneCountInString(name) > MaxNameLen:
		return &FieldError{"name", fmt.Sprintf("must be at most %d characters", MaxNameLen)}
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		// A name is one line shown to people: no NUL, escape, tab or line break.
		return &FieldError{"name", "must not contain control characters (NUL, tab, line breaks, escapes...)"}
	}
	if err := r.validateURL(w.URL); err != nil {
		return err
	}
	if len(w.Events) > MaxEvents {
		return &FieldError{"events", fmt.Sprintf("must list at most %d event types", MaxEvents)}
	}
	for i, e := range w.Events {
		if r.KnownEvent != nil && !r.KnownEvent(e) {
			return &FieldError{fmt.Sprintf("events[%d]", i), fmt.Sprintf("unknown event type %q (see GET /v1/event-types)", problem.Clip(e))}
		}
	}
	if len(w.ProjectIDs) > MaxProjectIDs {
		return &FieldError{"projectIds", fmt.Sprintf("must list at most %d projects", MaxProjectIDs)}
	}
	for i, p := range w.ProjectIDs {
		if !ValidID(p) {
			return &FieldError{fmt.Sprintf("projectIds[%d]", i), "must match [A-Za-z0-9_-]{1,64}"}
		}
	}
	if err := r.ValidateFilter(w.Filter); err != nil {
		return err
	}
	return r.validateCaps(w)
}

// ValidateFilter checks a filter expression alone, as Validate does ("" is
// no filter), and returns a *FieldError naming "filter". The portal checks
// a filter with it while it is typed.
func (r Rules) ValidateFilter(expr string) error {
	if expr == "" {
		return nil
	}
	if len(expr) > MaxFilterLen {
		return &FieldError{"filter", fmt.Sprintf("must be at most %d bytes", MaxFilterLen)}
	}
	if r.CheckFilter == nil {
		return &FieldError{"filter", "filters are not supported by this server"}
	}
	if err := r.CheckFilter(expr); err != nil {
		return &FieldError{"filter", err.Error()}
	}
	return nil
}

// validateCaps checks the webhook's own caps; 0 is unset.
func (r Rules) validateCaps(w *Webhook) error {
	if w.RateLimit != 0 {
		ceiling := r.Limits.RateCeiling()
		switch {
		case !(w.RateLimit >= MinRateLimit): // NaN too
			return &FieldError{"rateLimit", "must be at least " + decimal(MinRateLimit) + " (deliveries per second)"}
		case w.RateLimit > ceiling:
			return &FieldError{"rateLimit", "must be at most " + decimal(ceiling) + " (deliveries per second), this server's ceiling"}
		}
	}
	if w.MaxConcurrency != 0 {
		if ceiling := r.Limits.ConcurrencyCeiling(); w.MaxConcurrency < 1 || w.MaxConcurrency > ceiling {
			return &FieldError{"maxConcurrency", fmt.Sprintf("must be between 1 and %d (this server's ceiling)", ceiling)}
		}
	}
	return nil
}

func (r Rules) validateURL(raw string) error {
	if raw == "" {
		return &FieldError{"url", "must not be empty"}
	}
	if len(raw) > MaxURLLen {
		return &FieldError{"url", fmt.Sprintf("must be at most %d bytes", MaxURLLen)}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return &FieldError{"url", "is not a valid URL"}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return &FieldError{"url", "scheme must be http or https"}
	}
	if u.Hostname() == "" {
		return &FieldError{"url", "must have a host"}
	}
	if !validPort(u.Port()) {
		return &FieldError{"url", "port must be a number from 1 to 65535"}
	}
	if u.User != nil {
		return &FieldError{"url", "must not carry credentials; use the signing secret"}
	}
	if u.Fragment != "" {
		return &FieldError{"url", "must not have a fragment"}
	}
	if r.CheckURL != nil {
		if err := r.CheckURL(u); err != nil {
			return &FieldError{"url", err.Error()}
		}
	}
	return nil
}

// validPort reports whether a URL's port is absent (the scheme's default)
// or a port one can connect to.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.ParseUint(p, 10, 16)
	return err == nil && n >= 1
}

// decimal formats f without an exponent: 1000000, not 1e+06.
func decimal(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// ValidID reports whether s can be a subject token or key part:
// [A-Za-z0-9_-]{1,64}. It is the event envelope's id rule.
func ValidID(s string) bool { return event.ValidID(s) }
