package portal_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Every response of the portal, a session's or not, carries the headers
// that keep it to its own scripts and its own frames.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      options
		ancestors string
		xfo       string
	}{
		{name: "no frame ancestors", ancestors: "frame-ancestors 'none'", xfo: "DENY"},
		{name: "embeddable", opts: options{frameAncestors: []string{"https://app.blue.example", "'self'"}}, ancestors: "frame-ancestors https://app.blue.example 'self'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, tc.opts)
			b := s.login(t, s.tokA)
			id := s.createHook(t, s.tokA, "headers")
			anon := s.browser(t)
			for _, r := range []struct {
				who  *browser
				path string
			}{
				{b, "/portal/"}, {b, "/portal/webhooks/" + id}, {b, "/portal/webhooks/new"}, {b, "/portal/event-types"},
				{b, "/portal/static/portal.css"}, {b, "/portal/nowhere"}, {anon, "/portal/"}, {anon, "/portal/login?token=spent"}, {anon, "/docs"},
			} {
				resp := r.who.get(r.path)
				csp := resp.header.Get("Content-Security-Policy")
				for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "form-action 'self'", tc.ancestors} {
					if !strings.Contains(csp, want) {
						t.Errorf("%s: CSP %q lacks %q", r.path, csp, want)
					}
				}
				if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
					t.Errorf("%s: CSP %q allows inline script", r.path, csp)
				}
				if got := resp.header.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("%s: X-Content-Type-Options %q", r.path, got)
				}
				if got := resp.header.Get("Referrer-Policy"); got != "no-referrer" {
					t.Errorf("%s: Referrer-Policy %q", r.path, got)
				}
				if got := resp.header.Get("X-Frame-Options"); got != tc.xfo {
					t.Errorf("%s: X-Frame-Options %q, want %q", r.path, got, tc.xfo)
				}
			}
		})
	}
}

// The session cookie is HttpOnly always; Secure, __Host- and SameSite
// follow how the browser reaches the portal and whether it may be framed.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		opts                options
		cookie, path        string
		secure, partitioned bool
		sameSite            http.SameSite
	}{
		{name: "http", cookie: "portal", path: "/portal", sameSite: http.SameSiteLaxMode},
		{name: "https", opts: options{tls: true}, cookie: "__Host-portal", path: "/", secure: true, sameSite: http.SameSiteLaxMode},
		{name: "https, framed by another site", opts: options{tls: true, frameAncestors: []string{"https://app.blue.example"}},
			cookie: "__Host-portal", path: "/", secure: true, partitioned: true, sameSite: http.SameSiteNoneMode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, tc.opts)
			resp := s.browser(t).get(s.mintLink(t, s.tokA))
			if resp.status != http.StatusSeeOther || resp.header.Get("Location") != "/portal/" {
				t.Fatalf("link: %d to %q, want 303 to /portal/ (the token out of the address)", resp.status, resp.header.Get("Location"))
			}
			cookies := (&http.Response{Header: resp.header}).Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies %v, want one", cookies)
			}
			c := cookies[0]
			if c.Name != tc.cookie || c.Path != tc.path || !c.HttpOnly || c.Secure != tc.secure || c.SameSite != tc.sameSite || c.Partitioned != tc.partitioned || c.MaxAge <= 0 {
				t.Errorf("cookie %+v: want %s, path %s, HttpOnly, Secure %v, SameSite %v, Partitioned %v, a max age", c, tc.cookie, tc.path, tc.secure, tc.sameSite, tc.partitioned)
			}
			if strings.Contains(resp.header.Get("Set-Cookie"), s.tokA) {
				t.Error("the API token reached the browser")
			}
		})
	}
}

// A link opens one session; a used or unknown one is refused with a page
// that says what to do; without a session there is no page.
func TestLinksAndSessions(t *testing.T) {
	t.Parallel()
	s := setup(t, options{})
	link := s.mintLink(t, s.tokA)
	first := s.browser(t)
	if resp := first.get(link); resp.status != http.StatusSeeOther {
		t.Fatalf("first open: %d", resp.status)
	}
	again := s.browser(t)
	resp := again.get(link)
	if resp.status != http.StatusUnauthorized || !strings.Contains(resp.body, "open the webhooks portal again") {
		t.Errorf("second open: %d, want 401 with a way back", resp.status)
	}
	if resp := again.get("/portal/"); resp.status != http.StatusUnauthorized {
		t.Errorf("no session: %d, want 401", resp.status)
	}
	if resp := first.get("/portal/"); resp.status != http.StatusOK || !strings.Contains(resp.body, s.coA) {
		t.Errorf("session: %d, want 200 naming the company", resp.status)
	}
	// Logout ends it, and offers the way back to Blue.
	resp = first.post("/portal/logout", nil)
	if resp.status != http.StatusOK || !strings.Contains(resp.body, `href="https://blue.example/settings"`) {
		t.Errorf("logout: %d, want 200 with the return link", resp.status)
	}
	if resp := first.get("/portal/"); resp.status != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", resp.status)
	}
}

// Every change needs the session's CSRF token.
func TestChangesNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	s := setup(t, options{})
	b := s.login(t, s.tokA)
	id := s.createHook(t, s.tokA, "csrf")
	for _, form := range []url.Values{{"csrf": {""}}, {"csrf": {"forged"}}, {"csrf": {strings.Repeat("A", 43)}}} {
		for _, path := range []string{"/portal/webhooks/" + id + "/delete", "/portal/webhooks/" + id + "/disable", "/portal/webhooks/" + id + "/rotate", "/portal/logout"} {
			if resp := b.post(path, form); resp.status != http.StatusForbidden {
				t.Errorf("POST %s with csrf %q: %d, want 403", path, form.Get("csrf"), resp.status)
			}
		}
	}
	if status, body := s.apiCall(t, http.MethodGet, "/v1/webhooks/"+id, s.tokA, nil); status != http.StatusOK || !strings.Contains(string(body), `"enabled":true`) {
		t.Fatalf("after the refused changes: %d %s, want the webhook as it was", status, body)
	}
	if resp := b.post("/portal/webhooks/"+id+"/delete", nil); resp.status != http.StatusSeeOther {
		t.Errorf("delete with the token: %d, want 303", resp.status)
	}
	if status, _ := s.apiCall(t, http.MethodGet, "/v1/webhooks/"+id, s.tokA, nil); status != http.StatusNotFound {
		t.Errorf("after delete: %d, want 404", status)
	}
}

// A session of company B finds none of company A's webhooks: not in its
// list, and 404 for each of their pages and changes.
func TestAnotherCompanySeesNothing(t *testing.T) {
	t.Parallel()
	s := setup(t, options{})
	id := s.createHook(t, s.tokA, "company-a-only")
	b := s.login(t, s.tokB)
	if resp := b.get("/portal/"); resp.status != http.StatusOK || strings.Contains(resp.body, "company-a-only") || strings.Contains(resp.body, id) {
		t.Errorf("B's list: %d, shows A's webhook", resp.status)
	}
	for _, path := range []string{"", "/edit", "/delete", "/verify", "/deliveries", "/deliveries/dlv_0000000000000000000000000_" + id} {
		if resp := b.get("/portal/webhooks/" + id + path); resp.status != http.StatusNotFound || strings.Contains(resp.body, "company-a-only") {
			t.Errorf("GET %s as B: %d, want 404 without A's data", path, resp.status)
		}
	}
	for _, path := range []string{"/delete", "/disable", "/enable", "/rotate", "/test", "/recover"} {
		if resp := b.post("/portal/webhooks/"+id+path, url.Values{"since": {"2026-01-01T00:00"}}); resp.status != http.StatusNotFound {
			t.Errorf("POST %s as B: %d, want 404", path, resp.status)
		}
	}
	if status, body := s.apiCall(t, http.MethodGet, "/v1/webhooks/"+id, s.tokA, nil); status != http.StatusOK || !strings.Contains(string(body), `"enabled":true`) {
		t.Errorf("A's webhook after B's attempts: %d %s", status, body)
	}
}

// The form is checked by the API's own rules, and each refusal shows next
// to the field it names.
func TestFormShowsTheAPIsErrorsNextToTheField(t *testing.T) {
	t.Parallel()
	s := setup(t, options{})
	b := s.login(t, s.tokA)
	valid := func() url.Values {
		return url.Values{"name": {"orders"}, "url": {"https://example.com/hook"}, "enabled": {"true"}}
	}
	tests := []struct {
		name, field, value, says string
	}{
		{name: "empty name", field: "name", value: " ", says: "must not be empty"},
		{name: "not http", field: "url", value: "ftp://example.com/x", says: "scheme must be http or https"},
		{name: "private address", field: "url", value: "http://10.0.0.1/x", says: "not allowed"},
		{name: "short secret", field: "secret", value: "short", says: "expected length &gt;= 16"},
		{name: "unknown event", field: "events", value: "NO_SUCH_EVENT", says: "unknown event type"},
		{name: "bad project", field: "projectIds", value: "a.b", says: "must match"},
		{name: "bad filter", field: "filter", value: "event.type ==", says: "Syntax error"},
		{name: "rate not a number", field: "rateLimit", value: "fast", says: "expected number"},
		{name: "rate above the ceiling", field: "rateLimit", value: "101", says: "expected number &lt;= 100"},
		{name: "concurrency not whole", field: "maxConcurrency", value: "1.5", says: "expected integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := valid()
			form.Set(tc.field, tc.value)
			resp := b.post("/portal/webhooks", form)
			if resp.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", resp.status)
			}
			errLine := regexp.MustCompile(`<p class="field-error" id="` + tc.field + `-error"[^>]*>([^<]*)</p>`).FindStringSubmatch(resp.body)
			if errLine == nil || !strings.Contains(errLine[1], tc.says) {
				t.Errorf("no error next to %s saying %q; page:\n%s", tc.field, tc.says, excerpt(resp.body, "error-summary"))
			}
			if !strings.Contains(resp.body, `href="#`+tc.field+`"`) {
				t.Errorf("the error summary does not link to %s", tc.field)
			}
			if tc.field != "events" && tc.field != "secret" && !strings.Contains(resp.body, strings.ReplaceAll(url.Values{"x": {tc.value}}.Get("x"), "<", "&lt;")) {
				t.Errorf("the form lost what was typed in %s", tc.field)
			}
		})
	}
	if status, body := s.apiCall(t, http.MethodGet, "/v1/webhooks", s.tokA, nil); status != http.StatusOK || strings.Contains(string(body), "orders") {
		t.Errorf("a refused form created a webhook: %s", body)
	}
}

func excerpt(body, near string) string {
	i := strings.Index(body, near)
	if i < 0 {
		i = 0
	}
	return body[i:min(len(body), i+1500)]
}

// The secret is on the page that answers the create, and on no page after.
func TestSecretShownOnce(t *testing.T) {
	t.Parallel()
	s := setup(t, options{})
	b := s.login(t, s.tokA)
	resp := b.post("/portal/webhooks", url.Values{"name": {"once"}, "url": {"https://example.com/once"}, "enabled": {"true"}})
	secret := regexp.MustCompile(`<code id="secret-value">(whsec_[^<]+)</code>`).FindStringSubmatch(resp.body)
	if resp.status != http.StatusOK || secret == nil {
		t.Fatalf("create: %d, no whsec_ secret on the page", resp.status)
	}
	id := regexp.MustCompile(`/portal/webhooks/(wh_[0-9a-f]+)`).FindStringSubmatch(resp.body)[1]
	for _, path := range []string{"/portal/", "/portal/webhooks/" + id, "/portal/webhooks/" + id + "/edit", "/portal/webhooks/" + id + "/verify",
		"/portal/webhooks/" + id + "/deliveries", "/portal/webhooks/" + id + "/delete"} {
		if resp := b.get(path); resp.status != http.StatusOK || strings.Contains(resp.body, secret[1]) {
			t.Errorf("%s: %d; the secret must not be on it", path, resp.status)
		}
	}
	// Rotating shows the new one, once.
	resp = b.post("/portal/webhooks/"+id+"/rotate", url.Values{"overlap": {"1h"}})
	rotated := regexp.MustCompile(`<code id="secret-value">(whsec_[^<]+)</code>`).FindStringSubmatch(resp.body)
	if resp.status != http.StatusOK || rotated == nil || rotated[1] == secret[1] || !strings.Contains(resp.body, "previous secret stays valid") {
		t.Fatalf("rotate: %d, want a new secret and the old one's expiry", resp.status)
	}
	if resp := b.get("/portal/webhooks/" + id); strings.Contains(resp.body, rotated[1]) {
		t.Error("the rotated secret is on the webhook page")
	}
	if resp := b.post("/portal/webhooks/"+id+"/rotate", url.Values{"overlap": {"forever"}}); resp.status != http.StatusBadRequest || !strings.Contains(resp.body, "invalid overlap") {
		t.Errorf("rotate with a bad overlap: %d, want 400 saying so", resp.status)
	}
}

// The filter is checked as typed by the API's own check.
func TestFilterCheck(t *testing.T) {
	t.Parallel()
	s := setup(t, options{})
	b := s.login(t, s.tokA)
	tests := []struct {
		filter string
		ok     bool
		says   string
	}{
		{filter: `event.currentValue.todoList.id == "L1"`, ok: true},
		{filter: "", ok: true},
		{filter: "event.type ==", says: "Syntax error"},
		{filter: `event.type == 1 +`, says: "Syntax error"},
		{filter: strings.Repeat("x", 5000), says: "at most 4096 bytes"},
	}
	for _, tc := range tests {
		resp := b.get("/portal/filter-check?filter=" + url.QueryEscape(tc.filter))
		var out struct {
			OK      bool   `json:"ok"`
			Message string `json:"message"`
		}
		if resp.status != http.StatusOK || json.Unmarshal([]byte(resp.body), &out) != nil {
			t.Fatalf("%q: %d %s", tc.filter, resp.status, resp.body)
		}
		if out.OK != tc.ok || !strings.Contains(out.Message, tc.says) {
			t.Errorf("%q: %+v, want ok %v saying %q", tc.filter, out, tc.ok, tc.says)
		}
	}
	if resp := s.browser(t).get("/portal/filter-check?filter=x"); resp.status != http.StatusUnauthorized {
		t.Errorf("without a session: %d, want 401", resp.status)
	}
}

// Minting a link is the API's, with its token and its problem details.
func TestMintingRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := setup(t, options{})
	tests := []struct {
		name     string
		token    string
		body     map[string]any
		status   int
		location string
	}{
		{name: "no token", body: map[string]any{}, status: http.StatusUnauthorized},
		{name: "javascript return", token: s.tokA, body: map[string]any{"returnUrl": "javascript:alert(1)"}, status: http.StatusBadRequest, location: "body.returnUrl"},
		{name: "relative return", token: s.tokA, body: map[string]any{"returnUrl": "/settings"}, status: http.StatusBadRequest, location: "body.returnUrl"},
		{name: "ttl too short", token: s.tokA, body: map[string]any{"ttl": "1s"}, status: http.StatusBadRequest, location: "body.ttl"},
		{name: "ttl too long", token: s.tokA, body: map[string]any{"ttl": "13h"}, status: http.StatusBadRequest, location: "body.ttl"},
		{name: "ttl not a duration", token: s.tokA, body: map[string]any{"ttl": "soon"}, status: http.StatusBadRequest, location: "body.ttl"},
		{name: "fine", token: s.tokA, body: map[string]any{"ttl": "30m", "returnUrl": "https://blue.example/x"}, status: http.StatusCreated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := s.apiCall(t, http.MethodPost, "/v1/portal/sessions", tc.token, tc.body)
			if status != tc.status || !strings.Contains(string(body), tc.location) {
				t.Errorf("%d %s, want %d naming %q", status, body, tc.status, tc.location)
			}
		})
	}
}

// The API reference is drawn on the server from the OpenAPI document, with
// nothing loaded from elsewhere.
func TestDocsAreServedFromTheBinary(t *testing.T) {
	t.Parallel()
	s := setup(t, options{})
	resp := s.browser(t).get("/docs")
	if resp.status != http.StatusOK {
		t.Fatalf("/docs: %d", resp.status)
	}
	for _, want := range []string{`id="create-webhook"`, `<code>/v1/webhooks</code>`, `id="create-portal-session"`, `id="schema-CreateBody"`, "at most 100"} {
		if !strings.Contains(resp.body, want) {
			t.Errorf("/docs lacks %q", want)
		}
	}
	loads := regexp.MustCompile(`<(?:script[^>]+src|link[^>]+href|img[^>]+src)="([^"]+)"`).FindAllStringSubmatch(resp.body, -1)
	if len(loads) == 0 {
		t.Error("/docs loads no stylesheet: the test reads the wrong page")
	}
	for _, l := range loads {
		if !strings.HasPrefix(l[1], "/portal/static/") && !strings.HasPrefix(l[1], "data:") {
			t.Errorf("/docs loads %s, not from the binary", l[1])
		}
	}
}
