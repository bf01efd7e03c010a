package portal_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/filter"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/netguard"
	"github.com/bluehq/webhooks/internal/portal"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
	"github.com/bluehq/webhooks/pkg/publish"
)

// stack is the API with the portal beside it, as the API process serves
// them, over a real NATS server, for two companies with a token each.
type stack struct {
	srv        *httptest.Server
	n          *testenv.NATS
	coA, coB   string
	tokA, tokB string
}

type options struct {
	tls            bool
	frameAncestors []string
}

func setup(t testing.TB, o options) *stack {
	t.Helper()
	n := testenv.StartNATS(t, 1)
	kv, box := n.Registry(t)
	store, err := registry.NewStore(kv, registry.StoreConfig{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := event.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	filters, err := filter.NewCompiler()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := publish.New(n.Conn)
	if err != nil {
		t.Fatal(err)
	}
	pkv, err := n.JS.KeyValue(t.Context(), stream.Portal)
	if err != nil {
		t.Fatal(err)
	}
	sessions, err := portal.NewSessions(pkv, portal.SessionsConfig{LinkTTL: time.Minute, SessionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{n: n, coA: testenv.ID("coA"), coB: testenv.ID("coB"), tokA: testenv.ID("tokA"), tokB: testenv.ID("tokB")}
	inspector := inspect.New(n.JS, state.NewMemory(state.BreakerPolicy{}), 1)
	mux := http.NewServeMux()
	server, err := api.New(mux, store, cat, api.Config{
		Tokens: api.Tokens{s.tokA: s.coA, s.tokB: s.coB},
		Rules: webhook.Rules{KnownEvent: cat.Known, CheckURL: netguard.New(nil).CheckURL, CheckFilter: filters.Check,
			Limits: webhook.Limits{Rate: 100, Concurrency: 8}},
		Inspector: inspector, Events: pub, Portal: sessions, RotationOverlap: webhook.DefaultRotationOverlap,
	})
	if err != nil {
		t.Fatal(err)
	}
	history, err := inspect.NewHistory(n.JS, inspect.HistoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := portal.New(portal.Config{
		API: server, Sessions: sessions, History: history, Inspector: inspector,
		FrameAncestors: o.frameAncestors,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Register(mux)
	p.RegisterDocs(mux)
	if o.tls {
		s.srv = httptest.NewTLSServer(mux)
	} else {
		s.srv = httptest.NewServer(mux)
	}
	t.Cleanup(s.srv.Close)
	return s
}

// apiCall sends a JSON request to the API with a bearer token.
func (s *stack) apiCall(t testing.TB, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// createHook creates a webhook through the API and returns its id.
func (s *stack) createHook(t testing.TB, token, name string) string {
	t.Helper()
	status, body := s.apiCall(t, http.MethodPost, "/v1/webhooks", token, map[string]any{"name": name, "url": "https://example.com/" + name})
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, body)
	}
	var w struct{ ID string }
	_ = json.Unmarshal(body, &w)
	return w.ID
}

// mintLink asks the API for a portal link, as Blue's backend does.
func (s *stack) mintLink(t testing.TB, token string) string {
	t.Helper()
	status, body := s.apiCall(t, http.MethodPost, "/v1/portal/sessions", token, map[string]any{"returnUrl": "https://blue.example/settings"})
	if status != http.StatusCreated {
		t.Fatalf("mint: %d %s", status, body)
	}
	var link api.SessionLink
	if err := json.Unmarshal(body, &link); err != nil {
		t.Fatal(err)
	}
	return link.URL
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t    testing.TB
	s    *stack
	http *http.Client
	csrf string
}

func (s *stack) browser(t testing.TB) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *s.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, s: s, http: &c}
}

// login opens a fresh link of the token's company.
func (s *stack) login(t testing.TB, token string) *browser {
	t.Helper()
	b := s.browser(t)
	resp := b.get(s.mintLink(t, token))
	if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/portal/" {
		t.Fatalf("opening the link: %d to %q, want 303 to /portal/", resp.status, resp.header.Get("Location"))
	}
	b.get("/portal/") // picks up the CSRF token
	return b
}

type response struct {
	status int
	header http.Header
	body   string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(data); m != nil {
		b.csrf = string(m[1])
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func (b *browser) url(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return b.s.srv.URL + path
}

func (b *browser) get(path string) response {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, b.url(path), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post submits a form; with the session's CSRF token unless the form has
// a "csrf" of its own.
func (b *browser) post(path string, form url.Values) response {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodPost, b.url(path), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}
