// Package signing produces the signatures attached to every outgoing webhook
// delivery.
//
// Each delivery carries two independent signatures:
//
//   - X-Signature: lowercase hex HMAC-SHA256 of the raw body, keyed with the
//     bytes of the secret string exactly as the customer holds it (for a
//     "whsec_..." secret that is the whole string, prefix included).
//   - Standard Webhooks (https://www.standardwebhooks.com/): the headers
//     webhook-id, webhook-timestamp and webhook-signature, where the signature
//     is "v1," + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")) and the key
//     is derived with [Key]. While a secret is being rotated there is one
//     "v1,..." entry per active secret, separated by single spaces.
//
// Receivers verify these with github.com/bluehq/webhooks/pkg/verify, which
// deliberately re-implements key derivation without importing this package;
// the tests here sign with this package and verify with that one, and both
// are checked against the golden vectors in pkg/verify/testdata.
//
// A [Signer] is safe for concurrent use and is designed for the delivery hot
// path: HMAC states are pooled and the message "<id>.<timestamp>.<body>" is
// streamed into the MAC rather than concatenated.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Canonical header keys set by [Signer.Sign].
const (
	HeaderXSignature       = "X-Signature"
	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
)

const (
	macSize      = sha256.Size                 // 32
	hexSigLen    = 2 * macSize                 // 64
	b64SigLen    = (macSize + 2) / 3 * 4       // 44
	v1Prefix     = "v1,"                       // version tag of a webhook-signature entry
	v1EntryLen   = len(v1Prefix) + b64SigLen   // 47
	maxTSDecimal = len("-9223372036854775808") // longest int64 in decimal
	prefixCap    = 128 + 1 + maxTSDecimal + 1  // initial capacity of the "<id>.<ts>." scratch buffer
	maxPooledCap = 4 << 10                     // larger prefix buffers (huge ids) are not pooled
)

// Signer signs deliveries with a fixed set of secrets. It is safe for
// concurrent use; construct it once per endpoint (or per secret set) and
// reuse it.
type Signer struct {
	n    int       // number of secrets (>= 1)
	pool sync.Pool // of *work
	// keys are retained only to build new pooled HMAC states.
	xKey   []byte   // bytes of secrets[0], for X-Signature
	swKeys [][]byte // Key(secrets[i]), for webhook-signature
}

// work is the per-call scratch state. Keeping the sum/encode buffers here
// (rather than on the stack) matters: they are passed to hash.Hash methods
// through an interface, which would otherwise make them escape to the heap.
type work struct {
	x      hash.Hash
	sw     []hash.Hash
	prefix []byte // "<id>.<ts>."
	sum    [macSize]byte
	hex    [hexSigLen]byte
	b64    [b64SigLen]byte
}

// NewSigner returns a Signer for secrets, ordered current secret first,
// followed by any older secrets that are still valid during a rotation. The
// keys are derived once here. The slice is not retained.
//
// NewSigner panics if secrets is empty: sending deliveries without a
// signature is never intended.
func NewSigner(secrets []string) *Signer {
	if len(secrets) == 0 {
		panic("signing: NewSigner called with no secrets")
	}
	s := &Signer{
		n:      len(secrets),
		xKey:   []byte(secrets[0]),
		swKeys: make([][]byte, len(secrets)),
	}
	for i, sec := range secrets {
		s.swKeys[i] = Key(sec)
	}
	s.pool.New = func() any {
		w := &work{
			x:      hmac.New(sha256.New, s.xKey),
			sw:     make([]hash.Hash, len(s.swKeys)),
			prefix: make([]byte, 0, prefixCap),
		}
		for i, k := range s.swKeys {
			w.sw[i] = hmac.New(sha256.New, k)
		}
		return w
	}
	return s
}

// XSignature returns the X-Signature value for body: lowercase hex
// HMAC-SHA256 keyed with the first (current) secret's bytes.
func (s *Signer) XSignature(body []byte) string {
	w := s.pool.Get().(*work)
	defer s.put(w)
	var b strings.Builder
	b.Grow(hexSigLen)
	s.writeX(&b, w, body)
	return b.String()
}

// WebhookSignature returns the webhook-signature header value for a
// delivery: one "v1,<base64>" entry per secret, in the order given to
// NewSigner, separated by single spaces.
func (s *Signer) WebhookSignature(id string, ts int64, body []byte) string {
	w := s.pool.Get().(*work)
	defer s.put(w)
	w.setPrefix(id, ts)
	var b strings.Builder
	b.Grow(s.webhookSigLen())
	s.writeWebhook(&b, w, body)
	return b.String()
}

// Sign sets the X-Signature, Webhook-Id, Webhook-Timestamp and
// Webhook-Signature headers on h for a delivery with the given id, unix
// timestamp (seconds) and raw body. Existing values of those headers are
// replaced.
func (s *Signer) Sign(h http.Header, id string, ts int64, body []byte) {
	w := s.pool.Get().(*work)
	defer s.put(w)
	w.setPrefix(id, ts)

	// The three computed header values are written into one buffer and
	// sliced out of a single string, so they cost one allocation in total.
	tsDigits := len(w.prefix) - len(id) - 2
	var b strings.Builder
	b.Grow(hexSigLen + tsDigits + s.webhookSigLen())
	s.writeX(&b, w, body)
	b.Write(w.prefix[len(id)+1 : len(w.prefix)-1])
	s.writeWebhook(&b, w, body)
	all := b.String()

	h.Set(HeaderXSignature, all[:hexSigLen])
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, all[hexSigLen:hexSigLen+tsDigits])
	h.Set(HeaderWebhookSignature, all[hexSigLen+tsDigits:])
}

func (s *Signer) put(w *work) {
	if cap(w.prefix) > maxPooledCap {
		w.prefix = make([]byte, 0, prefixCap)
	}
	s.pool.Put(w)
}

// webhookSigLen is the length of the webhook-signature header value.
func (s *Signer) webhookSigLen() int {
	return s.n*v1EntryLen + (s.n - 1)
}

// setPrefix stores "<id>.<ts>." in w.prefix.
func (w *work) setPrefix(id string, ts int64) {
	p := append(w.prefix[:0], id...)
	p = append(p, '.')
	p = strconv.AppendInt(p, ts, 10)
	w.prefix = append(p, '.')
}

func (s *Signer) writeX(b *strings.Builder, w *work, body []byte) {
	w.x.Reset()
	w.x.Write(body)
	hex.Encode(w.hex[:], w.x.Sum(w.sum[:0]))
	b.Write(w.hex[:])
}

// writeWebhook writes the webhook-signature value; w.prefix must be set.
func (s *Signer) writeWebhook(b *strings.Builder, w *work, body []byte) {
	for i, m := range w.sw {
		if i > 0 {
			b.WriteByte(' ')
		}
		m.Reset()
		m.Write(w.prefix)
		m.Write(body)
		base64.StdEncoding.Encode(w.b64[:], m.Sum(w.sum[:0]))
		b.WriteString(v1Prefix)
		b.Write(w.b64[:])
	}
}
