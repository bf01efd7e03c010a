package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/nats-io/nats.go"

	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/signing"
	"github.com/bluehq/webhooks/internal/webhook"
)

// EventPublisher publishes the platform's own events into the pipeline.
type EventPublisher interface {
	PublishWithHeader(ctx context.Context, e event.Envelope, h nats.Header) (string, error)
}

// Backfiller re-dispatches history to one webhook.
type Backfiller interface {
	Backfill(ctx context.Context, w *registry.Entry, since time.Time, cursor string, limit int) (dispatch.BackfillResult, error)
}

// RotateBody is the request to rotate a webhook's secret; it may be left
// out.
type RotateBody struct {
	Secret  string `json:"secret,omitempty" minLength:"16" maxLength:"256" doc:"The new secret; generated (whsec_...) when omitted."`
	Overlap string `json:"overlap,omitempty" doc:"How long the previous secret stays valid (Go duration, up to 168h); default 24h. Deliveries carry one webhook-signature per valid secret meanwhile."`
}

// RotateResult is the webhook with its new secret, shown once. (Aliases of
// unnamed structs: the OpenAPI schemas keep the operations' names.)
type RotateResult = struct {
	webhook.Public
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt,omitempty"`
}

type rotateOut struct {
	Body RotateResult
}

// TestResult names the WEBHOOK_TEST event sent and its delivery.
type TestResult = struct {
	EventID    string `json:"eventId"`
	DeliveryID string `json:"deliveryId" doc:"Follow it with GET /v1/deliveries/{id}."`
}

type testOut struct {
	Body TestResult
}

// BackfillBody selects the history to send again.
type BackfillBody struct {
	Since  time.Time `json:"since" doc:"Re-send events published since this time (RFC 3339); EVENTS keeps EVENTS_MAX_AGE of history."`
	Cursor string    `json:"cursor,omitempty" maxLength:"512" doc:"nextCursor of the previous call of this webhook's backfill, as it was returned, to continue."`
	Limit  int       `json:"limit,omitempty" minimum:"1" maximum:"10000" default:"1000" doc:"Events read per call."`
}

type backfillOut struct {
	Body dispatch.BackfillResult
}

func (s *Server) registerActions() {
	api := s.humaAPI
	tags := []string{"Webhooks"}
	huma.Register(api, huma.Operation{
		OperationID: "rotate-webhook-secret", Method: http.MethodPost, Path: "/v1/webhooks/{id}/rotate-secret",
		Summary:     "Rotate the signing secret",
		Description: "Returns the new secret once. The previous one stays valid for the overlap: deliveries then carry one webhook-signature per valid secret, X-Signature stays keyed with the oldest valid secret and X-Signature-Next carries the signatures of the newer ones; after the overlap X-Signature is keyed with the new secret and X-Signature-Next is gone.",
		Tags:        tags, Errors: []int{400, 401, 404},
	}, func(ctx context.Context, in *struct {
		ID   string      `path:"id" maxLength:"64"`
		Body *RotateBody // optional: no body rotates to a generated secret with the default overlap
	}) (*rotateOut, error) {
		var body RotateBody
		if in.Body != nil {
			body = *in.Body
		}
		out, err := s.RotateSecret(ctx, companyOf(ctx), in.ID, body)
		return &rotateOut{Body: out}, err
	})

	huma.Register(api, huma.Operation{
		OperationID: "test-webhook", Method: http.MethodPost, Path: "/v1/webhooks/{id}/test",
		Summary:     "Send a WEBHOOK_TEST event to this webhook only",
		Description: "The event goes through the real pipeline (publish, dispatch, signed delivery, retries) to this webhook alone.",
		Tags:        tags, DefaultStatus: http.StatusAccepted, Errors: []int{401, 404, 409},
	}, func(ctx context.Context, in *struct {
		ID string `path:"id" maxLength:"64"`
	}) (*testOut, error) {
		out, err := s.SendTest(ctx, companyOf(ctx), in.ID)
		return &testOut{Body: out}, err
	})

	huma.Register(api, huma.Operation{
		OperationID: "backfill-webhook", Method: http.MethodPost, Path: "/v1/webhooks/{id}/backfill",
		Summary:     "Send the retained event history since a time to this webhook",
		Description: "Reads the company's events since `since` (through the webhook's scope and filter) and queues them for this webhook only, with new delivery ids and the original event ids. Bounded by limit; resume with nextCursor. Repeating a call queues nothing twice.",
		Tags:        tags, DefaultStatus: http.StatusAccepted, Errors: []int{400, 401, 404, 409},
	}, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body BackfillBody
	}) (*backfillOut, error) {
		if in.Body.Since.After(time.Now()) {
			return nil, huma.Error400BadRequest("since is in the future", &huma.ErrorDetail{Location: "body.since", Message: "must not be in the future", Value: in.Body.Since})
		}
		w, err := s.store.Get(ctx, companyOf(ctx), in.ID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		if !w.Enabled {
			return nil, huma.Error409Conflict("the webhook is disabled: enable it before a backfill")
		}
		entry, err := s.store.Entry(w, s.cfg.CompileFilter)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		res, err := s.cfg.Backfiller.Backfill(ctx, entry, in.Body.Since, in.Body.Cursor, defaultLimit(in.Body.Limit, 1000))
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return &backfillOut{Body: res}, nil
	})
}

// RotateSecret gives a webhook a new secret (b.Secret, or a generated one)
// and returns it, shown once; the previous one stays valid for b.Overlap
// (default RotationOverlap). Errors are problem details naming the field.
func (s *Server) RotateSecret(ctx context.Context, companyID, id string, b RotateBody) (RotateResult, error) {
	overlap := s.cfg.RotationOverlap
	if b.Overlap != "" {
		d, err := time.ParseDuration(b.Overlap)
		if err != nil || d < 0 || d > webhook.MaxRotationOverlap {
			return RotateResult{}, huma.Error400BadRequest("invalid overlap", &huma.ErrorDetail{Location: "body.overlap", Message: fmt.Sprintf("must be a duration like 24h, between 0s and %.0fh", webhook.MaxRotationOverlap.Hours()), Value: b.Overlap})
		}
		overlap = d
	}
	if err := webhook.CheckSecret(b.Secret); err != nil {
		return RotateResult{}, s.fail(ctx, err)
	}
	secret := b.Secret
	if secret == "" {
		var err error
		if secret, err = signing.NewSecret(); err != nil {
			return RotateResult{}, s.fail(ctx, err)
		}
	}
	var previousExpire *time.Time
	w, err := s.store.Update(ctx, companyID, id, func(w *webhook.Webhook) error {
		previousExpire = w.Rotate(s.store.SealSecret(secret), overlap, time.Now())
		return nil
	})
	if err != nil {
		return RotateResult{}, s.fail(ctx, err)
	}
	out := RotateResult{Public: view(w), PreviousSecretExpiresAt: previousExpire}
	out.Secret = &secret
	return out, nil
}

// SendTest sends a WEBHOOK_TEST event through the pipeline to one enabled
// webhook and names its delivery. Errors are problem details (409 for a
// disabled webhook).
func (s *Server) SendTest(ctx context.Context, companyID, id string) (TestResult, error) {
	if s.cfg.Events == nil {
		return TestResult{}, s.fail(ctx, errors.New("api: test events need Config.Events"))
	}
	w, err := s.store.Get(ctx, companyID, id)
	if err != nil {
		return TestResult{}, s.fail(ctx, err)
	}
	if !w.Enabled {
		return TestResult{}, huma.Error409Conflict("the webhook is disabled: enable it before testing it")
	}
	cur, err := json.Marshal(w.Public())
	if err != nil {
		return TestResult{}, s.fail(ctx, err)
	}
	e := event.Envelope{ID: event.NewID(), Type: "WEBHOOK_TEST", OccurredAt: time.Now().UTC(), CompanyID: w.CompanyID, CurrentValue: cur}
	eventID, err := s.cfg.Events.PublishWithHeader(ctx, e, nats.Header{job.HeaderTarget: []string{w.ID}})
	if err != nil {
		return TestResult{}, s.fail(ctx, err)
	}
	return TestResult{EventID: eventID, DeliveryID: job.DeliveryID(eventID, w.ID, e.OccurredAt)}, nil
}
