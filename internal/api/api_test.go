package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/netguard"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

// bundle is what every test of this file works with: an API server over a
// real registry bucket, and two companies with one token each.
type bundle struct {
	url        string
	kv         jetstream.KeyValue
	coA, coB   string
	tokA, tokB string
}

func setup(t *testing.T, storeCfg registry.StoreConfig) *bundle {
	t.Helper()
	return setupLimits(t, storeCfg, webhook.Limits{})
}

// setupLimits is setup with the process-wide delivery caps limits.
func setupLimits(t *testing.T, storeCfg registry.StoreConfig, limits webhook.Limits) *bundle {
	t.Helper()
	return setupConfig(t, storeCfg, func(_ *testenv.NATS, cfg *api.Config) { cfg.Rules.Limits = limits })
}

// setupConfig is setup with changes to the API's configuration, made
// knowing the NATS server the registry is on.
func setupConfig(t *testing.T, storeCfg registry.StoreConfig, change func(*testenv.NATS, *api.Config)) *bundle {
	t.Helper()
	n := testenv.StartNATS(t, 1)
	kv, box := n.Registry(t)
	storeCfg.Box = box
	store, err := registry.NewStore(kv, storeCfg)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := event.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{kv: kv, coA: testenv.ID("co"), coB: testenv.ID("co"), tokA: testenv.ID("tokA"), tokB: testenv.ID("tokB")}
	cfg := api.Config{
		Tokens:          api.Tokens{b.tokA: b.coA, b.tokB: b.coB},
		Rules:           webhook.Rules{KnownEvent: cat.Known, CheckURL: netguard.New(nil).CheckURL},
		RotationOverlap: webhook.DefaultRotationOverlap,
	}
	change(n, &cfg)
	mux := http.NewServeMux()
	if _, err := api.New(mux, store, cat, cfg); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// do sends a request with an optional bearer token and JSON body and returns
// the status and the body.
func (b *bundle) do(t *testing.T, method, path, token string, body any) (int, []byte) {
	t.Helper()
	switch v := body.(type) {
	case nil:
		return b.raw(t, method, path, token, "", "")
	case string:
		return b.raw(t, method, path, token, "application/json", v)
	default:
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b.raw(t, method, path, token, "application/json", string(data))
	}
}

// webhookJSON is the API's webhook with Secret kept as raw JSON, so that
// "null" and "absent" can be told apart.
type webhookJSON struct {
	ID         string          `json:"id"`
	UID        string          `json:"uid"`
	Name       string          `json:"name"`
	URL        string          `json:"url"`
	Secret     json.RawMessage `json:"secret"`
	Status     string          `json:"status"`
	Enabled    bool            `json:"enabled"`
	Events     []string        `json:"events"`
	ProjectIDs []string        `json:"projectIds"`
	Filter     string          `json:"filter"`
	CreatedAt  time.Time       `json:"createdAt"`
	UpdatedAt  time.Time       `json:"updatedAt"`
}

// listPage is a page of GET /v1/webhooks; NextCursor is nil when absent.
type listPage struct {
	Data       []webhookJSON `json:"data"`
	NextCursor *string       `json:"nextCursor"`
}

type problemJSON struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, data, err)
	}
	return v
}

// create makes a webhook as company A (or the token given) and returns it.
func (b *bundle) create(t *testing.T, token string, body map[string]any) webhookJSON {
	t.Helper()
	status, data := b.do(t, http.MethodPost, "/v1/webhooks", token, body)
	if status != http.StatusCreated {
		t.Fatalf("create: status %d, body %s", status, data)
	}
	return decode[webhookJSON](t, data)
}

func validBody(name string) map[string]any {
	return map[string]any{"name": name, "url": "https://example.com/hooks/" + name}
}

func TestCreateSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	tests := []struct {
		name   string
		secret string // given; empty: let the server generate one
	}{
		{name: "generated"},
		{name: "given", secret: "my-own-secret-0123456789"},
		{name: "given whsec", secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := validBody("create-" + strings.ReplaceAll(tc.name, " ", "-"))
			if tc.secret != "" {
				body["secret"] = tc.secret
			}
			status, data := b.do(t, http.MethodPost, "/v1/webhooks", b.tokA, body)
			if status != http.StatusCreated {
				t.Fatalf("status %d, want 201; body %s", status, data)
			}
			created := decode[webhookJSON](t, data)
			var secret string
			if err := json.Unmarshal(created.Secret, &secret); err != nil {
				t.Fatalf("secret in create response is %s, want a string", created.Secret)
			}
			if tc.secret == "" && !strings.HasPrefix(secret, "whsec_") {
				t.Errorf("generated secret %q, want whsec_...", secret)
			}
			if tc.secret != "" && secret != tc.secret {
				t.Errorf("secret %q, want the given %q", secret, tc.secret)
			}
			if created.ID == "" || created.UID == "" || !created.Enabled || created.Status != webhook.StatusHealthy {
				t.Errorf("created webhook %+v: want id, uid, enabled and HEALTHY", created)
			}
			if created.Name != body["name"] || created.URL != body["url"] {
				t.Errorf("created %q %q, want %q %q", created.Name, created.URL, body["name"], body["url"])
			}

			// Afterwards, the secret is never shown again...
			status, data = b.do(t, http.MethodGet, "/v1/webhooks/"+created.ID, b.tokA, nil)
			if status != http.StatusOK {
				t.Fatalf("get: status %d, body %s", status, data)
			}
			if got := decode[webhookJSON](t, data); string(got.Secret) != "null" {
				t.Errorf("get: secret is %s, want null", got.Secret)
			}
			status, data = b.do(t, http.MethodGet, "/v1/webhooks?limit=500", b.tokA, nil)
			if status != http.StatusOK {
				t.Fatalf("list: status %d, body %s", status, data)
			}
			list := decode[struct{ Data []webhookJSON }](t, data)
			i := slices.IndexFunc(list.Data, func(w webhookJSON) bool { return w.ID == created.ID })
			if i < 0 {
				t.Fatalf("list does not contain %s", created.ID)
			}
			if string(list.Data[i].Secret) != "null" {
				t.Errorf("list: secret is %s, want null", list.Data[i].Secret)
			}
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("list response contains the plain secret")
			}

			// ...and the registry holds it sealed only.
			e, err := b.kv.Get(t.Context(), webhook.Key(b.coA, created.ID))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(e.Value(), []byte(secret)) {
				t.Errorf("the KV record contains the plain secret: %s", e.Value())
			}
			// The seal is not a mere encoding of the secret either.
			if rest, ok := strings.CutPrefix(secret, "whsec_"); ok && bytes.Contains(e.Value(), []byte(rest)) {
				t.Errorf("the KV record contains the secret's base64 part")
			}
		})
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		webhooks  int
		limit     int
		wantSizes []int
	}{
		{name: "7 by 3", webhooks: 7, limit: 3, wantSizes: []int{3, 3, 1}},
		{name: "6 by 3", webhooks: 6, limit: 3, wantSizes: []int{3, 3}},
		{name: "3 by 5", webhooks: 3, limit: 5, wantSizes: []int{3}},
		{name: "5 by 1", webhooks: 5, limit: 1, wantSizes: []int{1, 1, 1, 1, 1}},
		{name: "none", webhooks: 0, limit: 3, wantSizes: []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, registry.StoreConfig{})
			var want []string
			for i := range tc.webhooks {
				want = append(want, b.create(t, b.tokA, validBody(fmt.Sprint("page", i))).ID)
			}
			// Company B's webhooks never appear in A's pages.
			b.create(t, b.tokB, validBody("other-company"))
			got, sizes := b.pages(t, tc.limit)
			if !slices.Equal(sizes, tc.wantSizes) {
				t.Errorf("page sizes %v, want %v", sizes, tc.wantSizes)
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("pages gave %v, want each of %v once, in id order", got, want)
			}
		})
	}
}

// pages lists company A's webhooks page by page and returns the ids in the
// order served and the size of each page.
func (b *bundle) pages(t *testing.T, limit int) (ids []string, sizes []int) {
	t.Helper()
	cursor := ""
	for page := 0; ; page++ {
		if page > 20 {
			t.Fatal("paging does not end")
		}
		path := fmt.Sprintf("/v1/webhooks?limit=%d", limit)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		status, data := b.do(t, http.MethodGet, path, b.tokA, nil)
		if status != http.StatusOK {
			t.Fatalf("page %d: status %d, body %s", page, status, data)
		}
		out := decode[listPage](t, data)
		sizes = append(sizes, len(out.Data))
		for _, w := range out.Data {
			ids = append(ids, w.ID)
			if string(w.Secret) != "null" {
				t.Errorf("list secret %s, want null", w.Secret)
			}
		}
		if out.NextCursor == nil {
			if bytes.Contains(data, []byte("nextCursor")) {
				t.Errorf("last page carries nextCursor: %s", data)
			}
			break
		}
		if *out.NextCursor == "" {
			t.Fatalf("page %d: empty nextCursor present", page)
		}
		cursor = *out.NextCursor
	}
	return ids, sizes
}

// TestCreateDisabled: a webhook created disabled looks like one that was
// disabled afterwards.
func TestCreateDisabled(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	body := validBody("born-disabled")
	body["enabled"] = false
	w := b.create(t, b.tokA, body)
	if w.Enabled {
		t.Fatal("created enabled although enabled=false")
	}
	if w.Status != webhook.StatusUnhealthy {
		t.Errorf("created disabled with status %s, want UNHEALTHY as disable sets", w.Status)
	}
}

func TestPatch(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	tests := []struct {
		name  string
		patch map[string]any
		want  func(w *webhookJSON) // applied to the original to give the expected result
	}{
		{name: "name only", patch: map[string]any{"name": "renamed"}, want: func(w *webhookJSON) { w.Name = "renamed" }},
		{name: "url only", patch: map[string]any{"url": "https://example.org/new"}, want: func(w *webhookJSON) { w.URL = "https://example.org/new" }},
		{name: "events only", patch: map[string]any{"events": []string{"TODO_DELETED", "TODO_DELETED"}}, want: func(w *webhookJSON) { w.Events = []string{"TODO_DELETED"} }},
		{name: "clear projects", patch: map[string]any{"projectIds": []string{}}, want: func(w *webhookJSON) { w.ProjectIDs = []string{} }},
		{name: "disable via patch", patch: map[string]any{"enabled": false}, want: func(w *webhookJSON) { w.Enabled, w.Status = false, webhook.StatusUnhealthy }},
		{name: "empty patch", patch: map[string]any{}, want: func(*webhookJSON) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			orig := b.create(t, b.tokA, map[string]any{
				"name": "patch-me", "url": "https://example.com/hook",
				"events": []string{"TODO_CREATED"}, "projectIds": []string{"p1", "p2"},
			})
			status, data := b.do(t, http.MethodPatch, "/v1/webhooks/"+orig.ID, b.tokA, tc.patch)
			if status != http.StatusOK {
				t.Fatalf("status %d, body %s", status, data)
			}
			got := decode[webhookJSON](t, data)
			if string(got.Secret) != "null" {
				t.Errorf("patch response secret %s, want null", got.Secret)
			}
			want := orig
			tc.want(&want)
			if got.UpdatedAt.Before(orig.UpdatedAt) {
				t.Errorf("updatedAt went back: %v < %v", got.UpdatedAt, orig.UpdatedAt)
			}
			// Compare what the store holds, as GET shows it.
			_, data = b.do(t, http.MethodGet, "/v1/webhooks/"+orig.ID, b.tokA, nil)
			stored := decode[webhookJSON](t, data)
			for _, w := range []webhookJSON{got, stored} {
				if w.ID != want.ID || w.UID != want.UID || w.Name != want.Name || w.URL != want.URL ||
					w.Enabled != want.Enabled || w.Status != want.Status ||
					!slices.Equal(w.Events, want.Events) || !slices.Equal(w.ProjectIDs, want.ProjectIDs) ||
					!w.CreatedAt.Equal(want.CreatedAt) {
					t.Errorf("after patch %v:\n got %+v\nwant %+v", tc.patch, w, want)
				}
			}
		})
	}
}

func TestEnableDisable(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	w := b.create(t, b.tokA, validBody("toggle"))
	steps := []struct {
		name        string
		action      string
		wantEnabled bool
		wantStatus  string
	}{
		{name: "disable", action: "disable", wantEnabled: false, wantStatus: webhook.StatusUnhealthy},
		{name: "disable again", action: "disable", wantEnabled: false, wantStatus: webhook.StatusUnhealthy},
		{name: "enable", action: "enable", wantEnabled: true, wantStatus: webhook.StatusHealthy},
		{name: "enable again", action: "enable", wantEnabled: true, wantStatus: webhook.StatusHealthy},
		{name: "disable after enable", action: "disable", wantEnabled: false, wantStatus: webhook.StatusUnhealthy},
	}
	// Steps depend on each other: not parallel.
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			status, data := b.do(t, http.MethodPost, "/v1/webhooks/"+w.ID+"/"+st.action, b.tokA, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d, body %s", status, data)
			}
			got := decode[webhookJSON](t, data)
			if got.Enabled != st.wantEnabled || got.Status != st.wantStatus {
				t.Errorf("after %s: enabled %v status %s, want %v %s", st.action, got.Enabled, got.Status, st.wantEnabled, st.wantStatus)
			}
			_, data = b.do(t, http.MethodGet, "/v1/webhooks/"+w.ID, b.tokA, nil)
			if got := decode[webhookJSON](t, data); got.Enabled != st.wantEnabled || got.Status != st.wantStatus {
				t.Errorf("stored after %s: enabled %v status %s, want %v %s", st.action, got.Enabled, got.Status, st.wantEnabled, st.wantStatus)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	w := b.create(t, b.tokA, validBody("delete-me"))
	keep := b.create(t, b.tokA, validBody("keep-me"))
	if status, data := b.do(t, http.MethodDelete, "/v1/webhooks/"+w.ID, b.tokA, nil); status != http.StatusNoContent {
		t.Fatalf("delete: status %d, body %s", status, data)
	}
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/v1/webhooks/" + w.ID},
		{http.MethodDelete, "/v1/webhooks/" + w.ID},
		{http.MethodPatch, "/v1/webhooks/" + w.ID},
		{http.MethodPost, "/v1/webhooks/" + w.ID + "/enable"},
	} {
		var body any
		if req.method == http.MethodPatch {
			body = map[string]any{"name": "ghost"}
		}
		if status, data := b.do(t, req.method, req.path, b.tokA, body); status != http.StatusNotFound {
			t.Errorf("%s %s after delete: status %d, want 404; body %s", req.method, req.path, status, data)
		}
	}
	_, data := b.do(t, http.MethodGet, "/v1/webhooks", b.tokA, nil)
	list := decode[struct{ Data []webhookJSON }](t, data)
	if len(list.Data) != 1 || list.Data[0].ID != keep.ID {
		t.Errorf("list after delete: %+v, want only %s", list.Data, keep.ID)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	existing := b.create(t, b.tokA, validBody("bad-input-target"))
	with := func(k string, v any) map[string]any {
		m := validBody("bad-input")
		m[k] = v
		return m
	}
	tests := []struct {
		name     string
		method   string // default POST /v1/webhooks
		body     any
		location string
	}{
		{name: "missing name", body: map[string]any{"url": "https://example.com/h"}, location: "body.name"},
		{name: "empty name", body: with("name", ""), location: "body.name"},
		{name: "blank name", body: with("name", "   "), location: "body.name"},
		{name: "missing url", body: map[string]any{"name": "x"}, location: "body.url"},
		{name: "ftp url", body: with("url", "ftp://x"), location: "body.url"},
		{name: "not a url", body: with("url", "not a url"), location: "body.url"},
		{name: "credentials in url", body: with("url", "http://user:pw@host/"), location: "body.url"},
		{name: "url without host", body: with("url", "https:///path"), location: "body.url"},
		{name: "url with fragment", body: with("url", "https://example.com/#frag"), location: "body.url"},
		{name: "metadata address", body: with("url", "http://169.254.169.254/"), location: "body.url"},
		{name: "private address", body: with("url", "http://10.0.0.1/"), location: "body.url"},
		{name: "loopback v6", body: with("url", "http://[::1]/"), location: "body.url"},
		{name: "unspecified", body: with("url", "http://0.0.0.0/"), location: "body.url"},
		{name: "loopback v4", body: with("url", "https://127.0.0.1:8443/x"), location: "body.url"},
		{name: "mapped loopback", body: with("url", "http://[::ffff:127.0.0.1]/"), location: "body.url"},
		{name: "localhost", body: with("url", "http://localhost:8080/"), location: "body.url"},
		{name: "unknown event", body: with("events", []string{"TODO_EXPLODED"}), location: "body.events[0]"},
		{name: "unknown second event", body: with("events", []string{"TODO_CREATED", "NOPE"}), location: "body.events[1]"},
		{name: "bad project id", body: with("projectIds", []string{"has space"}), location: "body.projectIds[0]"},
		{name: "project id with dot", body: with("projectIds", []string{"ok", "a.b"}), location: "body.projectIds[1]"},
		{name: "empty project id", body: with("projectIds", []string{""}), location: "body.projectIds[0]"},
		{name: "secret too short", body: with("secret", "short"), location: "body.secret"},
		{name: "filter unsupported", body: with("filter", "true"), location: "body.filter"},
		{name: "patch bad url", method: http.MethodPatch, body: map[string]any{"url": "ftp://x"}, location: "body.url"},
		{name: "patch empty name", method: http.MethodPatch, body: map[string]any{"name": ""}, location: "body.name"},
		{name: "patch forbidden host", method: http.MethodPatch, body: map[string]any{"url": "http://10.0.0.1/"}, location: "body.url"},
		{name: "patch unknown event", method: http.MethodPatch, body: map[string]any{"events": []string{"NOPE"}}, location: "body.events[0]"},
		{name: "patch bad project", method: http.MethodPatch, body: map[string]any{"projectIds": []string{"x/y"}}, location: "body.projectIds[0]"},
	}
	// The group returns once every parallel case has finished.
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				method, path := http.MethodPost, "/v1/webhooks"
				if tc.method == http.MethodPatch {
					method, path = http.MethodPatch, "/v1/webhooks/"+existing.ID
				}
				status, data := b.do(t, method, path, b.tokA, tc.body)
				if status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400; body %s", status, data)
				}
				p := decode[problemJSON](t, data)
				if p.Status != http.StatusBadRequest || p.Title == "" {
					t.Errorf("problem %+v: want status 400 and a title", p)
				}
				var locs []string
				for _, e := range p.Errors {
					locs = append(locs, e.Location)
				}
				if !slices.Contains(locs, tc.location) {
					t.Errorf("errors at %q, want one at %q; body %s", locs, tc.location, data)
				}
			})
		}
	})
	// Nothing was created or changed by the bad requests.
	_, data := b.do(t, http.MethodGet, "/v1/webhooks", b.tokA, nil)
	list := decode[struct{ Data []webhookJSON }](t, data)
	if len(list.Data) != 1 || list.Data[0].URL != existing.URL || list.Data[0].Name != existing.Name {
		t.Errorf("after bad input the company has %+v, want only the unchanged %s", list.Data, existing.ID)
	}
}

func TestProblemContentType(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.url+"/v1/webhooks", strings.NewReader(`{"url":"ftp://x","name":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+b.tokA)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
}

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	w := b.create(t, b.tokA, validBody("auth"))
	tests := []struct {
		name   string
		header string // Authorization; empty: none
	}{
		{name: "missing"},
		{name: "unknown token", header: "Bearer nope"},
		{name: "empty bearer", header: "Bearer "},
		{name: "no scheme", header: b.tokA},
		{name: "basic scheme", header: "Basic " + b.tokA},
		{name: "prefix of a token", header: "Bearer " + b.tokA[:len(b.tokA)-1]},
		{name: "token plus extra", header: "Bearer " + b.tokA + "x"},
	}
	routes := []struct{ method, path string }{
		{http.MethodGet, "/v1/webhooks"},
		{http.MethodPost, "/v1/webhooks"},
		{http.MethodGet, "/v1/webhooks/" + w.ID},
		{http.MethodPatch, "/v1/webhooks/" + w.ID},
		{http.MethodDelete, "/v1/webhooks/" + w.ID},
		{http.MethodPost, "/v1/webhooks/" + w.ID + "/disable"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				for _, r := range routes {
					var body io.Reader
					if r.method == http.MethodPost || r.method == http.MethodPatch {
						body = strings.NewReader(`{"name":"x","url":"https://example.com/"}`)
					}
					req, err := http.NewRequestWithContext(t.Context(), r.method, b.url+r.path, body)
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Content-Type", "application/json")
					if tc.header != "" {
						req.Header.Set("Authorization", tc.header)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					data, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusUnauthorized {
						t.Errorf("%s %s: status %d, want 401; body %s", r.method, r.path, resp.StatusCode, data)
						continue
					}
					if resp.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s %s: 401 without WWW-Authenticate", r.method, r.path)
					}
					if p := decode[problemJSON](t, data); p.Status != http.StatusUnauthorized {
						t.Errorf("%s %s: problem status %d", r.method, r.path, p.Status)
					}
				}
			})
		}
	})
	// The webhook survived the unauthenticated DELETE and PATCH.
	status, data := b.do(t, http.MethodGet, "/v1/webhooks/"+w.ID, b.tokA, nil)
	if status != http.StatusOK || decode[webhookJSON](t, data).Name != w.Name || !decode[webhookJSON](t, data).Enabled {
		t.Errorf("after unauthorized requests: status %d body %s, want the unchanged webhook", status, data)
	}
}

func TestOtherCompanyGets404(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	w := b.create(t, b.tokA, validBody("company-a"))
	tests := []struct {
		name   string
		method string
		path   string
		body   any
	}{
		{name: "get", method: http.MethodGet, path: "/v1/webhooks/" + w.ID},
		{name: "patch", method: http.MethodPatch, path: "/v1/webhooks/" + w.ID, body: map[string]any{"name": "stolen"}},
		{name: "delete", method: http.MethodDelete, path: "/v1/webhooks/" + w.ID},
		{name: "enable", method: http.MethodPost, path: "/v1/webhooks/" + w.ID + "/enable"},
		{name: "disable", method: http.MethodPost, path: "/v1/webhooks/" + w.ID + "/disable"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				status, data := b.do(t, tc.method, tc.path, b.tokB, tc.body)
				if status != http.StatusNotFound {
					t.Errorf("status %d, want 404; body %s", status, data)
				}
				if bytes.Contains(data, []byte(w.ID)) || bytes.Contains(data, []byte(b.coA)) {
					t.Errorf("404 body leaks company A's data: %s", data)
				}
			})
		}
		t.Run("list", func(t *testing.T) {
			t.Parallel()
			_, data := b.do(t, http.MethodGet, "/v1/webhooks", b.tokB, nil)
			if list := decode[struct{ Data []webhookJSON }](t, data); len(list.Data) != 0 {
				t.Errorf("company B lists %+v, want nothing", list.Data)
			}
		})
		t.Run("cursor of another company", func(t *testing.T) {
			t.Parallel()
			_, data := b.do(t, http.MethodGet, "/v1/webhooks?cursor="+w.ID, b.tokB, nil)
			if list := decode[struct{ Data []webhookJSON }](t, data); len(list.Data) != 0 {
				t.Errorf("company B lists %+v, want nothing", list.Data)
			}
		})
	})
	// After every attempt by B, A's webhook is untouched.
	status, data := b.do(t, http.MethodGet, "/v1/webhooks/"+w.ID, b.tokA, nil)
	got := decode[webhookJSON](t, data)
	if status != http.StatusOK || got.Name != w.Name || !got.Enabled || got.Status != webhook.StatusHealthy {
		t.Errorf("company A's webhook after B's attempts: status %d, %+v", status, got)
	}
}

func TestLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{MaxPerCompany: 2})
	b.create(t, b.tokA, validBody("one"))
	b.create(t, b.tokA, validBody("two"))
	status, data := b.do(t, http.MethodPost, "/v1/webhooks", b.tokA, validBody("three"))
	if status != http.StatusConflict {
		t.Fatalf("third create: status %d, want 409; body %s", status, data)
	}
	if p := decode[problemJSON](t, data); p.Status != http.StatusConflict {
		t.Errorf("problem status %d, want 409", p.Status)
	}
	// The cap is per company.
	b.create(t, b.tokB, validBody("b-one"))
	_, data = b.do(t, http.MethodGet, "/v1/webhooks", b.tokA, nil)
	if list := decode[struct{ Data []webhookJSON }](t, data); len(list.Data) != 2 {
		t.Errorf("company A has %d webhooks, want 2", len(list.Data))
	}
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	status, data := b.do(t, http.MethodGet, "/openapi.json", "", nil)
	if status != http.StatusOK {
		t.Fatalf("status %d, body %.200s", status, data)
	}
	doc := decode[struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}](t, data)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	tests := []struct {
		name    string
		path    string
		methods []string
	}{
		{name: "collection", path: "/v1/webhooks", methods: []string{"get", "post"}},
		{name: "item", path: "/v1/webhooks/{id}", methods: []string{"get", "patch", "delete"}},
		{name: "enable", path: "/v1/webhooks/{id}/enable", methods: []string{"post"}},
		{name: "disable", path: "/v1/webhooks/{id}/disable", methods: []string{"post"}},
		{name: "event types", path: "/v1/event-types", methods: []string{"get"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ops, ok := doc.Paths[tc.path]
			if !ok {
				t.Fatalf("path %s missing from the OpenAPI document", tc.path)
			}
			for _, m := range tc.methods {
				if _, ok := ops[m]; !ok {
					t.Errorf("%s %s missing", m, tc.path)
				}
			}
		})
	}
}

func TestEventTypes(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	// Public: no token needed, and a token does no harm.
	for _, tok := range []string{"", b.tokA} {
		status, data := b.do(t, http.MethodGet, "/v1/event-types", tok, nil)
		if status != http.StatusOK {
			t.Fatalf("token %q: status %d, body %.300s", tok, status, data)
		}
		out := decode[struct{ Data []api.EventType }](t, data)
		i := slices.IndexFunc(out.Data, func(e api.EventType) bool { return e.Type == "TODO_CREATED" })
		if i < 0 {
			t.Fatalf("TODO_CREATED not listed among %d types", len(out.Data))
		}
		et := out.Data[i]
		if et.Description == "" || et.Entity == "" {
			t.Errorf("TODO_CREATED: description %q entity %q, want both", et.Description, et.Entity)
		}
		var schema map[string]any
		if err := json.Unmarshal(et.Schema, &schema); err != nil || len(schema) == 0 {
			t.Errorf("TODO_CREATED schema %s: want a JSON Schema object (%v)", et.Schema, err)
		}
		var example struct {
			Type      string `json:"type"`
			CompanyID string `json:"companyId"`
		}
		if err := json.Unmarshal(et.Example, &example); err != nil || example.Type != "TODO_CREATED" || example.CompanyID == "" {
			t.Errorf("TODO_CREATED example %s: want an envelope of type TODO_CREATED (%v)", et.Example, err)
		}
		for _, e := range out.Data {
			if e.Type == "" || len(e.Schema) == 0 || len(e.Example) == 0 {
				t.Errorf("incomplete catalogue entry %+v", e)
			}
		}
	}
}
