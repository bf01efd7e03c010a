package attempt

import (
	"strconv"

	"github.com/bluehq/webhooks/internal/jsonenc"
)

// Request is what an attempt's request carried that the rest of its record
// does not say: the values made for that attempt (its timestamp, its
// signatures, its trace context), the User-Agent of the deliverer that sent
// it, and a digest of the body, so that a body rebuilt later can be checked
// against the one sent. The other headers follow from the record
// (webhook-id is DeliveryID, X-Webhook-Event EventType, X-Webhook-Attempt
// Attempt, Content-Type is always application/json). A signature travels in
// the clear and does not reveal its secret; no secret is ever kept here.
// The zero Request is an attempt that sent nothing (parked) or one logged
// before requests were kept.
type Request struct {
	Timestamp      int64  `json:"timestamp" doc:"The webhook-timestamp header: unix seconds."`
	Signature      string `json:"signature" doc:"The webhook-signature header: one v1 entry per valid secret."`
	XSignature     string `json:"xSignature" doc:"The X-Signature header: hex HMAC-SHA256 of the body."`
	XSignatureNext string `json:"xSignatureNext,omitempty" doc:"The X-Signature-Next header, sent during a rotation's overlap."`
	Traceparent    string `json:"traceparent,omitempty" doc:"The W3C traceparent header, when deliveries send it."`
	UserAgent      string `json:"userAgent"`
	BodySHA256     string `json:"bodySha256" doc:"Hex SHA-256 of the body sent."`
}

// appendJSON appends q as json.Marshal writes it.
func (q *Request) appendJSON(b []byte) []byte {
	b = append(b, `{"timestamp":`...)
	b = strconv.AppendInt(b, q.Timestamp, 10)
	b = append(b, `,"signature":`...)
	b = jsonenc.AppendString(b, q.Signature)
	b = append(b, `,"xSignature":`...)
	b = jsonenc.AppendString(b, q.XSignature)
	if q.XSignatureNext != "" {
		b = append(b, `,"xSignatureNext":`...)
		b = jsonenc.AppendString(b, q.XSignatureNext)
	}
	if q.Traceparent != "" {
		b = append(b, `,"traceparent":`...)
		b = jsonenc.AppendString(b, q.Traceparent)
	}
	b = append(b, `,"userAgent":`...)
	b = jsonenc.AppendString(b, q.UserAgent)
	b = append(b, `,"bodySha256":`...)
	b = jsonenc.AppendString(b, q.BodySHA256)
	return append(b, '}')
}
