package delivery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/signing"
	"github.com/bluehq/webhooks/internal/telemetry"
	"github.com/bluehq/webhooks/internal/webhook"
)

// outcome of one HTTP attempt.
type outcome struct {
	status int
	class  string // one of attempt.Classes; "" for a 2xx
	// errText is the error in full, for the log only: a network error
	// names internal addresses and the resolver, so the attempt record
	// carries attempt.Describe of the class instead.
	errText string
	latency time.Duration
	resp    []byte
	retryIn time.Duration // from Retry-After, if any
	traceID string
	req     attempt.Request // what the request carried; zero when none was made
}

func (o outcome) ok() bool { return o.class == "" && o.status >= 200 && o.status < 300 }

func (o outcome) outcomeClass() string {
	if o.ok() {
		return "success"
	}
	return "failure"
}

func (o outcome) record(j *job.Job) attempt.Record {
	return attempt.Record{
		DeliveryID: j.DeliveryID, WebhookID: j.WebhookID, CompanyID: j.CompanyID,
		EventID: j.EventID, EventType: j.EventType, Attempt: j.Attempt, At: time.Now().UTC(),
		StatusCode: o.status, LatencyMs: float64(o.latency.Microseconds()) / 1000,
		ErrorClass: o.class, Error: attempt.Describe(o.class, o.status), Response: string(o.resp), TraceID: o.traceID,
		Request: o.req,
	}
}

var respBufs = sync.Pool{New: func() any { b := make([]byte, attempt.MaxResponse); return &b }}

// attempt makes one signed POST.
func (d *Deliverer) attempt(ctx context.Context, e *registry.Entry, j *job.Job) outcome {
	// The client's Timeout bounds the whole exchange; ctx is for shutdown.
	ctx, span := d.cfg.Tracer.Start(ctx, "POST", telemetry.ClientSpan)
	defer span.End()
	target := e.Target
	if target == nil { // a URL that does not parse: fail as a request would
		u, err := url.Parse(e.URL)
		if err != nil {
			return outcome{class: attempt.ClassConnection, errText: err.Error()}
		}
		target = u
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String("http.request.method", "POST"), attribute.String("server.address", target.Hostname()))
	}
	traceID := span.SpanContext().TraceID()
	now := time.Now()
	// Content-Type, User-Agent, the two X-Webhook-* and the four signature
	// headers; one more for traceparent.
	size := 8
	if d.cfg.SendTraceparent && span.SpanContext().IsValid() {
		size = 9
	}
	h := make(http.Header, size)
	vals := make([]string, 4) // one allocation for the four values
	vals[0], vals[1], vals[2], vals[3] = "application/json", d.cfg.UserAgent, j.EventType, strconv.Itoa(j.Attempt)
	h["Content-Type"] = vals[0:1:1]
	h["User-Agent"] = vals[1:2:2]
	h["X-Webhook-Event"] = vals[2:3:3]
	h["X-Webhook-Attempt"] = vals[3:4:4]
	if d.cfg.SendTraceparent {
		telemetry.Propagator().Inject(ctx, propagation.HeaderCarrier(h))
	}
	e.Signer(now).Sign(h, j.DeliveryID, now.Unix(), j.Body)
	req := sentRequest(h, now.Unix(), j.Body)

	out := exchange(ctx, d.deps.Client, target, h, j.Body)
	out.traceID = traceIDString(traceID)
	out.req = req
	switch {
	case out.status == 0:
		span.SetStatus(codes.Error, out.errText)
	case span.IsRecording():
		span.SetAttributes(attribute.Int("http.response.status_code", out.status))
	}
	return out
}

// exchange POSTs body to u and reads what the receiver answers, within the
// client's bounds (its timeout, its limit on response headers, readBody's
// on the body): the attempt's outcome but for the trace id.
func exchange(ctx context.Context, c *http.Client, u *url.URL, h http.Header, body []byte) outcome {
	start := time.Now()
	resp, err := Post(ctx, c, u, h, body)
	if err != nil {
		return outcome{class: classify(err), errText: err.Error(), latency: time.Since(start)}
	}
	defer resp.Body.Close()
	if b, ok := resp.Body.(*cancelOnClose); ok && resp.StatusCode >= 200 && resp.StatusCode < 300 && resp.ContentLength != 0 {
		defer b.abortAfter(ackedBodyWait).Stop()
	}
	bp := respBufs.Get().(*[]byte)
	defer respBufs.Put(bp)
	n := readBody(resp.Body, *bp)
	out := outcome{status: resp.StatusCode, latency: time.Since(start)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		out.class, out.errText = attempt.ClassRedirect, "redirects are not followed: "+resp.Status
	default:
		out.class, out.errText = attempt.ClassStatus, resp.Status
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			if ra, ok := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				out.retryIn = ra
			}
		}
	}
	if !out.ok() && n > 0 {
		out.resp = bytes.Clone((*bp)[:n]) // kept only for failures: the log's evidence
	}
	return out
}

// sentRequest is what the attempt's record keeps of the request h signed
// at ts: the header values made for this attempt (the signatures, never a
// secret) and the body's digest, so that the portal can show the request as
// it was sent and check a body it rebuilds.
func sentRequest(h http.Header, ts int64, body []byte) attempt.Request {
	first := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	sum := sha256.Sum256(body)
	return attempt.Request{
		Timestamp: ts, Signature: first(signing.HeaderWebhookSignature), XSignature: first(signing.HeaderXSignature),
		XSignatureNext: first(signing.HeaderXSignatureNext), Traceparent: first("Traceparent"),
		UserAgent: first("User-Agent"), BodySHA256: hex.EncodeToString(sum[:]),
	}
}

func traceIDString(id trace.TraceID) string {
	if !id.IsValid() {
		return ""
	}
	return id.String()
}

// record queues one attempt for the durable log (ATTEMPTS) and the recent
// index of its webhook. The job's fate never waits on its log line.
func (d *Deliverer) record(ctx context.Context, r attempt.Record) { d.attempts.add(ctx, r) }

// disabledEvent is the WEBHOOK_DISABLED event for a webhook the platform
// switched off: the webhook before and after, never its secret.
func disabledEvent(before, after *webhook.Webhook) (event.Envelope, error) {
	cur, err := json.Marshal(after.Public())
	if err != nil {
		return event.Envelope{}, err
	}
	prev, err := json.Marshal(before.Public())
	if err != nil {
		return event.Envelope{}, err
	}
	return event.Envelope{
		ID: event.NewID(), Type: "WEBHOOK_DISABLED", OccurredAt: time.Now().UTC(),
		CompanyID: after.CompanyID, CurrentValue: cur, PreviousValue: prev,
	}, nil
}
