// Package ingest is the HTTP face of publishing: POST /v1/events takes one
// event envelope or an array of them, validates them all (all or nothing),
// publishes them durably, and answers 202 with the accepted ids.
package ingest

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/problem"
	"github.com/bluehq/webhooks/internal/telemetry"
)

// Publisher validates and publishes a JSON body of events.
type Publisher interface {
	PublishJSON(ctx context.Context, raw []byte) ([]string, error)
}

// Config configures the handler.
type Config struct {
	// Tokens are the bearer tokens allowed to publish; empty allows anyone
	// (development only: production refuses to start without tokens).
	Tokens  []string
	MaxBody int64 // bytes; larger bodies get 413
	Logger  *slog.Logger
	Tracer  trace.Tracer // nil: no spans
}

// Handler serves POST /v1/events.
type Handler struct {
	pub Publisher
	cfg Config
	log *slog.Logger
}

// New returns the ingest handler.
func New(pub Publisher, cfg Config) *Handler {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 256 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	return &Handler{pub: pub, cfg: cfg, log: cfg.Logger}
}

// Register adds the route to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/events", h)
}

// Accepted is the 202 response.
type Accepted struct {
	IDs []string `json:"ids"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := telemetry.Propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := h.cfg.Tracer.Start(ctx, "POST /v1/events", trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	r = r.WithContext(ctx)
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ingest"`)
		problem.Write(w, problem.Problem{Status: http.StatusUnauthorized, Detail: "missing or unknown bearer token"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		problem.Write(w, problem.Problem{Status: http.StatusUnsupportedMediaType, Detail: "Content-Type must be application/json"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		problem.Write(w, problem.Problem{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("body is larger than the limit of %d bytes", h.cfg.MaxBody)})
		return
	}
	if err != nil {
		problem.Write(w, problem.Problem{Status: http.StatusBadRequest, Detail: "reading body: " + err.Error()})
		return
	}
	ids, err := h.pub.PublishJSON(r.Context(), body)
	var fe *event.FieldError
	if errors.As(err, &fe) {
		p := problem.Problem{Status: http.StatusBadRequest, Detail: "event rejected; nothing was published: " + fe.Error()}
		p.Errors = []problem.Detail{{Location: "body" + fe.Field, Message: fe.Detail}}
		problem.Write(w, p)
		return
	}
	if err != nil {
		h.log.Error("ingest: publish failed", "err", err)
		w.Header().Set("Retry-After", "1")
		problem.Write(w, problem.Problem{Status: http.StatusServiceUnavailable, Detail: "events could not be stored; retry with the same ids (they are deduplicated)"})
		return
	}
	span.SetAttributes(attribute.Int("webhooks.events", len(ids)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(acceptedJSON(ids))
}

func (h *Handler) authorized(r *http.Request) bool {
	if len(h.cfg.Tokens) == 0 {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	found := 0
	for _, t := range h.cfg.Tokens {
		found |= subtle.ConstantTimeCompare([]byte(tok), []byte(t))
	}
	return found == 1
}

func acceptedJSON(ids []string) []byte {
	b := make([]byte, 0, 16+len(ids)*40)
	b = append(b, `{"ids":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, id...) // ids are validated [A-Za-z0-9_-]
		b = append(b, '"')
	}
	return append(b, "]}\n"...)
}
