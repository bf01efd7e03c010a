// Package attempt is the delivery log's record: one per delivery attempt,
// kept durably in the ATTEMPTS stream and, capped, per webhook in the shared
// state for quick listing.
package attempt

import (
	"strconv"
	"time"

	"github.com/bluehq/webhooks/internal/jsonenc"
)

// Outcomes of an attempt.
const (
	Delivered = "delivered" // 2xx: done
	Retry     = "retry"     // failed; the next attempt is scheduled
	Dead      = "dead"      // failed; attempts exhausted, copied to DEAD
	Parked    = "parked"    // webhook disabled; copied to DEAD for replay
	Deferred  = "deferred"  // not attempted: circuit open; held until it may close
	Dropped   = "dropped"   // webhook deleted
	// HandedBack: not attempted: the endpoint was at its in-flight cap;
	// the job goes back to its shard for a moment (never logged as an
	// attempt, only counted).
	HandedBack = "handed_back"
)

// MaxResponse is how much of the response body a record keeps.
const MaxResponse = 1024

// Record is one attempt.
type Record struct {
	DeliveryID    string     `json:"deliveryId"`
	WebhookID     string     `json:"webhookId"`
	CompanyID     string     `json:"-"`
	EventID       string     `json:"eventId"`
	EventType     string     `json:"eventType"`
	Attempt       int        `json:"attempt"`
	At            time.Time  `json:"at"`
	Outcome       string     `json:"outcome"`
	StatusCode    int        `json:"statusCode,omitempty"`
	LatencyMs     float64    `json:"latencyMs"`
	ErrorClass    string     `json:"errorClass,omitempty" enum:"forbidden_address,dns,timeout,refused,reset,tls,headers_too_large,connection,redirect,http_status" doc:"Why the attempt failed; absent on success. forbidden_address: the host resolves to an address deliveries may not reach (private, loopback, link-local, reserved); dns: the host name did not resolve; timeout: no complete answer within the delivery timeout; refused: connection refused; reset: the connection was reset or closed before an answer; tls: TLS handshake or certificate; headers_too_large: the response headers exceeded the size limit; connection: another network failure; redirect: a 3xx (redirects are not followed); http_status: another non-2xx status."`
	Error         string     `json:"error,omitempty" doc:"errorClass in words (for http_status, the status). Network details, such as addresses, are never shown."`
	Response      string     `json:"response,omitempty" doc:"The first 1 KiB of the response body."`
	TraceID       string     `json:"traceId,omitempty"`
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	Request       Request    `json:"request,omitzero" doc:"What the request carried beyond the rest of the record; absent when nothing was sent."`
}

// AppendJSON appends r as json.Marshal writes it (the same fields, order and
// escaping), without reflection: every delivery writes one record.
func (r *Record) AppendJSON(b []byte) []byte {
	b = append(b, `{"deliveryId":`...)
	b = jsonenc.AppendString(b, r.DeliveryID)
	b = append(b, `,"webhookId":`...)
	b = jsonenc.AppendString(b, r.WebhookID)
	b = append(b, `,"eventId":`...)
	b = jsonenc.AppendString(b, r.EventID)
	b = append(b, `,"eventType":`...)
	b = jsonenc.AppendString(b, r.EventType)
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(r.Attempt), 10)
	b = append(b, `,"at":`...)
	b = appendTime(b, r.At)
	b = append(b, `,"outcome":`...)
	b = jsonenc.AppendString(b, r.Outcome)
	if r.StatusCode != 0 {
		b = append(b, `,"statusCode":`...)
		b = strconv.AppendInt(b, int64(r.StatusCode), 10)
	}
	b = append(b, `,"latencyMs":`...)
	b = jsonenc.AppendFloat(b, r.LatencyMs)
	for _, f := range [...]struct{ key, v string }{
		{`,"errorClass":`, r.ErrorClass}, {`,"error":`, r.Error}, {`,"response":`, r.Response}, {`,"traceId":`, r.TraceID},
	} {
		if f.v != "" {
			b = append(b, f.key...)
			b = jsonenc.AppendString(b, f.v)
		}
	}
	if r.NextAttemptAt != nil {
		b = append(b, `,"nextAttemptAt":`...)
		b = appendTime(b, *r.NextAttemptAt)
	}
	if r.Request != (Request{}) {
		b = append(b, `,"request":`...)
		b = r.Request.appendJSON(b)
	}
	return append(b, '}')
}

// appendTime writes t as time.Time's MarshalJSON does, for the years it
// accepts (0 to 9999).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
