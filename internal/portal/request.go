package portal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
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

// requestHeaders are the headers an attempt sent, in the order the
// deliverer sets them: the values made for the attempt from its record's
// Request, the others from the rest of the record. A record logged before
// requests were kept shows what follows from it, and says the rest was not
// kept.
func requestHeaders(r attempt.Record) [][2]string {
	q := r.Request
	if q == (attempt.Request{}) {
		return olderRequestHeaders(r)
	}
	h := [][2]string{
		{"Content-Type", "application/json"},
		{"User-Agent", q.UserAgent},
		{"X-Webhook-Event", r.EventType},
		{"X-Webhook-Attempt", strconv.Itoa(r.Attempt)},
	}
	if q.Traceparent != "" {
		h = append(h, [2]string{"traceparent", q.Traceparent})
	}
	h = append(h, [2]string{"X-Signature", q.XSignature})
	if q.XSignatureNext != "" {
		h = append(h, [2]string{"X-Signature-Next", q.XSignatureNext})
	}
	return append(h,
		[2]string{"webhook-id", r.DeliveryID},
		[2]string{"webhook-timestamp", strconv.FormatInt(q.Timestamp, 10)},
		[2]string{"webhook-signature", q.Signature},
	)
}

// olderRequestHeaders are the headers of a record without its Request, as
// far as they follow from it.
func olderRequestHeaders(r attempt.Record) [][2]string {
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
	// Exact: byte for byte the body sent: kept with the dead letter, or
	// rebuilt from the retained event and the webhook and equal to the
	// digest its attempts recorded.
	Exact bool
	// Differs: rebuilt, but not the body sent (the webhook changed since);
	// SHA256 is the digest of the one sent.
	Differs bool
	SHA256  string
	// Gone: neither is kept any more.
	Gone bool
}

// sentBody finds the body of a delivery: the dead letter's when it has
// one, else the event's rendered again for the webhook and checked against
// the digest its attempts recorded.
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
	b := sentBody{Body: body}
	for _, r := range slices.Backward(recs) {
		if r.Request.BodySHA256 != "" {
			sum := sha256.Sum256(body)
			b.SHA256 = r.Request.BodySHA256
			b.Exact = hex.EncodeToString(sum[:]) == b.SHA256
			b.Differs = !b.Exact
			break
		}
	}
	return b
}

// record is the registry record of the fields the delivery body shows.
func record(w api.Webhook) *webhook.Webhook {
	return &webhook.Webhook{
		ID: w.ID, UID: w.UID, Name: w.Name, URL: w.URL, Status: w.Status, Enabled: w.Enabled,
		Events: w.Events, ProjectIDs: w.ProjectIDs, CreatedByID: w.CreatedByID, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
}

func notFound(msg string) error { return huma.Error404NotFound(msg) }
