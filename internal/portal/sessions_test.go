package portal_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/portal"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// clock is a settable time for expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newSessions(t *testing.T, cfg portal.SessionsConfig) (*portal.Sessions, jetstream.KeyValue, *clock) {
	t.Helper()
	n := testenv.StartNATS(t, 1)
	kv, err := n.JS.KeyValue(t.Context(), stream.Portal)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Now()}
	if cfg.LinkTTL == 0 {
		cfg.LinkTTL = 5 * time.Minute
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = time.Hour
	}
	cfg.Now = c.Now
	s, err := portal.NewSessions(kv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, kv, c
}

// tokenOf is the token in a minted link.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != portal.LoginPath {
		t.Fatalf("link %s does not point at %s", link, portal.LoginPath)
	}
	return u.Query().Get("token")
}

func mint(t *testing.T, s *portal.Sessions, req api.SessionRequest) (api.SessionLink, string) {
	t.Helper()
	link, err := s.Mint(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return link, tokenOf(t, link.URL)
}

func TestLinkOpensOneSessionOnce(t *testing.T) {
	t.Parallel()
	s, kv, _ := newSessions(t, portal.SessionsConfig{})
	link, token := mint(t, s, api.SessionRequest{CompanyID: "acme", ReturnURL: "https://blue.example/settings", TTL: 2 * time.Hour, Origin: "http://127.0.0.1:8080"})
	if !strings.HasPrefix(link.URL, "http://127.0.0.1:8080/portal/login?token=") || link.TTL != "2h0m0s" {
		t.Errorf("link %+v: want the request's origin and the ttl asked", link)
	}
	sess, id, err := s.Open(t.Context(), token)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if sess.CompanyID != "acme" || sess.ReturnURL != "https://blue.example/settings" || sess.CSRF == "" || id == "" || id == sess.CSRF {
		t.Errorf("session %+v, id %q: want company, return URL, a CSRF token and an id of their own", sess, id)
	}
	if got, err := s.Lookup(t.Context(), id); err != nil || got != sess {
		t.Errorf("Lookup = %+v, %v; want %+v", got, err, sess)
	}
	// Spent: a second open is refused.
	if _, _, err := s.Open(t.Context(), token); !errors.Is(err, portal.ErrLinkRefused) {
		t.Errorf("second Open = %v, want ErrLinkRefused", err)
	}
	// The bucket holds neither the token nor the session id.
	keys, err := kv.Keys(t.Context())
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		t.Fatal(err)
	}
	for _, k := range keys {
		e, err := kv.Get(t.Context(), k)
		if err != nil {
			continue
		}
		for _, secret := range []string{token, id} {
			if strings.Contains(k, secret) || strings.Contains(string(e.Value()), secret) {
				t.Errorf("key %s or its value holds a secret in clear", k)
			}
		}
	}
}

// Of many opens of one link at once, exactly one gets a session.
func TestConcurrentOpensOfALinkMakeOneSession(t *testing.T) {
	t.Parallel()
	s, _, _ := newSessions(t, portal.SessionsConfig{})
	_, token := mint(t, s, api.SessionRequest{CompanyID: "acme", Origin: "http://x"})
	var won, refused atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, _, err := s.Open(context.Background(), token)
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, portal.ErrLinkRefused):
				refused.Add(1)
			default:
				t.Errorf("Open: %v", err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || refused.Load() != 15 {
		t.Errorf("%d opens won and %d were refused, want 1 and 15", won.Load(), refused.Load())
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		check func(t *testing.T, s *portal.Sessions, c *clock)
	}{
		{name: "a link opened after its ttl is refused", check: func(t *testing.T, s *portal.Sessions, c *clock) {
			_, token := mint(t, s, api.SessionRequest{CompanyID: "acme", Origin: "http://x"})
			c.Add(5 * time.Minute)
			if _, _, err := s.Open(t.Context(), token); !errors.Is(err, portal.ErrLinkRefused) {
				t.Errorf("Open after the link ttl = %v, want ErrLinkRefused", err)
			}
		}},
		{name: "a link opened just before its ttl opens", check: func(t *testing.T, s *portal.Sessions, c *clock) {
			_, token := mint(t, s, api.SessionRequest{CompanyID: "acme", Origin: "http://x"})
			c.Add(5*time.Minute - time.Second)
			if _, _, err := s.Open(t.Context(), token); err != nil {
				t.Errorf("Open within the link ttl = %v", err)
			}
		}},
		{name: "a session ends at its ttl", check: func(t *testing.T, s *portal.Sessions, c *clock) {
			_, token := mint(t, s, api.SessionRequest{CompanyID: "acme", Origin: "http://x", TTL: 30 * time.Minute})
			sess, id, err := s.Open(t.Context(), token)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.Now().Add(30 * time.Minute); !sess.ExpiresAt.Equal(want) {
				t.Errorf("session expires at %s, want %s", sess.ExpiresAt, want)
			}
			c.Add(30*time.Minute - time.Second)
			if _, err := s.Lookup(t.Context(), id); err != nil {
				t.Errorf("Lookup before the end = %v", err)
			}
			c.Add(time.Second)
			if _, err := s.Lookup(t.Context(), id); !errors.Is(err, portal.ErrNoSession) {
				t.Errorf("Lookup at the end = %v, want ErrNoSession", err)
			}
		}},
		{name: "a session without a ttl of its own lasts SessionTTL", check: func(t *testing.T, s *portal.Sessions, c *clock) {
			_, token := mint(t, s, api.SessionRequest{CompanyID: "acme", Origin: "http://x"})
			sess, _, err := s.Open(t.Context(), token)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.Now().Add(time.Hour); !sess.ExpiresAt.Equal(want) {
				t.Errorf("session expires at %s, want %s", sess.ExpiresAt, want)
			}
		}},
		{name: "an ended session is gone", check: func(t *testing.T, s *portal.Sessions, c *clock) {
			_, token := mint(t, s, api.SessionRequest{CompanyID: "acme", Origin: "http://x"})
			_, id, err := s.Open(t.Context(), token)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.End(t.Context(), id); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Lookup(t.Context(), id); !errors.Is(err, portal.ErrNoSession) {
				t.Errorf("Lookup after End = %v, want ErrNoSession", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _, c := newSessions(t, portal.SessionsConfig{})
			tc.check(t, s, c)
		})
	}
}

// Tokens that are not ones it made are refused as they are, and the
// public address wins over the request's.
func TestMalformedTokensAndTheBaseURL(t *testing.T) {
	t.Parallel()
	s, _, _ := newSessions(t, portal.SessionsConfig{BaseURL: "https://webhooks.example.com/"})
	link, _ := mint(t, s, api.SessionRequest{CompanyID: "acme", Origin: "http://internal:8080"})
	if !strings.HasPrefix(link.URL, "https://webhooks.example.com/portal/login?token=") {
		t.Errorf("link %s: want PORTAL_URL's address", link.URL)
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", 43), "../../etc", strings.Repeat("A", 44), "link.abc"} {
		if _, _, err := s.Open(t.Context(), bad); !errors.Is(err, portal.ErrLinkRefused) {
			t.Errorf("Open(%q) = %v, want ErrLinkRefused", bad, err)
		}
		if _, err := s.Lookup(t.Context(), bad); !errors.Is(err, portal.ErrNoSession) {
			t.Errorf("Lookup(%q) = %v, want ErrNoSession", bad, err)
		}
	}
}
