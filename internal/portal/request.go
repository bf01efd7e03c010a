package portal

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/webhook"
)

// requestHeaders are the headers an attempt sent, as far as they follow
// from its record: the signatures are made with the secret at each attempt
// and not kept.
func requestHeaders(r attempt.Record) [][2]string {
	// The record is written when the attempt ends; it was signed when it
	// began.
	sent := r.At.Add(-time.Duration(r.LatencyMs * float64(time.Millisecond)))
	h := [][2]string{
		{"Content-Type", "application/json"},
		{"User-Agent", delivery.DefaultUserAgent},
		{"X-Webhook-Event", r.EventType},
		{"X-Webhook-Attempt", strconv.Itoa(r.Attempt)},
		{"webhook-id", r.DeliveryID},
		{"webhook-timestamp", strconv.FormatInt(sent.Unix(), 10)},
		{"webhook-signature", "v1,… (one per valid secret; not kept)"},
		{"X-Signature", "… (hex HMAC-SHA256 of the body; not kept)"},
	}
	if r.TraceID != "" {
		h = append(h, [2]string{"traceparent", "00-" + r.TraceID + "-…-01"})
	}
	return h
}

// sentBody is the body a delivery sent, and how it is known.
type sentBody struct {
	Body []byte
	// Exact: kept with the dead letter, byte for byte. Otherwise rebuilt
	// from the retained event and the webhook as it is now.
	Exact bool
	// Gone: neither is kept any more.
	Gone bool
}

// sentBody finds the body of a delivery: the dead letter's when it has
// one, else the event's rendered again for the webhook.
func (p *Portal) sentBody(ctx context.Context, companyID string, wh api.Webhook, recs []attempt.Record) sentBody {
	first := recs[0]
	if j, err := p.cfg.Inspector.DeadLetter(ctx, companyID, first.DeliveryID); err == nil {
		return sentBody{Body: j.Body, Exact: true}
	}
	e, err := p.cfg.Inspector.Event(ctx, companyID, first.EventType, first.EventID, first.At)
	if err != nil {
		if !errors.Is(err, inspect.ErrEventGone) {
			p.log.WarnContext(ctx, "portal: find event", "event", first.EventID, "err", err)
		}
		return sentBody{Gone: true}
	}
	body, err := dispatch.Render(&e, record(wh))
	if err != nil {
		return sentBody{Gone: true}
	}
	return sentBody{Body: body}
}

// record is the registry record of the fields the delivery body shows.
func record(w api.Webhook) *webhook.Webhook {
	return &webhook.Webhook{
		ID: w.ID, UID: w.UID, Name: w.Name, URL: w.URL, Status: w.Status, Enabled: w.Enabled,
		Events: w.Events, ProjectIDs: w.ProjectIDs, CreatedByID: w.CreatedByID, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
}

func notFound(msg string) error { return huma.Error404NotFound(msg) }
