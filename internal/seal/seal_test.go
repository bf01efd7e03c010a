package seal_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/bluehq/webhooks/internal/seal"
)

func box(t *testing.T, key []byte) *seal.Box {
	t.Helper()
	b, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// What is sealed opens to the same bytes, whatever its length, and the
// sealed form never holds the plain text.
func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	b := box(t, seal.DevKey)
	for _, tc := range []struct {
		name  string
		plain []byte
	}{
		{name: "empty", plain: []byte{}},
		{name: "secret", plain: []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")},
		{name: "binary", plain: []byte{0, 1, 2, 255, 254, 0}},
		{name: "large", plain: bytes.Repeat([]byte("x"), 1<<16)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed := b.Seal(tc.plain)
			if len(tc.plain) >= 8 && bytes.Contains(sealed, tc.plain) {
				t.Fatal("the sealed value holds the plain text")
			}
			got, err := b.Open(sealed)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.plain) {
				t.Fatalf("Open = %q, want %q", got, tc.plain)
			}
		})
	}
}

// Another key opens nothing: Open answers ErrOpen, not the plain text.
func TestOpenWithAnotherKeyFails(t *testing.T) {
	t.Parallel()
	sealed := box(t, seal.DevKey).Seal([]byte("whsec_the-secret"))
	other := box(t, bytes.Repeat([]byte{7}, seal.KeySize))
	got, err := other.Open(sealed)
	if !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("Open with another key: %q, %v; want ErrOpen", got, err)
	}
	if got != nil {
		t.Errorf("Open with another key returned %q", got)
	}
}

// Any change to a sealed value (its nonce, its ciphertext, its tag, its
// length) is detected: GCM authenticates all of it.
func TestOpenTamperedFails(t *testing.T) {
	t.Parallel()
	b := box(t, seal.DevKey)
	sealed := b.Seal([]byte("whsec_the-secret"))
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		if got, err := b.Open(tampered); !errors.Is(err, seal.ErrOpen) {
			t.Fatalf("byte %d flipped: Open = %q, %v; want ErrOpen", i, got, err)
		}
	}
	for _, tc := range []struct {
		name   string
		sealed []byte
	}{
		{name: "nil", sealed: nil},
		{name: "shorter than a nonce", sealed: sealed[:5]},
		{name: "nonce and no tag", sealed: sealed[:12]},
		{name: "last byte cut", sealed: sealed[:len(sealed)-1]},
		{name: "a byte appended", sealed: append(bytes.Clone(sealed), 0)},
	} {
		if got, err := b.Open(tc.sealed); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", tc.name, got, err)
		}
	}
}

// Each Seal draws a fresh nonce: sealing the same value twice gives two
// different results (a repeated nonce under one GCM key leaks the key
// stream), and both open.
func TestSealDrawsAFreshNonce(t *testing.T) {
	t.Parallel()
	b := box(t, seal.DevKey)
	plain := []byte("whsec_the-secret")
	seen := map[string]bool{}
	for range 100 {
		sealed := b.Seal(plain)
		nonce := string(sealed[:12])
		if seen[nonce] {
			t.Fatalf("nonce %x repeated", nonce)
		}
		seen[nonce] = true
		if got, err := b.Open(sealed); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
}

// New takes exactly KeySize bytes.
func TestNewRefusesAKeyOfAnotherSize(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := seal.New(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "32 bytes") {
			t.Errorf("New with a %d-byte key: %v, want an error naming 32 bytes", n, err)
		}
	}
}

// ParseKey takes a 32-byte key in base64, standard or URL-safe, padded or
// not, and refuses what is not base64 or decodes to another length.
func TestParseKey(t *testing.T) {
	t.Parallel()
	key := make([]byte, seal.KeySize)
	for i := range key {
		key[i] = byte(250 + i) // bytes that differ between the two alphabets
	}
	for _, tc := range []struct {
		name    string
		in      string
		wantErr string
	}{
		{name: "standard", in: base64.StdEncoding.EncodeToString(key)},
		{name: "standard unpadded", in: base64.RawStdEncoding.EncodeToString(key)},
		{name: "url", in: base64.URLEncoding.EncodeToString(key)},
		{name: "url unpadded", in: base64.RawURLEncoding.EncodeToString(key)},
		{name: "16 bytes", in: base64.StdEncoding.EncodeToString(key[:16]), wantErr: "32 bytes, got 16"},
		{name: "not base64", in: "not base64!", wantErr: "not base64"},
		{name: "empty", in: "", wantErr: "32 bytes, got 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := seal.ParseKey(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseKey(%q) = %x, %v; want an error with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, key) {
				t.Fatalf("ParseKey(%q) = %x, %v; want %x", tc.in, got, err, key)
			}
		})
	}
}

// The development key is a valid key: a process without
// WEBHOOKS_SECRET_KEY can seal.
func TestDevKeyIsAKey(t *testing.T) {
	t.Parallel()
	if len(seal.DevKey) != seal.KeySize {
		t.Fatalf("DevKey is %d bytes, want %d", len(seal.DevKey), seal.KeySize)
	}
	if _, err := seal.New(seal.DevKey); err != nil {
		t.Fatal(err)
	}
}
