package verify_test

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluehq/webhooks/pkg/verify"
)

const (
	testSecret = "whsec_PxyaflstTG6KDx49XHuajn1sW0o5KBcG9eTTwrGgn44="
	testID     = "msg_2pQx7bQ1kZ9vA3"
	testTS     = 1732700000
)

var testBody = []byte(`{"type":"invoice.paid"}`)

func fixedClock(unix int64) verify.Option {
	t := time.Unix(unix, 0)
	return verify.WithClock(func() time.Time { return t })
}

func mustNew(t *testing.T, secret string, opts ...verify.Option) *verify.Verifier {
	t.Helper()
	v, err := verify.New(secret, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signedHeader returns headers for a valid delivery of body at unix time ts.
func signedHeader(secret, id string, ts int64, body []byte) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", verify.Sign(secret, id, time.Unix(ts, 0), body))
	h.Set("X-Signature", verify.XSignature(secret, body))
	return h
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		secret     string
		opts       []verify.Option
		wantErr    bool
		wantSecret bool // error must match ErrInvalidSecret
	}{
		{name: "whsec secret", secret: testSecret},
		{name: "raw secret", secret: "hunter2"},
		{name: "whsec with invalid base64", secret: "whsec_???"},
		{name: "empty secret", secret: "", wantErr: true, wantSecret: true},
		{name: "bare prefix", secret: "whsec_", wantErr: true, wantSecret: true},
		{name: "custom tolerance", secret: testSecret, opts: []verify.Option{verify.WithTolerance(time.Second)}},
		{name: "zero tolerance", secret: testSecret, opts: []verify.Option{verify.WithTolerance(0)}, wantErr: true},
		{name: "negative tolerance", secret: testSecret, opts: []verify.Option{verify.WithTolerance(-time.Minute)}, wantErr: true},
		{name: "nil clock", secret: testSecret, opts: []verify.Option{verify.WithClock(nil)}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := verify.New(tc.secret, tc.opts...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("New() error = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantSecret && !errors.Is(err, verify.ErrInvalidSecret) {
				t.Errorf("error %v does not match ErrInvalidSecret", err)
			}
			if err == nil && v == nil {
				t.Error("nil Verifier without error")
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	valid := verify.Sign(testSecret, testID, time.Unix(testTS, 0), testBody)
	other := verify.Sign("whsec_c2VjcmV0", testID, time.Unix(testTS, 0), testBody)
	tests := []struct {
		name    string
		mutate  func(h http.Header)
		body    []byte
		now     int64
		opts    []verify.Option
		want    error
		wantMsg string // substring of the error message
	}{
		{name: "valid", now: testTS},
		{name: "sub-second clock within tolerance", now: testTS + 299},
		{name: "missing id", mutate: func(h http.Header) { h.Del("webhook-id") }, want: verify.ErrMissingHeaders, wantMsg: "webhook-id"},
		{name: "missing timestamp", mutate: func(h http.Header) { h.Del("webhook-timestamp") }, want: verify.ErrMissingHeaders, wantMsg: "webhook-timestamp"},
		{name: "missing signature", mutate: func(h http.Header) { h.Del("webhook-signature") }, want: verify.ErrMissingHeaders, wantMsg: "webhook-signature"},
		{name: "empty signature", mutate: func(h http.Header) { h.Set("webhook-signature", "") }, want: verify.ErrMissingHeaders},
		{name: "all missing", mutate: func(h http.Header) { clear(h) }, want: verify.ErrMissingHeaders, wantMsg: "webhook-id, webhook-timestamp, webhook-signature"},
		{name: "signed timestamp must be the header timestamp", mutate: func(h http.Header) { h.Set("webhook-timestamp", strconv.Itoa(testTS+1)) }, want: verify.ErrNoMatchingSignature},
		{name: "leading zero timestamp not what was signed", mutate: func(h http.Header) { h.Set("webhook-timestamp", "0"+strconv.Itoa(testTS)) }, want: verify.ErrNoMatchingSignature},
		{name: "plus sign timestamp", mutate: func(h http.Header) { h.Set("webhook-timestamp", "+"+strconv.Itoa(testTS)) }, want: verify.ErrInvalidTimestamp},
		{name: "negative timestamp", mutate: func(h http.Header) { h.Set("webhook-timestamp", "-1") }, want: verify.ErrInvalidTimestamp},
		{name: "spaces in timestamp", mutate: func(h http.Header) { h.Set("webhook-timestamp", " 1732700000") }, want: verify.ErrInvalidTimestamp},
		{name: "exponent timestamp", mutate: func(h http.Header) { h.Set("webhook-timestamp", "1.7327e9") }, want: verify.ErrInvalidTimestamp},
		{name: "milliseconds are too new", now: testTS, mutate: func(h http.Header) { h.Set("webhook-timestamp", strconv.Itoa(testTS*1000)) }, want: verify.ErrTimestampTooNew},
		{name: "int64 overflow", mutate: func(h http.Header) { h.Set("webhook-timestamp", "9223372036854775808") }, want: verify.ErrInvalidTimestamp},
		{name: "too many digits", mutate: func(h http.Header) { h.Set("webhook-timestamp", strings.Repeat("1", 40)) }, want: verify.ErrInvalidTimestamp},
		{name: "max int64 is too new", mutate: func(h http.Header) { h.Set("webhook-timestamp", "9223372036854775807") }, want: verify.ErrTimestampTooNew},
		{name: "zero is too old", mutate: func(h http.Header) { h.Set("webhook-timestamp", "0") }, want: verify.ErrTimestampTooOld},
		{name: "too old", now: testTS + 301, want: verify.ErrTimestampTooOld},
		{name: "too new", now: testTS - 301, want: verify.ErrTimestampTooNew},
		{name: "at old edge", now: testTS + 300},
		{name: "at new edge", now: testTS - 300},
		{name: "wider tolerance", now: testTS + 3000, opts: []verify.Option{verify.WithTolerance(time.Hour)}},
		{name: "narrower tolerance", now: testTS + 2, opts: []verify.Option{verify.WithTolerance(time.Second)}, want: verify.ErrTimestampTooOld},
		{name: "tampered body", body: []byte(`{"type":"invoice.unpaid"}`), want: verify.ErrNoMatchingSignature},
		{name: "nil body", body: []byte{}, want: verify.ErrNoMatchingSignature},
		{name: "rotation second matches", mutate: func(h http.Header) { h.Set("webhook-signature", other+" "+valid) }},
		{name: "rotation first matches", mutate: func(h http.Header) { h.Set("webhook-signature", valid+" "+other) }},
		{name: "extra whitespace", mutate: func(h http.Header) { h.Set("webhook-signature", "  "+other+"   "+valid+" ") }},
		{name: "only other secret", mutate: func(h http.Header) { h.Set("webhook-signature", other) }, want: verify.ErrNoMatchingSignature},
		{name: "unknown version ignored", mutate: func(h http.Header) { h.Set("webhook-signature", "v1a,"+valid[3:]+" v2,"+valid[3:]) }, want: verify.ErrNoMatchingSignature},
		{name: "url-safe base64 rejected", mutate: func(h http.Header) {
			h.Set("webhook-signature", "v1,"+strings.NewReplacer("+", "-", "/", "_").Replace(valid[3:]))
		}, want: verify.ErrNoMatchingSignature},
		{name: "unpadded base64 rejected", mutate: func(h http.Header) { h.Set("webhook-signature", strings.TrimRight(valid, "=")) }, want: verify.ErrNoMatchingSignature},
		{name: "malformed entries skipped", mutate: func(h http.Header) {
			h.Set("webhook-signature", "v1 v1, v1,=== ,,, v1,"+strings.Repeat("A", 44)+" "+valid)
		}},
		{name: "comma separated is one malformed entry", mutate: func(h http.Header) { h.Set("webhook-signature", other+","+valid) }, want: verify.ErrNoMatchingSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := tc.now
			if now == 0 {
				now = testTS
			}
			v := mustNew(t, testSecret, append([]verify.Option{fixedClock(now)}, tc.opts...)...)
			h := signedHeader(testSecret, testID, testTS, testBody)
			if tc.mutate != nil {
				tc.mutate(h)
			}
			body := testBody
			if tc.body != nil {
				body = tc.body
			}
			err := v.Verify(h, body)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify() = %v, want %v", err, tc.want)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("Verify() = %q, want it to mention %q", err, tc.wantMsg)
			}
		})
	}
}

func TestVerifyXSignature(t *testing.T) {
	t.Parallel()
	x := verify.XSignature(testSecret, testBody)
	tests := []struct {
		name   string
		header string
		body   []byte
		want   error
	}{
		{name: "valid", header: x},
		{name: "uppercase", header: strings.ToUpper(x)},
		{name: "surrounding spaces", header: " " + x + " "},
		{name: "missing", header: "", want: verify.ErrMissingHeaders},
		{name: "tampered body", header: x, body: []byte("{}"), want: verify.ErrNoMatchingSignature},
		{name: "truncated", header: x[:62], want: verify.ErrNoMatchingSignature},
		{name: "too long", header: x + "00", want: verify.ErrNoMatchingSignature},
		{name: "not hex", header: strings.Repeat("zz", 32), want: verify.ErrNoMatchingSignature},
		{name: "prefixed", header: "sha256=" + x[7:], want: verify.ErrNoMatchingSignature},
		{name: "webhook key is not the X-Signature key", header: verify.XSignature("whsec_c2VjcmV0", testBody), want: verify.ErrNoMatchingSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := mustNew(t, testSecret)
			h := http.Header{}
			if tc.header != "" {
				h.Set("X-Signature", tc.header)
			}
			body := testBody
			if tc.body != nil {
				body = tc.body
			}
			err := v.VerifyXSignature(h, body)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("VerifyXSignature() = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestVerifyXSignatureNext: during a rotation X-Signature is the old
// secret's and X-Signature-Next the newer ones'; a Verifier for any of them
// accepts the delivery, one for another secret does not.
func TestVerifyXSignatureNext(t *testing.T) {
	t.Parallel()
	const oldSecret, newSecret, newest, other = "old-secret-0123456789", testSecret, "newest-secret-0123456789", "other-secret-0123456789"
	x := func(secret string) string { return verify.XSignature(secret, testBody) }
	tests := []struct {
		name   string
		secret string
		x      string
		next   string
		want   error
	}{
		{name: "old secret, X-Signature", secret: oldSecret, x: x(oldSecret), next: x(newSecret)},
		{name: "new secret, X-Signature-Next", secret: newSecret, x: x(oldSecret), next: x(newSecret)},
		{name: "upper case next", secret: newSecret, x: x(oldSecret), next: strings.ToUpper(x(newSecret))},
		{name: "second of two next", secret: newSecret, x: x(oldSecret), next: x(newest) + " " + x(newSecret)},
		{name: "first of two next", secret: newest, x: x(oldSecret), next: x(newest) + " " + x(newSecret)},
		{name: "malformed next entries are skipped", secret: newSecret, x: x(oldSecret), next: "zz 00 " + x(newSecret)},
		{name: "another secret", secret: other, x: x(oldSecret), next: x(newest) + " " + x(newSecret), want: verify.ErrNoMatchingSignature},
		{name: "next alone is not enough", secret: newSecret, next: x(newSecret), want: verify.ErrMissingHeaders},
		{name: "next of another body", secret: newSecret, x: x(oldSecret), next: verify.XSignature(newSecret, []byte("{}")), want: verify.ErrNoMatchingSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tc.x != "" {
				h.Set("X-Signature", tc.x)
			}
			h.Set("X-Signature-Next", tc.next)
			err := mustNew(t, tc.secret).VerifyXSignature(h, testBody)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("VerifyXSignature() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestXSignatureUsesWholeSecretString(t *testing.T) {
	t.Parallel()
	// The X-Signature key is the secret string's bytes, prefix included, so
	// two whsec_ secrets with the same decoded key still differ.
	a := verify.XSignature("whsec_c2VjcmV0", testBody)
	b := verify.XSignature("secret", testBody)
	if a == b {
		t.Fatal("X-Signature must be keyed with the full secret string")
	}
	if a != strings.ToLower(a) || len(a) != 64 {
		t.Fatalf("X-Signature %q is not 64 lowercase hex digits", a)
	}
}

func TestSignDropsSubSeconds(t *testing.T) {
	t.Parallel()
	ts := time.Unix(testTS, 999_999_999)
	if got, want := verify.Sign(testSecret, testID, ts, testBody), verify.Sign(testSecret, testID, time.Unix(testTS, 0), testBody); got != want {
		t.Fatalf("Sign(%v) = %s, want %s", ts, got, want)
	}
}

func TestVerifierConcurrent(t *testing.T) {
	t.Parallel()
	v := mustNew(t, testSecret, fixedClock(testTS))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			body := []byte(strconv.Itoa(i))
			h := signedHeader(testSecret, testID, testTS, body)
			for range 100 {
				if err := v.Verify(h, body); err != nil {
					t.Error(err)
					return
				}
				if err := v.VerifyXSignature(h, body); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkVerify(b *testing.B) {
	body := make([]byte, 1024)
	v, err := verify.New(testSecret, fixedClock(testTS))
	if err != nil {
		b.Fatal(err)
	}
	h := signedHeader(testSecret, testID, testTS, body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := v.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifyClockEdges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		ts    int64
		clock time.Time
		want  error
	}{
		{name: "nanosecond past tolerance", ts: testTS, clock: time.Unix(testTS+300, 1), want: verify.ErrTimestampTooOld},
		{name: "half second inside future tolerance", ts: testTS + 300, clock: time.Unix(testTS, 5e8)},
		{name: "clock before 1970", ts: 0, clock: time.Unix(-301, 0), want: verify.ErrTimestampTooNew},
		{name: "clock before 1970 within tolerance", ts: 0, clock: time.Unix(-300, 0)},
		{name: "zero time clock", ts: testTS, clock: time.Time{}, want: verify.ErrTimestampTooNew},
		{name: "far future clock", ts: testTS, clock: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), want: verify.ErrTimestampTooOld},
		{name: "huge timestamp and clock", ts: 1 << 62, clock: time.Unix(1<<62, 0)},
		{name: "max timestamp and clock", ts: math.MaxInt64, clock: time.Unix(math.MaxInt64, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := mustNew(t, testSecret, verify.WithClock(func() time.Time { return tc.clock }))
			err := v.Verify(signedHeader(testSecret, testID, tc.ts, testBody), testBody)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Verify() = %v, want %v", err, tc.want)
			}
		})
	}
}
