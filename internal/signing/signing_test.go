package signing_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bluehq/webhooks/internal/signing"
)

const (
	secretA = "whsec_PxyaflstTG6KDx49XHuajn1sW0o5KBcG9eTTwrGgn44="
	secretB = "whsec_obLD1OX2BxgpOktcbX6PkBEiM0RVZneImaq7zN3u/wA="
	testID  = "msg_2pQx7bQ1kZ9vA3"
	testTS  = int64(1732700000)
)

var testBody = []byte(`{"type":"invoice.paid","data":{"id":"inv_123","amount":4200}}`)

func TestNewSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		s, err := signing.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		rest, ok := strings.CutPrefix(s, "whsec_")
		if !ok {
			t.Fatalf("secret %q lacks whsec_ prefix", s)
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(rest)
		if err != nil || len(raw) != 32 {
			t.Fatalf("secret %q: payload is not base64 of 32 bytes (len %d, err %v)", s, len(raw), err)
		}
		if !bytes.Equal(signing.Key(s), raw) {
			t.Fatalf("Key(%q) is not the decoded payload", s)
		}
		if seen[s] {
			t.Fatalf("duplicate secret %q", s)
		}
		seen[s] = true
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		want   string // hex
	}{
		{name: "whsec base64", secret: "whsec_c2VjcmV0", want: hex.EncodeToString([]byte("secret"))},
		{name: "whsec 32 bytes", secret: secretA, want: "3f1c9a7e5b2d4c6e8a0f1e3d5c7b9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e"},
		{name: "raw secret", secret: "hunter2", want: hex.EncodeToString([]byte("hunter2"))},
		{name: "invalid base64 is raw", secret: "whsec_not base64!", want: hex.EncodeToString([]byte("whsec_not base64!"))},
		{name: "missing padding is raw", secret: "whsec_c2VjcmV0MQ", want: hex.EncodeToString([]byte("whsec_c2VjcmV0MQ"))},
		{name: "url alphabet is raw", secret: "whsec_-_-_", want: hex.EncodeToString([]byte("whsec_-_-_"))},
		{name: "bare prefix is raw", secret: "whsec_", want: hex.EncodeToString([]byte("whsec_"))},
		{name: "only newline after prefix is raw", secret: "whsec_\n", want: hex.EncodeToString([]byte("whsec_\n"))},
		{name: "prefix is case sensitive", secret: "WHSEC_c2VjcmV0", want: hex.EncodeToString([]byte("WHSEC_c2VjcmV0"))},
		{name: "empty", secret: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := hex.EncodeToString(signing.Key(tc.secret)); got != tc.want {
				t.Errorf("Key(%q) = %s, want %s", tc.secret, got, tc.want)
			}
		})
	}
}

func TestSigner(t *testing.T) {
	t.Parallel()
	sigA := "v1,pbbo3S6Gp8tQwH4zUnFtSJm8VmUGpajxnm6NWKIS68Y=" // from testdata/vectors.json "whsec secret"
	xA := "7c54f78bd1a8274f2e6b239ea8515e01522e573e80ea8e1f557bcdc775cdaad0"
	sigB := signing.NewSigner([]string{secretB}).WebhookSignature(testID, testTS, testBody)
	xB := signing.NewSigner([]string{secretB}).XSignature(testBody)
	tests := []struct {
		name     string
		secrets  []string
		wantX    string
		wantNext string // "": no X-Signature-Next header
		wantSig  string
	}{
		{name: "one secret", secrets: []string{secretA}, wantX: xA, wantSig: sigA},
		{name: "rotation current first", secrets: []string{secretA, secretB}, wantX: xB, wantNext: xA, wantSig: sigA + " " + sigB},
		{name: "rotation old first", secrets: []string{secretB, secretA}, wantX: xA, wantNext: xB, wantSig: sigB + " " + sigA},
		{name: "three secrets", secrets: []string{secretA, secretB, secretA}, wantX: xA, wantNext: xA + " " + xB, wantSig: sigA + " " + sigB + " " + sigA},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := signing.NewSigner(tc.secrets)
			if got := s.XSignature(testBody); got != tc.wantX {
				t.Errorf("XSignature = %s, want %s", got, tc.wantX)
			}
			if got := s.XSignatureNext(testBody); got != tc.wantNext {
				t.Errorf("XSignatureNext = %q, want %q", got, tc.wantNext)
			}
			if got := s.WebhookSignature(testID, testTS, testBody); got != tc.wantSig {
				t.Errorf("WebhookSignature = %s, want %s", got, tc.wantSig)
			}
			h := http.Header{}
			h.Set("X-Signature", "stale")
			h.Set("X-Signature-Next", "stale")
			s.Sign(h, testID, testTS, testBody)
			want := http.Header{
				"X-Signature":       {tc.wantX},
				"Webhook-Id":        {testID},
				"Webhook-Timestamp": {strconv.FormatInt(testTS, 10)},
				"Webhook-Signature": {tc.wantSig},
			}
			if tc.wantNext != "" {
				want["X-Signature-Next"] = []string{tc.wantNext}
			}
			if len(h) != len(want) {
				t.Errorf("Sign set %d headers, want %d: %v", len(h), len(want), h)
			}
			for k, v := range want {
				if got := h[k]; len(got) != 1 || got[0] != v[0] {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// hexHMAC is X-Signature computed without this package.
func hexHMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// TestSignerRotationXSignature: across a rotation, X-Signature stays keyed
// with the oldest valid secret, so a receiver that has not changed anything
// keeps verifying, and X-Signature-Next carries the newer secrets'
// signatures, newest first; once the old secret is gone (a Signer of the new
// one only), X-Signature is the new secret's and X-Signature-Next is gone.
func TestSignerRotationXSignature(t *testing.T) {
	t.Parallel()
	const s0, s1, s2 = "first-secret-0123456789", "whsec_PxyaflstTG6KDx49XHuajn1sW0o5KBcG9eTTwrGgn44=", "third-secret-0123456789"
	tests := []struct {
		name     string
		secrets  []string // current first, as the registry passes them
		wantX    string
		wantNext []string
	}{
		{name: "before the rotation", secrets: []string{s0}, wantX: s0},
		{name: "during the overlap", secrets: []string{s1, s0}, wantX: s0, wantNext: []string{s1}},
		{name: "rotated again during the overlap", secrets: []string{s2, s1, s0}, wantX: s0, wantNext: []string{s2, s1}},
		{name: "after the overlap", secrets: []string{s1}, wantX: s1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{"X-Signature-Next": {"left over"}}
			signing.NewSigner(tc.secrets).Sign(h, testID, testTS, testBody)
			if got, want := h.Get("X-Signature"), hexHMAC(tc.wantX, testBody); got != want {
				t.Errorf("X-Signature = %s, want %s (keyed with %.8s...)", got, want, tc.wantX)
			}
			var want []string
			for _, s := range tc.wantNext {
				want = append(want, hexHMAC(s, testBody))
			}
			got := strings.Fields(h.Get("X-Signature-Next"))
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("X-Signature-Next = %q, want %q", got, want)
			}
			if _, ok := h["X-Signature-Next"]; ok != (len(want) > 0) {
				t.Errorf("X-Signature-Next present %v, want %v", ok, len(want) > 0)
			}
		})
	}
}

func TestSignerInputs(t *testing.T) {
	t.Parallel()
	s := signing.NewSigner([]string{secretA})
	ref := signing.NewSigner([]string{secretA})
	tests := []struct {
		name string
		id   string
		ts   int64
		body []byte
	}{
		{name: "nil body", id: testID, ts: testTS, body: nil},
		{name: "empty id", id: "", ts: 0, body: testBody},
		{name: "negative timestamp", id: testID, ts: -42, body: testBody},
		{name: "long id", id: strings.Repeat("x", 10_000), ts: testTS, body: testBody},
		{name: "binary body", id: testID, ts: testTS, body: []byte{0, 1, 2, 0xff}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			s.Sign(h, tc.id, tc.ts, tc.body)
			if got, want := h.Get("Webhook-Timestamp"), strconv.FormatInt(tc.ts, 10); got != want {
				t.Errorf("timestamp = %q, want %q", got, want)
			}
			if got, want := h.Get("Webhook-Id"), tc.id; got != want {
				t.Errorf("id = %q, want %q", got, want)
			}
			if got, want := h.Get("Webhook-Signature"), ref.WebhookSignature(tc.id, tc.ts, tc.body); got != want {
				t.Errorf("signature = %q, want %q", got, want)
			}
			if got, want := h.Get("X-Signature"), ref.XSignature(tc.body); got != want {
				t.Errorf("X-Signature = %q, want %q", got, want)
			}
		})
	}
}

func TestNewSignerPanicsWithoutSecrets(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("NewSigner(nil) did not panic")
		}
	}()
	signing.NewSigner(nil)
}

func TestNewSignerCopiesSecrets(t *testing.T) {
	t.Parallel()
	secrets := []string{secretA}
	s := signing.NewSigner(secrets)
	want := s.WebhookSignature(testID, testTS, testBody)
	secrets[0] = secretB
	if got := s.WebhookSignature(testID, testTS, testBody); got != want {
		t.Fatal("Signer changed after its secrets slice was modified")
	}
}

// TestSignerConcurrent exercises the pooled HMAC state under -race and
// checks that concurrent calls never see each other's scratch buffers.
func TestSignerConcurrent(t *testing.T) {
	t.Parallel()
	s := signing.NewSigner([]string{secretA, secretB})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := "msg_" + strconv.Itoa(g) + "_" + strconv.Itoa(i)
				body := []byte(strings.Repeat(id, i%7))
				h := http.Header{}
				s.Sign(h, id, testTS+int64(i), body)
				want := signing.NewSigner([]string{secretA, secretB}).WebhookSignature(id, testTS+int64(i), body)
				if got := h.Get("Webhook-Signature"); got != want {
					t.Errorf("concurrent Sign: got %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// vector mirrors the fields of pkg/verify/testdata/vectors.json used here.
type vector struct {
	Name                   string   `json:"name"`
	Secret                 string   `json:"secret"`
	KeyHex                 string   `json:"key_hex"`
	ID                     string   `json:"id"`
	Timestamp              int64    `json:"timestamp"`
	SignedBody             string   `json:"signed_body"`
	XSignature             string   `json:"x_signature"`
	WebhookSignature       string   `json:"webhook_signature"`
	WebhookSignatureHeader string   `json:"webhook_signature_header"`
	HeaderSecrets          []string `json:"header_secrets"`
}

// TestVectors checks the signer against the golden vectors generated
// independently with Node (pkg/verify/testdata/gen-vectors.js).
func TestVectors(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../pkg/verify/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []vector `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 8 {
		t.Fatalf("only %d vectors", len(f.Cases))
	}
	for _, tc := range f.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			body := []byte(tc.SignedBody)
			if got := hex.EncodeToString(signing.Key(tc.Secret)); got != tc.KeyHex {
				t.Errorf("Key = %s, want %s", got, tc.KeyHex)
			}
			s := signing.NewSigner([]string{tc.Secret})
			if got := s.XSignature(body); got != tc.XSignature {
				t.Errorf("XSignature = %s, want %s", got, tc.XSignature)
			}
			if got := s.WebhookSignature(tc.ID, tc.Timestamp, body); got != tc.WebhookSignature {
				t.Errorf("WebhookSignature = %s, want %s", got, tc.WebhookSignature)
			}
			if tc.HeaderSecrets != nil {
				got := signing.NewSigner(tc.HeaderSecrets).WebhookSignature(tc.ID, tc.Timestamp, body)
				if got != tc.WebhookSignatureHeader {
					t.Errorf("rotation WebhookSignature = %s, want %s", got, tc.WebhookSignatureHeader)
				}
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	body := bytes.Repeat([]byte("a"), 1024)
	for _, bc := range []struct {
		name    string
		secrets []string
	}{
		{name: "secrets=1", secrets: []string{secretA}},
		{name: "secrets=2", secrets: []string{secretA, secretB}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := signing.NewSigner(bc.secrets)
			h := make(http.Header, 8)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				s.Sign(h, testID, testTS, body)
			}
		})
	}
}
