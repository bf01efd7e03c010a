// Package api is the management API customers use to control their webhooks.
// It is built with huma, so the OpenAPI 3.1 document (/openapi.json) is
// generated from the Go types below and every error is an RFC 9457 problem
// naming the field at fault.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/bluehq/webhooks/internal/bearer"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/problem"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/webhook"
)

// Tokens maps bearer tokens to the one company each may manage.
type Tokens map[string]string

// ParseTokens reads "tok1=companyA,tok2=companyB". A token listed twice is
// an error; no error shows a token.
func ParseTokens(s string) (Tokens, error) {
	entries, err := bearer.ParseList(s)
	if err != nil {
		return nil, fmt.Errorf("api tokens: %w", err)
	}
	out := Tokens{}
	for _, e := range entries {
		if !e.Bound || !webhook.ValidID(e.Binding) {
			return nil, fmt.Errorf("api tokens: entry %q: want token=companyId with companyId of [A-Za-z0-9_-]{1,64}", e.Redacted())
		}
		out[e.Token] = e.Binding
	}
	return out, nil
}

// Config configures the API. A zero field takes its default (see
// WithDefaults).
type Config struct {
	Tokens Tokens
	Rules  webhook.Rules
	Logger *slog.Logger // discard
	// Inspector serves the delivery log and dead-letter replays; nil
	// leaves those endpoints out.
	Inspector *inspect.Inspector
	// Events publishes WEBHOOK_TEST; Backfiller serves backfill.
	Events     EventPublisher
	Backfiller Backfiller
	// CompileFilter compiles webhook filters (for backfill).
	CompileFilter registry.FilterCompiler
	// RotationOverlap is how long a rotated-out secret stays valid when
	// the call does not say, 0 to webhook.MaxRotationOverlap; 0: not at
	// all, the old secret stops at once.
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

// WithDefaults returns c with each zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	if c.RotationOverlap < 0 || c.RotationOverlap > webhook.MaxRotationOverlap {
		return fmt.Errorf("api: Config.RotationOverlap must be between 0s and %s, got %s", webhook.MaxRotationOverlap, c.RotationOverlap)
	}
	return nil
}

// New registers every operation on mux and returns the Server. An error
// names the Config field that is out of range.
func New(mux *http.ServeMux, store *registry.Store, cat *event.Catalogue, cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	setErrorsOnce.Do(installErrors)
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
	return s, nil
}

// API returns the huma API (to register more operations).
func (s *Server) API() huma.API { return s.humaAPI }

func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	if op := ctx.Operation(); op != nil && len(op.Security) == 1 && len(op.Security[0]) == 0 {
		next(ctx) // public operation
		return
	}
	company, known := bearer.Find(s.cfg.Tokens, ctx.Header("Authorization"))
	if !known {
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="webhooks"`)
		// Refused before the body is read: answer at once and close.
		_, w := humago.Unwrap(ctx)
		problem.CloseUnread(w)
		_ = huma.WriteErr(s.humaAPI, ctx, http.StatusUnauthorized, "missing or unknown bearer token")
		return
	}
	next(huma.WithValue(ctx, companyKey{}, company))
}

func companyOf(ctx context.Context) string {
	c, _ := ctx.Value(companyKey{}).(string)
	return c
}
