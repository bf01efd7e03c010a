// Package job is the contract between the dispatcher and the deliverers: a
// delivery job is a NATS message whose data is the rendered delivery body and
// whose headers carry everything else. The same shape is used for retries
// (scheduled on the DELIVERIES stream) and for dead letters in DEAD.
package job

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Header names. Nats-Msg-Id does not survive a message schedule, so the
// delivery id and attempt travel in headers of our own.
const (
	HeaderDeliveryID  = "Wh-Delivery-Id"
	HeaderAttempt     = "Wh-Attempt"
	HeaderCompanyID   = "Wh-Company-Id"
	HeaderWebhookID   = "Wh-Webhook-Id"
	HeaderEventID     = "Wh-Event-Id"
	HeaderEventType   = "Wh-Event-Type"
	HeaderPublishedAt = "Wh-Published-At" // unix nanoseconds of the event's publish
	HeaderDeadReason  = "Wh-Dead-Reason"
	// HeaderTarget on an EVENT message addresses it to one webhook only,
	// whatever that webhook's scope (WEBHOOK_TEST).
	HeaderTarget = "Wh-Target-Webhook"
)

// ErrMalformed is returned by FromMsg for a message that is not a job.
var ErrMalformed = errors.New("job: malformed message")

// Job is one delivery of one event to one webhook.
type Job struct {
	DeliveryID  string
	CompanyID   string
	WebhookID   string
	EventID     string
	EventType   string
	Attempt     int       // 1 for the first attempt
	PublishedAt time.Time // when the event was published (end-to-end latency)
	Body        []byte
	// Header is the message's full header (trace context included).
	Header nats.Header
}

// DeliveryID derives the id of a delivery of an event to a webhook:
// "dlv_", 8 hex digits of at (unix seconds), 16 hex digits of a hash of the
// event and webhook ids, "_", the webhook id. The same inputs give the same
// id (a re-dispatched event keeps its webhook-id), and the id tells where
// its attempts are logged: the webhook's subject, from about at. A webhook
// id too long to fit is left out (the log is then searched company-wide).
func DeliveryID(eventID, webhookID string, at time.Time) string {
	var in [160]byte // ids are at most 64 characters: no allocation
	sum := sha256.Sum256(append(append(append(in[:0], eventID...), '.'), webhookID...))
	var secs [4]byte
	binary.BigEndian.PutUint32(secs[:], uint32(max(at.Unix(), 0)))
	var out [64]byte
	id := hex.AppendEncode(hex.AppendEncode(append(out[:0], "dlv_"...), secs[:]), sum[:8])
	if len(id)+1+len(webhookID) <= 64 {
		id = append(append(id, '_'), webhookID...)
	}
	return string(id)
}

// ParseDeliveryID returns the time and webhook id a delivery id made by
// DeliveryID carries; ok is false for any other id.
func ParseDeliveryID(id string) (at time.Time, webhookID string, ok bool) {
	rest, found := strings.CutPrefix(id, "dlv_")
	if !found || len(rest) < 24 {
		return time.Time{}, "", false
	}
	secs, err := strconv.ParseUint(rest[:8], 16, 32)
	if err != nil {
		return time.Time{}, "", false
	}
	if _, err := hex.DecodeString(rest[8:24]); err != nil {
		return time.Time{}, "", false
	}
	if len(rest) > 25 && rest[24] == '_' {
		webhookID = rest[25:]
	}
	return time.Unix(int64(secs), 0), webhookID, true
}

// Msg builds the message for subject. The header map of j is reused and
// updated, so trace context and other headers already in it are kept.
func (j *Job) Msg(subject string) *nats.Msg {
	h := j.Header
	if h == nil {
		h = make(nats.Header, 8) // the seven below and Nats-Msg-Id: one map group
	}
	// One allocation for the seven values (nats.Header.Set makes one each).
	v := [...]string{j.DeliveryID, strconv.Itoa(j.Attempt), j.CompanyID, j.WebhookID, j.EventID, j.EventType, strconv.FormatInt(j.PublishedAt.UnixNano(), 10)}
	for i, k := range [...]string{HeaderDeliveryID, HeaderAttempt, HeaderCompanyID, HeaderWebhookID, HeaderEventID, HeaderEventType, HeaderPublishedAt} {
		h[k] = v[i : i+1 : i+1]
	}
	j.Header = h
	return &nats.Msg{Subject: subject, Header: h, Data: j.Body}
}

// FromMsg reads a job from a message's header and data.
func FromMsg(h nats.Header, data []byte) (Job, error) {
	j := Job{
		DeliveryID: h.Get(HeaderDeliveryID),
		CompanyID:  h.Get(HeaderCompanyID),
		WebhookID:  h.Get(HeaderWebhookID),
		EventID:    h.Get(HeaderEventID),
		EventType:  h.Get(HeaderEventType),
		Body:       data,
		Header:     h,
	}
	if j.DeliveryID == "" || j.CompanyID == "" || j.WebhookID == "" {
		return Job{}, fmt.Errorf("%w: missing delivery, company or webhook id", ErrMalformed)
	}
	attempt, err := strconv.Atoi(h.Get(HeaderAttempt))
	if err != nil || attempt < 1 {
		return Job{}, fmt.Errorf("%w: attempt %q", ErrMalformed, h.Get(HeaderAttempt))
	}
	j.Attempt = attempt
	j.PublishedAt = unixNanos(h.Get(HeaderPublishedAt))
	return j, nil
}

func unixNanos(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// CopyHeader copies h for a new publish, without the server's own headers
// (Nats-*: message id, schedule) and without the names in drop.
func CopyHeader(h nats.Header, drop ...string) nats.Header {
	out := make(nats.Header, len(h))
	for k, v := range h {
		if strings.HasPrefix(k, "Nats-") || slices.Contains(drop, k) {
			continue
		}
		out[k] = v
	}
	return out
}
