// Package api is the management API customers use to control their webhooks.
// It is built with huma, so the OpenAPI 3.1 document (/openapi.json) is
// generated from the Go types below and every error is an RFC 9457 problem
// naming the field at fault.
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/webhook"
)

// Tokens maps bearer tokens to the one company each may manage.
type Tokens map[string]string

// ParseTokens reads "tok1=companyA,tok2=companyB".
func ParseTokens(s string) (Tokens, error) {
	out := Tokens{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		tok, company, ok := strings.Cut(part, "=")
		if !ok || tok == "" || !webhook.ValidID(company) {
			return nil, fmt.Errorf("api tokens: entry %q: want token=companyId with companyId of [A-Za-z0-9_-]{1,64}", redact(part))
		}
		out[tok] = company
	}
	return out, nil
}

// company returns the company bound to token, comparing in constant time.
func (t Tokens) company(token string) (string, bool) {
	var found string
	for tok, company := range t {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(token)) == 1 {
			found = company
		}
	}
	return found, found != ""
}

func redact(entry string) string {
	if _, company, ok := strings.Cut(entry, "="); ok {
		return "***=" + company
	}
	return "***"
}

// Config configures the API.
type Config struct {
	Tokens Tokens
	Rules  webhook.Rules
	Logger *slog.Logger
	// Inspector serves the delivery log and dead-letter replays; nil
	// leaves those endpoints out.
	Inspector *inspect.Inspector
	// Events publishes WEBHOOK_TEST; Backfiller serves backfill.
	Events     EventPublisher
	Backfiller Backfiller
	// CompileFilter compiles webhook filters (for backfill).
	CompileFilter registry.FilterCompiler
	// RotationOverlap is how long a rotated-out secret stays valid.
	RotationOverlap time.Duration
	// Portal mints customer portal links (POST /v1/portal/sessions); nil
	// leaves that endpoint out.
	Portal PortalLinks
}

// Server holds the API's dependencies.
type Server struct {
	store      *registry.Store
	cat        *event.Catalogue
	cfg        Config
	log        *slog.Logger
	humaAPI    huma.API
	eventTypes []EventType // bundled once
}

type companyKey struct{}

var setErrorsOnce sync.Once

// New registers every operation on mux and returns the Server.
func New(mux *http.ServeMux, store *registry.Store, cat *event.Catalogue, cfg Config) *Server {
	setErrorsOnce.Do(func() {
		// Validation failures are the client's bad input: 400, not huma's 422.
		base := huma.NewError
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			if status == http.StatusUnprocessableEntity {
				status = http.StatusBadRequest
			}
			for _, e := range errs {
				// Name the missing field itself, not its parent object.
				var d *huma.ErrorDetail
				if errors.As(e, &d) {
					var prop string
					if _, err := fmt.Sscanf(d.Message, "expected required property %s to be present", &prop); err == nil {
						d.Location += "." + prop
					}
				}
			}
			return base(status, msg, errs...)
		}
	})
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RotationOverlap == 0 {
		cfg.RotationOverlap = 24 * time.Hour
	}
	hc := huma.DefaultConfig("Blue Webhooks API", "1.0.0")
	hc.Info.Description = "Manage the webhooks that receive Blue's events. Authenticate with `Authorization: Bearer <token>`; each token manages one company."
	hc.CreateHooks = nil // no $schema links in responses
	hc.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", func(t reflect.Type, hint string) string {
		if t == reflect.TypeFor[webhook.Public]() {
			return "Webhook"
		}
		return huma.DefaultSchemaNamer(t, hint)
	})
	// The docs page is served from the binary (internal/apidocs), not
	// huma's, which loads its script from a CDN.
	hc.DocsPath = ""
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer"},
	}
	hc.Security = []map[string][]string{{"bearer": {}}}
	humaAPI := humago.New(mux, hc)
	s := &Server{store: store, cat: cat, cfg: cfg, log: cfg.Logger, humaAPI: humaAPI}
	humaAPI.UseMiddleware(s.authenticate)
	s.registerWebhooks()
	s.setCapBounds()
	s.registerEventTypes()
	s.registerDeliveries()
	s.registerPortal()
	if cfg.Events != nil && cfg.Backfiller != nil {
		s.registerActions()
	}
	return s
}

// API returns the huma API (to register more operations).
func (s *Server) API() huma.API { return s.humaAPI }

func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	if op := ctx.Operation(); op != nil && len(op.Security) == 1 && len(op.Security[0]) == 0 {
		next(ctx) // public operation
		return
	}
	tok, ok := strings.CutPrefix(ctx.Header("Authorization"), "Bearer ")
	company, known := s.cfg.Tokens.company(strings.TrimSpace(tok))
	if !ok || !known {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="webhooks"`)
		_ = huma.WriteErr(s.humaAPI, ctx, http.StatusUnauthorized, "missing or unknown bearer token")
		return
	}
	next(huma.WithValue(ctx, companyKey{}, company))
}

func companyOf(ctx context.Context) string {
	c, _ := ctx.Value(companyKey{}).(string)
	return c
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
