// Package signing produces the signatures attached to every outgoing webhook
// delivery.
//
// Each delivery carries two independent signatures:
//
//   - X-Signature: lowercase hex HMAC-SHA256 of the raw body, keyed with the
//     bytes of the secret string exactly as the customer holds it (for a
//     "whsec_..." secret that is the whole string, prefix included). During
//     a secret rotation's overlap it stays keyed with the oldest secret
//     still valid, so that a receiver's verifier keeps working, and
//     X-Signature-Next carries the same signature for each newer secret,
//     newest first, separated by single spaces: a receiver updates its
//     verifier during the overlap to accept either header. Once the overlap
//     is over, X-Signature is keyed with the new secret and
//     X-Signature-Next is gone.
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
	HeaderXSignatureNext   = "X-Signature-Next"
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
	xKeys  [][]byte // bytes of secrets[i], for X-Signature and X-Signature-Next
	swKeys [][]byte // Key(secrets[i]), for webhook-signature
}

// work is the per-call scratch state. Keeping the sum/encode buffers here
// (rather than on the stack) matters: they are passed to hash.Hash methods
// through an interface, which would otherwise make them escape to the heap.
type work struct {
	x      []hash.Hash // keyed with xKeys[i]: the last is X-Signature's
	sw     []hash.Hash
	prefix []byte // "<id>.<ts>."
	sum    [macSize]byte
	hex    [hexSigLen]byte
	b64    [b64SigLen]byte
}

// NewSigner returns a Signer for secrets, ordered current secret first,
// followed by any older secrets that are still valid during a rotation
// (newest to oldest). The keys are derived once here. The slice is not
// retained.
//
// NewSigner panics if secrets is empty: sending deliveries without a
// signature is never intended.
func NewSigner(secrets []string) *Signer {
	if len(secrets) == 0 {
		panic("signing: NewSigner called with no secrets")
	}
	s := &Signer{
		n:      len(secrets),
		xKeys:  make([][]byte, len(secrets)),
		swKeys: make([][]byte, len(secrets)),
	}
	for i, sec := range secrets {
		s.xKeys[i] = []byte(sec)
		s.swKeys[i] = Key(sec)
	}
	s.pool.New = func() any {
		w := &work{
			x:      make([]hash.Hash, len(s.xKeys)),
			sw:     make([]hash.Hash, len(s.swKeys)),
			prefix: make([]byte, 0, prefixCap),
		}
		for i := range s.n {
			w.x[i] = hmac.New(sha256.New, s.xKeys[i])
			w.sw[i] = hmac.New(sha256.New, s.swKeys[i])
		}
		return w
	}
	return s
}

// XSignature returns the X-Signature value for body: lowercase hex
// HMAC-SHA256 keyed with the oldest secret's bytes (the only one's, outside
// a rotation).
func (s *Signer) XSignature(body []byte) string {
	w := s.pool.Get().(*work)
	defer s.put(w)
	var b strings.Builder
	b.Grow(hexSigLen)
	s.writeHex(&b, w.x[s.n-1], w, body)
	return b.String()
}

// XSignatureNext returns the X-Signature-Next value for body: X-Signature
// keyed with each newer secret, newest first, separated by single spaces;
// "" for a Signer of one secret.
func (s *Signer) XSignatureNext(body []byte) string {
	w := s.pool.Get().(*work)
	defer s.put(w)
	var b strings.Builder
	b.Grow(s.xNextLen())
	s.writeXNext(&b, w, body)
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
// timestamp (seconds) and raw body, and X-Signature-Next if s has more than
// one secret. Existing values of those headers are replaced, and an
// X-Signature-Next that s would not send is removed.
func (s *Signer) Sign(h http.Header, id string, ts int64, body []byte) {
	w := s.pool.Get().(*work)
	defer s.put(w)
	w.setPrefix(id, ts)

	// The computed header values are written into one buffer and sliced
	// out of a single string, so they cost one allocation in total.
	tsDigits := len(w.prefix) - len(id) - 2
	sigEnd := hexSigLen + tsDigits + s.webhookSigLen()
	var b strings.Builder
	b.Grow(sigEnd + s.xNextLen())
	s.writeHex(&b, w.x[s.n-1], w, body)
	b.Write(w.prefix[len(id)+1 : len(w.prefix)-1])
	s.writeWebhook(&b, w, body)
	s.writeXNext(&b, w, body)
	all := b.String()

	h.Set(HeaderXSignature, all[:hexSigLen])
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, all[hexSigLen:hexSigLen+tsDigits])
	h.Set(HeaderWebhookSignature, all[hexSigLen+tsDigits:sigEnd])
	if s.n > 1 {
		h.Set(HeaderXSignatureNext, all[sigEnd:])
	} else {
		h.Del(HeaderXSignatureNext)
	}
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

// xNextLen is the length of the X-Signature-Next header value.
func (s *Signer) xNextLen() int {
	return max(0, (s.n-1)*hexSigLen+(s.n-2))
}

// setPrefix stores "<id>.<ts>." in w.prefix.
func (w *work) setPrefix(id string, ts int64) {
	p := append(w.prefix[:0], id...)
	p = append(p, '.')
	p = strconv.AppendInt(p, ts, 10)
	w.prefix = append(p, '.')
}

// writeHex writes the lowercase hex HMAC of body with m.
func (s *Signer) writeHex(b *strings.Builder, m hash.Hash, w *work, body []byte) {
	m.Reset()
	m.Write(body)
	hex.Encode(w.hex[:], m.Sum(w.sum[:0]))
	b.Write(w.hex[:])
}

// writeXNext writes the X-Signature-Next value: every secret but the
// oldest, in order.
func (s *Signer) writeXNext(b *strings.Builder, w *work, body []byte) {
	for i, m := range w.x[:s.n-1] {
		if i > 0 {
			b.WriteByte(' ')
		}
		s.writeHex(b, m, w, body)
	}
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
