// Package ingest is the HTTP face of publishing: POST /v1/events takes one
// event envelope or an array of them, validates them all (all or nothing,
// the companies included: a token bound to one company publishes for it
// only), publishes them durably, and answers 202 with the accepted ids.
package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/bluehq/webhooks/internal/bearer"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/problem"
	"github.com/bluehq/webhooks/internal/telemetry"
)

// Publisher publishes events the handler has validated with its
// catalogue (pkg/publish's Client).
type Publisher interface {
	Catalogue() *event.Catalogue
	PublishChecked(ctx context.Context, events []event.Checked) ([]string, error)
}

// Config configures the handler. A zero field takes its default (see
// WithDefaults).
type Config struct {
	// Tokens are the bearer tokens allowed to publish, each for the company
	// it is bound to; empty allows anyone (development only: production
	// refuses to start without tokens).
	Tokens Tokens
	// MaxBody bounds a request body, in bytes; larger bodies get 413
	// (event.DefaultMaxBytes).
	MaxBody int64
	Logger  *slog.Logger // discard
	Tracer  trace.Tracer // no spans
}

// WithDefaults returns c with each zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.MaxBody == 0 {
		c.MaxBody = event.DefaultMaxBytes
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Tracer == nil {
		c.Tracer = noop.NewTracerProvider().Tracer("")
	}
	return c
}

func (c Config) validate() error {
	if c.MaxBody < 1 {
		return fmt.Errorf("ingest: Config.MaxBody must be positive, got %d", c.MaxBody)
	}
	return nil
}

// Handler serves POST /v1/events.
type Handler struct {
	pub Publisher
	cfg Config
	log *slog.Logger
}

// New returns the ingest handler. An error names the Config field that is
// out of range.
func New(pub Publisher, cfg Config) (*Handler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Handler{pub: pub, cfg: cfg, log: cfg.Logger}, nil
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
	binding, ok := h.authorize(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ingest"`)
		refuse(w, problem.Problem{Status: http.StatusUnauthorized, Detail: "missing or unknown bearer token"})
		return
	}
	if !jsonContentType(r.Header.Get("Content-Type")) {
		refuse(w, problem.Problem{Status: http.StatusUnsupportedMediaType, Detail: "Content-Type must be application/json (or an application/...+json type), in UTF-8"})
		return
	}
	body, p := h.read(w, r)
	if p != nil {
		problem.Write(w, *p)
		return
	}
	events, p := h.check(body, binding)
	if p != nil {
		problem.Write(w, *p)
		return
	}
	ids, err := h.pub.PublishChecked(r.Context(), events)
	if err != nil {
		h.log.ErrorContext(ctx, "ingest: publish failed", "err", err)
		w.Header().Set("Retry-After", "1")
		problem.Write(w, problem.Problem{Status: http.StatusServiceUnavailable, Detail: "events could not be stored; retry with the same ids (they are deduplicated)"})
		return
	}
	span.SetAttributes(attribute.Int("webhooks.events", len(ids)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(acceptedJSON(ids))
}

// authorize returns what the request's token may publish for.
func (h *Handler) authorize(r *http.Request) (binding string, ok bool) {
	if len(h.cfg.Tokens) == 0 {
		return AllCompanies, true
	}
	return bearer.Find(h.cfg.Tokens, r.Header.Get("Authorization"))
}

// refuse answers a request whose body it has not read, and closes the
// connection: otherwise the server would read up to 256 KiB of that body,
// at the client's pace, before it sent the answer and after.
func refuse(w http.ResponseWriter, p problem.Problem) {
	problem.CloseUnread(w)
	problem.Write(w, p)
}

// jsonContentType reports whether a request's Content-Type is JSON in
// UTF-8: application/json or application/<something>+json, with no
// charset or charset=utf-8. None at all is taken for JSON.
func jsonContentType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	if cs, set := params["charset"]; set && !strings.EqualFold(cs, "utf-8") {
		return false
	}
	sub, ok := strings.CutPrefix(mt, "application/")
	return ok && (sub == "json" || len(sub) > len("+json") && strings.HasSuffix(sub, "+json"))
}

// read reads the body within MaxBody.
func (h *Handler) read(w http.ResponseWriter, r *http.Request) ([]byte, *problem.Problem) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case err == nil:
		return body, nil
	case errors.As(err, &tooLarge):
		return nil, &problem.Problem{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("body is larger than the limit of %d bytes", h.cfg.MaxBody)}
	case errors.As(err, &netErr) && netErr.Timeout():
		return nil, &problem.Problem{Status: http.StatusRequestTimeout, Detail: "the body did not arrive within the server's read timeout"}
	default:
		return nil, &problem.Problem{Status: http.StatusBadRequest, Detail: "reading body: " + err.Error()}
	}
}

// check validates the body (all or nothing) and the companies of its
// events against the token's binding.
func (h *Handler) check(body []byte, binding string) ([]event.Checked, *problem.Problem) {
	if at, offset, bad := invalidUTF8(body); bad {
		return nil, &problem.Problem{Status: http.StatusBadRequest, Detail: "body is not valid UTF-8; nothing was published",
			Errors: []problem.Detail{{Location: location(at), Message: fmt.Sprintf("invalid UTF-8 at byte %d", offset+1)}}}
	}
	events, err := h.pub.Catalogue().CheckBatch(body)
	if fe, isField := errors.AsType[*event.FieldError](err); isField {
		loc := location(fe.Field)
		return nil, &problem.Problem{Status: http.StatusBadRequest, Detail: "event rejected; nothing was published: " + loc + ": " + fe.Detail,
			Errors: []problem.Detail{{Location: loc, Message: fe.Detail}}}
	}
	if err != nil { // CheckBatch returns nothing else
		return nil, &problem.Problem{Status: http.StatusBadRequest, Detail: "event rejected; nothing was published: " + err.Error()}
	}
	for i, e := range events {
		if allows(binding, e.CompanyID) {
			continue
		}
		field := "/companyId"
		if isBatch(body) {
			field = fmt.Sprintf("/%d/companyId", i)
		}
		return nil, &problem.Problem{Status: http.StatusForbidden, Detail: "this token may not publish for company " + e.CompanyID + "; nothing was published",
			Errors: []problem.Detail{{Location: location(field), Message: "is not the company this token is bound to"}}}
	}
	return events, nil
}

// location is the problem location of a JSON pointer into the body, each
// of its keys clipped: a key is part of the request, and may be huge.
func location(pointer string) string {
	tokens := strings.Split(pointer, "/")
	for i, t := range tokens {
		tokens[i] = problem.Clip(t)
	}
	return "body" + strings.Join(tokens, "/")
}

// isBatch reports whether body is an array of events, as CheckBatch tells.
func isBatch(body []byte) bool {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '['
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
