// Package verify checks the signatures on webhooks sent by the BlueHQ
// webhook platform. It depends only on the Go standard library.
//
// Every delivery is signed two ways, and either can be checked:
//
//   - Standard Webhooks (https://www.standardwebhooks.com/), checked by
//     [Verifier.Verify]: the webhook-id, webhook-timestamp and
//     webhook-signature headers. The signature is
//     "v1," + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")). During a
//     secret rotation the header holds several space-separated entries, and
//     the delivery is accepted if any of them matches your secret. The
//     timestamp must be within a tolerance (default 5 minutes) of the current
//     time, which limits replay.
//   - X-Signature, checked by [Verifier.VerifyXSignature]: lowercase hex
//     HMAC-SHA256 of the body keyed with the bytes of the secret string as
//     you hold it. It has no timestamp, so it does not protect against
//     replay; prefer Verify. During a secret rotation's overlap X-Signature
//     stays keyed with the old secret and X-Signature-Next carries the
//     signature with each newer secret (space-separated); VerifyXSignature
//     accepts either, so a Verifier for the new secret works from the
//     rotation on, and one for the old secret until the overlap ends.
//
// For the Standard Webhooks key, a secret of the form "whsec_<base64>" is
// base64-decoded (standard alphabet, padded) after the prefix; any other
// secret, including "whsec_" followed by invalid base64, is used as its raw
// bytes. The platform accepts a "whsec_" secret only in that padded,
// standard form, which every Standard Webhooks library decodes alike.
//
// Always verify the raw request body, exactly as received, before decoding
// it: re-encoded JSON will not match the signature. See the example on
// [Verifier.Verify].
//
// [XSignature] and [Sign] produce valid signatures, which is useful for
// testing your own handlers.
package verify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors returned by this package. Errors may carry extra context; match
// them with errors.Is.
var (
	// ErrMissingHeaders: a required signature header is absent or empty.
	ErrMissingHeaders = errors.New("verify: missing webhook headers")
	// ErrInvalidTimestamp: webhook-timestamp is not a decimal unix time in seconds.
	ErrInvalidTimestamp = errors.New("verify: invalid webhook timestamp")
	// ErrTimestampTooOld: webhook-timestamp is further in the past than the tolerance.
	ErrTimestampTooOld = errors.New("verify: webhook timestamp too old")
	// ErrTimestampTooNew: webhook-timestamp is further in the future than the tolerance.
	ErrTimestampTooNew = errors.New("verify: webhook timestamp too new")
	// ErrNoMatchingSignature: no signature in the request matches the secret.
	ErrNoMatchingSignature = errors.New("verify: no matching signature")
	// ErrInvalidSecret: the secret given to New cannot be used.
	ErrInvalidSecret = errors.New("verify: invalid secret")
)

// DefaultTolerance is the maximum allowed difference, in either direction,
// between webhook-timestamp and the current time.
const DefaultTolerance = 5 * time.Minute

const (
	secretPrefix = "whsec_"
	v1Prefix     = "v1,"
	macSize      = sha256.Size           // 32
	b64SigLen    = (macSize + 2) / 3 * 4 // 44
	hexSigLen    = 2 * macSize           // 64
	maxTSDigits  = 19                    // enough for any int64 unix time
)

// Option configures a Verifier.
type Option func(*config)

type config struct {
	tolerance time.Duration
	now       func() time.Time
}

// WithTolerance sets the maximum allowed age, and the maximum allowed
// distance into the future, of webhook-timestamp. It must be positive. The
// default is DefaultTolerance.
func WithTolerance(d time.Duration) Option {
	return func(c *config) { c.tolerance = d }
}

// WithClock sets the function used to read the current time (default
// time.Now). It is useful in tests.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// Verifier verifies webhooks signed with one secret. It is safe for
// concurrent use.
type Verifier struct {
	rawKey    []byte // X-Signature key: the secret's bytes
	swKey     []byte // Standard Webhooks key
	tolerance time.Duration
	now       func() time.Time
}

// New returns a Verifier for secret, which is the signing secret exactly as
// shown in the dashboard (for example "whsec_..."). It returns an error
// wrapping ErrInvalidSecret if secret is empty or is just "whsec_".
func New(secret string, opts ...Option) (*Verifier, error) {
	if secret == "" || secret == secretPrefix {
		return nil, fmt.Errorf("%w: secret is empty", ErrInvalidSecret)
	}
	c := config{tolerance: DefaultTolerance, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if c.tolerance <= 0 {
		return nil, fmt.Errorf("verify: tolerance must be positive, got %v", c.tolerance)
	}
	if c.now == nil {
		return nil, errors.New("verify: WithClock: nil clock")
	}
	return &Verifier{
		rawKey:    []byte(secret),
		swKey:     key(secret),
		tolerance: c.tolerance,
		now:       c.now,
	}, nil
}

// Verify checks the Standard Webhooks signature of a delivery: h must
// carry webhook-id, webhook-timestamp and webhook-signature, the timestamp
// must be within the tolerance of the current time, and at least one of the
// space-separated "v1,<base64>" signatures must match body. Entries with
// another version prefix, or that are malformed, are ignored.
//
// body must be the raw request body. A nil error means the delivery is
// authentic; otherwise the error matches (errors.Is) one of ErrMissingHeaders,
// ErrInvalidTimestamp, ErrTimestampTooOld, ErrTimestampTooNew or
// ErrNoMatchingSignature.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	id := h.Get("webhook-id")
	tsStr := h.Get("webhook-timestamp")
	sigs := h.Get("webhook-signature")
	if id == "" || tsStr == "" || sigs == "" {
		var missing []string
		for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			if h.Get(k) == "" {
				missing = append(missing, k)
			}
		}
		return fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}

	ts, err := parseTimestamp(tsStr)
	if err != nil {
		return err
	}
	switch age := elapsed(v.now(), ts); {
	case age > v.tolerance:
		return fmt.Errorf("%w: %d is %v before now, tolerance %v", ErrTimestampTooOld, ts, age.Truncate(time.Second), v.tolerance)
	case age < -v.tolerance:
		return fmt.Errorf("%w: %d is %v after now, tolerance %v", ErrTimestampTooNew, ts, (-age).Truncate(time.Second), v.tolerance)
	}

	var expected [macSize]byte
	webhookMAC(expected[:0], v.swKey, id, tsStr, body)

	for entry := range strings.FieldsSeq(sigs) {
		enc, ok := strings.CutPrefix(entry, v1Prefix)
		if !ok || len(enc) != b64SigLen {
			continue
		}
		var got [macSize + 1]byte // DecodedLen(44) == 33
		n, err := base64.StdEncoding.Strict().Decode(got[:], []byte(enc))
		if err != nil || n != macSize {
			continue
		}
		if hmac.Equal(got[:macSize], expected[:]) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}

// VerifyXSignature checks the X-Signature header, and during a secret
// rotation the X-Signature-Next header: the body is authentic if X-Signature
// or any space-separated entry of X-Signature-Next is the hex (either case)
// HMAC-SHA256 of body keyed with the secret's bytes. It does not check any
// timestamp, so it offers no replay protection; prefer Verify.
//
// A nil error means the body is authentic; otherwise the error matches
// ErrMissingHeaders (no X-Signature) or ErrNoMatchingSignature.
func (v *Verifier) VerifyXSignature(h http.Header, body []byte) error {
	sig := strings.TrimSpace(h.Get("X-Signature"))
	if sig == "" {
		return fmt.Errorf("%w: X-Signature", ErrMissingHeaders)
	}
	m := hmac.New(sha256.New, v.rawKey)
	m.Write(body)
	var expected [macSize]byte
	m.Sum(expected[:0])
	if hexMatches(sig, expected[:]) {
		return nil
	}
	for entry := range strings.FieldsSeq(h.Get("X-Signature-Next")) {
		if hexMatches(entry, expected[:]) {
			return nil
		}
	}
	if len(sig) != hexSigLen {
		return fmt.Errorf("%w: X-Signature is not %d hex digits", ErrNoMatchingSignature, hexSigLen)
	}
	return ErrNoMatchingSignature
}

// hexMatches reports whether sig is the hex encoding of mac, in constant
// time for a well-formed sig.
func hexMatches(sig string, mac []byte) bool {
	var got [macSize]byte
	if len(sig) != hexSigLen {
		return false
	}
	if _, err := hex.Decode(got[:], []byte(sig)); err != nil {
		return false
	}
	return hmac.Equal(got[:], mac)
}

// XSignature returns the X-Signature header value for body signed with
// secret: lowercase hex HMAC-SHA256 keyed with the secret's bytes.
func XSignature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Sign returns a webhook-signature header value ("v1,<base64>") for a
// delivery with the given id, timestamp and body, signed with secret. Send it
// together with webhook-id: id and webhook-timestamp:
// strconv.FormatInt(ts.Unix(), 10). Sub-second precision of ts is dropped.
func Sign(secret, id string, ts time.Time, body []byte) string {
	mac := webhookMAC(nil, key(secret), id, strconv.FormatInt(ts.Unix(), 10), body)
	return v1Prefix + base64.StdEncoding.EncodeToString(mac)
}

// key returns the Standard Webhooks key for secret: the base64 (standard,
// padded) decoding of what follows "whsec_" when that is non-empty and
// decodes cleanly, and the secret's raw bytes otherwise.
//
// This must stay identical to internal/signing.Key; this package does not
// import it so that it stays self-contained for customers. The shared golden
// vectors in testdata/vectors.json pin both.
func key(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, secretPrefix); ok && rest != "" {
		if k, err := base64.StdEncoding.DecodeString(rest); err == nil && len(k) > 0 {
			return k
		}
	}
	return []byte(secret)
}

// parseTimestamp parses a webhook-timestamp value: 1 to 19 ASCII digits (no
// sign, no spaces) that fit in an int64.
func parseTimestamp(s string) (int64, error) {
	if len(s) > maxTSDigits {
		return 0, fmt.Errorf("%w: too long", ErrInvalidTimestamp)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q is not a decimal unix time", ErrInvalidTimestamp, s)
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q out of range", ErrInvalidTimestamp, s)
	}
	return ts, nil
}

// elapsed returns now - ts (unix seconds), saturated to the range of
// time.Duration. Unlike now.Sub(time.Unix(ts, 0)) it cannot overflow: for
// ts near math.MaxInt64, time.Unix wraps around to a date in the past.
func elapsed(now time.Time, ts int64) time.Duration {
	const maxSec = uint64(math.MaxInt64 / time.Second) // about 292 years
	nowSec, nsec := now.Unix(), time.Duration(now.Nanosecond())
	if ts <= nowSec {
		d := uint64(nowSec) - uint64(ts) // exact even if nowSec < 0
		if d >= maxSec {
			return math.MaxInt64
		}
		return time.Duration(d)*time.Second + nsec
	}
	d := uint64(ts) - uint64(nowSec)
	if d >= maxSec {
		return math.MinInt64
	}
	return nsec - time.Duration(d)*time.Second
}

// webhookMAC appends HMAC-SHA256(key, id + "." + ts + "." + body) to dst.
// The parts are written to the MAC one by one rather than concatenated.
func webhookMAC(dst, key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(dst)
}
