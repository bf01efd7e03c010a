package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/ingest"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/pkg/publish"
)

// bundle is a publisher endpoint over a real JetStream.
type bundle struct {
	url    string
	events jetstream.Stream
}

func setup(t *testing.T, cfg ingest.Config) *bundle {
	t.Helper()
	n := testenv.StartNATS(t, 1)
	pub, err := publish.New(n.Conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events, err := n.JS.Stream(ctx, stream.Events)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ingest.New(pub, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &bundle{url: srv.URL, events: events}
}

func newHandler(t *testing.T, pub ingest.Publisher, cfg ingest.Config) *ingest.Handler {
	t.Helper()
	h, err := ingest.New(pub, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A value out of range is refused, naming the field, instead of being
// replaced by the default.
func TestConfigRefusesInvalidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  ingest.Config
		want string
	}{
		{name: "negative body bound", cfg: ingest.Config{MaxBody: -1}, want: "MaxBody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ingest.New(nil, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one naming %s", err, tt.want)
			}
		})
	}
	if _, err := ingest.New(nil, ingest.Config{}); err != nil {
		t.Errorf("the zero Config takes the defaults, got %v", err)
	}
}

// post sends body to POST /v1/events with the given Authorization header
// (none if empty) and returns the status and body.
func (b *bundle) post(t *testing.T, auth string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.url+"/v1/events", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// count is the number of events stored for a company.
func (b *bundle) count(t *testing.T, company string) uint64 {
	t.Helper()
	info, err := b.events.Info(t.Context(), jetstream.WithSubjectFilter("events."+company+".>"))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// total is the number of messages in the EVENTS stream.
func (b *bundle) total(t *testing.T) uint64 {
	t.Helper()
	info, err := b.events.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// envelope is a valid TODO_CREATED event of company; mods change it.
func envelope(company string, mods ...func(map[string]any)) map[string]any {
	e := map[string]any{
		"id":            event.NewID(),
		"type":          "TODO_CREATED",
		"occurredAt":    time.Now().UTC().Format(time.RFC3339Nano),
		"companyId":     company,
		"projectId":     "proj1",
		"actorId":       "user1",
		"currentValue":  map[string]any{"id": "todo1", "title": "Write tests"},
		"previousValue": nil,
	}
	for _, m := range mods {
		m(e)
	}
	return e
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// accepted posts body without a token and returns the accepted ids,
// failing unless the answer is 202.
func accepted(t *testing.T, post func(*testing.T, string, []byte) (int, []byte), body []byte) []string {
	t.Helper()
	status, data := post(t, "", body)
	if status != http.StatusAccepted {
		t.Fatalf("status %d, want 202; body %s", status, data)
	}
	var out ingest.Accepted
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("202 body %s: %v", data, err)
	}
	return out.IDs
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

func TestPublishOne(t *testing.T) {
	t.Parallel()
	b := setup(t, ingest.Config{})
	co := testenv.ID("co")
	e := envelope(co)
	ids := accepted(t, b.post, mustJSON(t, e))
	if !slices.Equal(ids, []string{e["id"].(string)}) {
		t.Fatalf("ids %v, want [%s]", ids, e["id"])
	}
	msg, err := b.events.GetLastMsgForSubject(t.Context(), stream.EventSubject(co, "proj1", "TODO_CREATED"))
	if err != nil {
		t.Fatalf("event not in EVENTS: %v", err)
	}
	if got := msg.Header.Get(jetstream.MsgIDHeader); got != ids[0] {
		t.Errorf("Nats-Msg-Id %q, want %q", got, ids[0])
	}
	var stored event.Envelope
	if err := json.Unmarshal(msg.Data, &stored); err != nil {
		t.Fatal(err)
	}
	if stored.ID != ids[0] || stored.CompanyID != co || stored.Type != "TODO_CREATED" || stored.ProjectID != "proj1" {
		t.Errorf("stored %+v, want the published event", stored)
	}
	if !bytes.Contains(stored.CurrentValue, []byte(`"Write tests"`)) {
		t.Errorf("stored currentValue %s, want the published one", stored.CurrentValue)
	}
}

func TestPublishBatch(t *testing.T) {
	t.Parallel()
	b := setup(t, ingest.Config{})
	co := testenv.ID("co")
	batch := []map[string]any{
		envelope(co),
		envelope(co, func(e map[string]any) { e["type"] = "TODO_DELETED" }),
		envelope(co, func(e map[string]any) { delete(e, "projectId") }),
	}
	ids := accepted(t, b.post, mustJSON(t, batch))
	var want []string
	for _, e := range batch {
		want = append(want, e["id"].(string))
	}
	if !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v in order", ids, want)
	}
	if n := b.count(t, co); n != 3 {
		t.Errorf("%d events stored, want 3", n)
	}
	// The company-level event is stored under the "_" project.
	if _, err := b.events.GetLastMsgForSubject(t.Context(), stream.EventSubject(co, "", "TODO_CREATED")); err != nil {
		t.Errorf("event without project: %v", err)
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	// Nothing valid is ever posted to this server: the stream stays empty.
	b := setup(t, ingest.Config{})
	co := testenv.ID("co")
	one := func(mods ...func(map[string]any)) func(*testing.T) []byte {
		return func(t *testing.T) []byte { return mustJSON(t, envelope(co, mods...)) }
	}
	tests := []struct {
		name     string
		body     func(*testing.T) []byte
		location string
	}{
		{name: "missing companyId", body: one(func(e map[string]any) { delete(e, "companyId") }), location: "body/companyId"},
		{name: "companyId wrong type", body: one(func(e map[string]any) { e["companyId"] = 42 }), location: "body/companyId"},
		{name: "companyId with a dot", body: one(func(e map[string]any) { e["companyId"] = "acme.corp" }), location: "body/companyId"},
		{name: "companyId wildcard", body: one(func(e map[string]any) { e["companyId"] = "*" }), location: "body/companyId"},
		{name: "type wrong type", body: one(func(e map[string]any) { e["type"] = 7 }), location: "body/type"},
		{name: "unknown type", body: one(func(e map[string]any) { e["type"] = "TODO_EXPLODED" }), location: "body/type"},
		{name: "lower-case type", body: one(func(e map[string]any) { e["type"] = "todo_created" }), location: "body/type"},
		{name: "missing id", body: one(func(e map[string]any) { delete(e, "id") }), location: "body/id"},
		{name: "bad occurredAt", body: one(func(e map[string]any) { e["occurredAt"] = "yesterday" }), location: "body/occurredAt"},
		{name: "currentValue not an object", body: one(func(e map[string]any) { e["currentValue"] = "x" }), location: "body/currentValue"},
		{name: "currentValue without id", body: one(func(e map[string]any) { e["currentValue"] = map[string]any{"title": "x"} }), location: "body/currentValue/id"},
		{name: "unknown property", body: one(func(e map[string]any) { e["extra"] = true }), location: "body/extra"},
		{name: "not JSON", body: func(*testing.T) []byte { return []byte(`{"id": `) }, location: "body"},
		{name: "empty body", body: func(*testing.T) []byte { return nil }, location: "body"},
		{name: "empty batch", body: func(*testing.T) []byte { return []byte(`[]`) }, location: "body"},
		{name: "batch with one bad item", body: func(t *testing.T) []byte {
			return mustJSON(t, []map[string]any{
				envelope(co),
				envelope(co, func(e map[string]any) { delete(e, "companyId") }),
				envelope(co),
			})
		}, location: "body/1/companyId"},
		{name: "batch with a bad last item", body: func(t *testing.T) []byte {
			return mustJSON(t, []map[string]any{envelope(co), envelope(co, func(e map[string]any) { e["type"] = "NOPE" })})
		}, location: "body/1/type"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				status, data := b.post(t, "", tc.body(t))
				if status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400; body %s", status, data)
				}
				var p problemJSON
				if err := json.Unmarshal(data, &p); err != nil {
					t.Fatalf("problem %s: %v", data, err)
				}
				if p.Status != http.StatusBadRequest || p.Title == "" || len(p.Errors) != 1 {
					t.Fatalf("problem %+v: want status 400, a title and one error", p)
				}
				if got := p.Errors[0].Location; got != tc.location {
					t.Errorf("location %q, want %q (message %q)", got, tc.location, p.Errors[0].Message)
				}
				if p.Errors[0].Message == "" {
					t.Error("empty error message")
				}
				if n := b.total(t); n != 0 {
					t.Errorf("EVENTS holds %d messages after a rejected request, want 0", n)
				}
			})
		}
	})
	if n := b.total(t); n != 0 {
		t.Errorf("EVENTS holds %d messages after only rejected requests, want 0", n)
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	const limit = 1024
	b := setup(t, ingest.Config{MaxBody: limit})
	co := testenv.ID("co")
	tests := []struct {
		name       string
		size       int // length of the title
		wantStatus int
	}{
		{name: "under the limit", size: 100, wantStatus: http.StatusAccepted},
		{name: "over the limit", size: 2 * limit, wantStatus: http.StatusRequestEntityTooLarge},
		{name: "far over the limit", size: 64 * limit, wantStatus: http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := mustJSON(t, envelope(co, func(e map[string]any) {
				e["currentValue"] = map[string]any{"id": "t1", "title": strings.Repeat("x", tc.size)}
			}))
			status, data := b.post(t, "", body)
			if status != tc.wantStatus {
				t.Fatalf("body of %d bytes: status %d, want %d; body %s", len(body), status, tc.wantStatus, data)
			}
			if status == http.StatusRequestEntityTooLarge {
				var p problemJSON
				if err := json.Unmarshal(data, &p); err != nil || p.Status != http.StatusRequestEntityTooLarge {
					t.Errorf("413 body %s: want a problem (%v)", data, err)
				}
			}
		})
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, ingest.Config{Tokens: ingest.Tokens{"tokA": ingest.AllCompanies, "tokB": ingest.Unbound}})
	co := testenv.ID("co")
	tests := []struct {
		name       string
		auth       string
		wantStatus int
	}{
		{name: "missing", auth: "", wantStatus: http.StatusUnauthorized},
		{name: "wrong", auth: "Bearer tokC", wantStatus: http.StatusUnauthorized},
		{name: "empty bearer", auth: "Bearer ", wantStatus: http.StatusUnauthorized},
		{name: "prefix of a token", auth: "Bearer tok", wantStatus: http.StatusUnauthorized},
		{name: "no scheme", auth: "tokA", wantStatus: http.StatusUnauthorized},
		{name: "basic", auth: "Basic tokA", wantStatus: http.StatusUnauthorized},
		{name: "first token", auth: "Bearer tokA", wantStatus: http.StatusAccepted},
		{name: "second token", auth: "Bearer tokB", wantStatus: http.StatusAccepted},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				status, data := b.post(t, tc.auth, mustJSON(t, envelope(co)))
				if status != tc.wantStatus {
					t.Fatalf("status %d, want %d; body %s", status, tc.wantStatus, data)
				}
				if status == http.StatusUnauthorized {
					var p problemJSON
					if err := json.Unmarshal(data, &p); err != nil || p.Status != http.StatusUnauthorized {
						t.Errorf("401 body %s: want a problem (%v)", data, err)
					}
				}
			})
		}
	})
	// Only the two authorized requests stored anything.
	if n := b.count(t, co); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
}

// Only JSON in UTF-8 is taken: application/json or a +json type, with no
// charset or charset=utf-8; no Content-Type at all is taken for JSON.
func TestContentType(t *testing.T) {
	t.Parallel()
	b := setup(t, ingest.Config{})
	tests := []struct {
		name, contentType string
		want              int
	}{
		{name: "json", contentType: "application/json", want: http.StatusAccepted},
		{name: "json utf-8", contentType: "application/json; charset=utf-8", want: http.StatusAccepted},
		{name: "json UTF-8 in capitals", contentType: "Application/JSON;Charset=UTF-8", want: http.StatusAccepted},
		{name: "a +json type", contentType: "application/cloudevents+json", want: http.StatusAccepted},
		{name: "none", contentType: "", want: http.StatusAccepted},
		{name: "json with a suffix", contentType: "application/jsonfoo", want: http.StatusUnsupportedMediaType},
		{name: "json as a prefix of a parameterless type", contentType: "application/json-seq", want: http.StatusUnsupportedMediaType},
		{name: "bare +json", contentType: "application/+json", want: http.StatusUnsupportedMediaType},
		{name: "text", contentType: "text/plain", want: http.StatusUnsupportedMediaType},
		{name: "text json", contentType: "text/json", want: http.StatusUnsupportedMediaType},
		{name: "form", contentType: "application/x-www-form-urlencoded", want: http.StatusUnsupportedMediaType},
		{name: "json in latin-1", contentType: "application/json; charset=iso-8859-1", want: http.StatusUnsupportedMediaType},
		{name: "malformed", contentType: "application/json; charset", want: http.StatusUnsupportedMediaType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			co := testenv.ID("co")
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.url+"/v1/events", bytes.NewReader(mustJSON(t, envelope(co))))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("Content-Type %q: status %d, want %d; body %s", tc.contentType, resp.StatusCode, tc.want, data)
			}
			want := uint64(0)
			if tc.want == http.StatusAccepted {
				want = 1
			}
			if n := b.count(t, co); n != want {
				t.Errorf("%d events stored, want %d", n, want)
			}
		})
	}
}

// A body that is not UTF-8 is refused, naming the string that holds the
// first bad byte; nothing of it is stored.
func TestInvalidUTF8(t *testing.T) {
	t.Parallel()
	b := setup(t, ingest.Config{})
	co := testenv.ID("co")
	// marked returns the JSON of v with "MARK" replaced by an invalid byte.
	marked := func(t *testing.T, v any) []byte {
		return bytes.Replace(mustJSON(t, v), []byte("MARK"), []byte("bad\xffbyte"), 1)
	}
	withTitle := func(title string) func(map[string]any) {
		return func(e map[string]any) { e["currentValue"] = map[string]any{"id": "t1", "title": title} }
	}
	tests := []struct {
		name     string
		body     func(*testing.T) []byte
		location string
	}{
		{name: "in a value", body: func(t *testing.T) []byte { return marked(t, envelope(co, withTitle("MARK"))) }, location: "body/currentValue/title"},
		{name: "in a key", body: func(t *testing.T) []byte {
			return marked(t, envelope(co, func(e map[string]any) { e["currentValue"] = map[string]any{"id": "t1", "MARK": 1} }))
		}, location: "body/currentValue/bad\ufffdbyte"},
		{name: "in an array", body: func(t *testing.T) []byte {
			return marked(t, envelope(co, func(e map[string]any) {
				e["currentValue"] = map[string]any{"id": "t1", "tags": []any{"a", map[string]any{"t": "MARK"}}}
			}))
		}, location: "body/currentValue/tags/1/t"},
		{name: "in a later event of a batch", body: func(t *testing.T) []byte {
			return marked(t, []map[string]any{envelope(co), envelope(co, func(e map[string]any) { e["actorId"] = "MARK" })})
		}, location: "body/1/actorId"},
		{name: "after a nested object", body: func(t *testing.T) []byte {
			return marked(t, []any{map[string]any{"a": map[string]any{"b": []any{1, 2}}, "c": "MARK"}})
		}, location: "body/0/c"},
		{name: "outside any string", body: func(*testing.T) []byte { return []byte("\xff") }, location: "body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, data := b.post(t, "", tc.body(t))
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", status, data)
			}
			var p problemJSON
			if err := json.Unmarshal(data, &p); err != nil || len(p.Errors) != 1 {
				t.Fatalf("problem %s: want one error (%v)", data, err)
			}
			if p.Errors[0].Location != tc.location || !strings.Contains(p.Errors[0].Message, "UTF-8") {
				t.Errorf("error %+v, want location %q and a message about UTF-8", p.Errors[0], tc.location)
			}
		})
	}
	if n := b.total(t); n != 0 {
		t.Errorf("EVENTS holds %d messages after only refused bodies, want 0", n)
	}
}

// An error names a rejected value only by a short prefix: a 100 KB key or
// value does not come back whole.
func TestErrorsEchoShortly(t *testing.T) {
	t.Parallel()
	b := setup(t, ingest.Config{})
	co := testenv.ID("co")
	huge := strings.Repeat("A", 100_000)
	tests := []struct {
		name string
		mod  func(map[string]any)
	}{
		{name: "unknown property", mod: func(e map[string]any) { e[huge] = 1 }},
		{name: "property of currentValue", mod: func(e map[string]any) { e["currentValue"] = map[string]any{"id": 7, huge: 1} }},
		{name: "companyId", mod: func(e map[string]any) { e["companyId"] = huge }},
		{name: "type", mod: func(e map[string]any) { e["type"] = huge }},
		{name: "occurredAt", mod: func(e map[string]any) { e["occurredAt"] = "2022-12-01T11:23:09Z" + huge }},
		{name: "title", mod: func(e map[string]any) { e["currentValue"] = map[string]any{"id": 7, "title": huge} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, data := b.post(t, "", mustJSON(t, envelope(co, tc.mod)))
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %.300s", status, data)
			}
			if len(data) > 2000 || strings.Contains(string(data), strings.Repeat("A", 65)) {
				t.Errorf("a %d-byte answer echoes more than 64 bytes of the value: %.300s", len(data), data)
			}
		})
	}
}

// A token bound to a company publishes that company's events only: an
// event of another is refused with 403 naming its companyId, and a batch
// with one such event is refused whole. "*" and a bare token publish for
// every company.
func TestCompanyBoundTokens(t *testing.T) {
	t.Parallel()
	coA, coB := testenv.ID("co"), testenv.ID("co")
	b := setup(t, ingest.Config{Tokens: ingest.Tokens{"tok-a": coA, "tok-all": ingest.AllCompanies, "tok-bare": ingest.Unbound}})
	steps := []struct {
		name     string
		token    string
		body     any
		want     int
		location string // of the 403
	}{
		{name: "own company", token: "tok-a", body: envelope(coA), want: http.StatusAccepted},
		{name: "another company", token: "tok-a", body: envelope(coB), want: http.StatusForbidden, location: "body/companyId"},
		{name: "batch with a foreign event", token: "tok-a", body: []map[string]any{envelope(coA), envelope(coA), envelope(coB)}, want: http.StatusForbidden, location: "body/2/companyId"},
		{name: "batch of its own", token: "tok-a", body: []map[string]any{envelope(coA), envelope(coA)}, want: http.StatusAccepted},
		{name: "all companies", token: "tok-all", body: []map[string]any{envelope(coA), envelope(coB)}, want: http.StatusAccepted},
		{name: "bare token", token: "tok-bare", body: envelope(coB), want: http.StatusAccepted},
	}
	// In order: the counts at the end add the steps up.
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			status, data := b.post(t, "Bearer "+st.token, mustJSON(t, st.body))
			if status != st.want {
				t.Fatalf("status %d, want %d; body %s", status, st.want, data)
			}
			if st.want != http.StatusForbidden {
				return
			}
			var p problemJSON
			if err := json.Unmarshal(data, &p); err != nil || p.Status != http.StatusForbidden || len(p.Errors) != 1 {
				t.Fatalf("403 body %s: want a problem with one error (%v)", data, err)
			}
			if p.Errors[0].Location != st.location {
				t.Errorf("location %q, want %q", p.Errors[0].Location, st.location)
			}
			if strings.Contains(string(data), coA) {
				t.Errorf("the 403 tells which company the token is bound to: %s", data)
			}
		})
	}
	if a, bb := b.count(t, coA), b.count(t, coB); a != 4 || bb != 2 {
		t.Errorf("stored %d events of company A and %d of B, want 4 and 2 (nothing of a refused batch)", a, bb)
	}
}

func TestParseTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		list    string
		want    ingest.Tokens
		unbound int
		errHas  string // "": valid
	}{
		{name: "empty", list: "", want: ingest.Tokens{}},
		{name: "bound, all and bare", list: "t1=co1, t2=*, t3", want: ingest.Tokens{"t1": "co1", "t2": ingest.AllCompanies, "t3": ingest.Unbound}, unbound: 1},
		{name: "duplicate", list: "secret-one=co1,secret-two=*,secret-one=co2", errHas: "entry 3 repeats the token of entry 1"},
		{name: "duplicate bare", list: "secret-one,secret-one", errHas: "entry 2 repeats the token of entry 1"},
		{name: "bad company", list: "secret-one=a.b", errHas: "***=a.b"},
		{name: "empty company", list: "secret-one=", errHas: "token=companyId"},
		{name: "no token", list: "=co1", errHas: "no token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ingest.ParseTokens(tc.list)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("ParseTokens(%q) = %v, want an error with %q", tc.list, err, tc.errHas)
				}
				if strings.Contains(err.Error(), "secret-") {
					t.Errorf("the error shows a token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) || got.Unbound() != tc.unbound {
				t.Errorf("ParseTokens(%q) = %v (%d unbound), want %v (%d)", tc.list, got, got.Unbound(), tc.want, tc.unbound)
			}
		})
	}
}

func TestDeduplicated(t *testing.T) {
	t.Parallel()
	b := setup(t, ingest.Config{})
	tests := []struct {
		name   string
		bodies func(t *testing.T, co string) [][]byte
		want   uint64
	}{
		{name: "same event twice", bodies: func(t *testing.T, co string) [][]byte {
			e := mustJSON(t, envelope(co))
			return [][]byte{e, e}
		}, want: 1},
		{name: "same id, other content", bodies: func(t *testing.T, co string) [][]byte {
			e := envelope(co)
			first := mustJSON(t, e)
			e["type"] = "TODO_DELETED"
			return [][]byte{first, mustJSON(t, e)}
		}, want: 1},
		{name: "retried batch", bodies: func(t *testing.T, co string) [][]byte {
			batch := mustJSON(t, []map[string]any{envelope(co), envelope(co)})
			return [][]byte{batch, batch, batch}
		}, want: 2},
		{name: "one inside a batch", bodies: func(t *testing.T, co string) [][]byte {
			e := envelope(co)
			return [][]byte{mustJSON(t, e), mustJSON(t, []map[string]any{e, envelope(co)})}
		}, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			co := testenv.ID("co")
			for _, body := range tc.bodies(t, co) {
				accepted(t, b.post, body)
			}
			if n := b.count(t, co); n != tc.want {
				t.Errorf("%d events stored, want %d", n, tc.want)
			}
		})
	}
}

// publisherWithoutEvents is a publisher (waiting 1 s for a store) to a
// server whose EVENTS stream does not exist: every publish fails.
func publisherWithoutEvents(t *testing.T) *publish.Client {
	t.Helper()
	n := testenv.StartNATS(t, 1)
	pub, err := publish.New(n.Conn, publish.WithWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.JS.DeleteStream(t.Context(), stream.Events); err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestPublishUnavailable: when JetStream cannot store events within the
// publish wait, the client is told to retry (503 with Retry-After), not
// that its events are bad.
func TestPublishUnavailable(t *testing.T) {
	t.Parallel()
	pub := publisherWithoutEvents(t)
	h := newHandler(t, pub, ingest.Config{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/events", bytes.NewReader(mustJSON(t, envelope(testenv.ID("co")))))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503; body %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	var p problemJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != http.StatusServiceUnavailable {
		t.Errorf("503 body %s: want a problem (%v)", rec.Body, err)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("the handler waited for the deadline")
	}
}

// TestPublishHoldsUntilStored: while the stream cannot take events (its
// leader is being elected; here it does not exist for a moment), the
// ingest holds the request and answers 202 once the events are stored,
// within the publish wait, instead of 503.
func TestPublishHoldsUntilStored(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t, 1)
	pub, err := publish.New(n.Conn)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.JS.DeleteStream(t.Context(), stream.Events); err != nil {
		t.Fatal(err)
	}
	recreated := make(chan error, 1)
	time.AfterFunc(1500*time.Millisecond, func() {
		_, err := n.JS.CreateStream(context.Background(), jetstream.StreamConfig{Name: stream.Events, Subjects: []string{"events.>"}, Duplicates: 10 * time.Minute})
		recreated <- err
	})
	e := envelope(testenv.ID("co"))
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/events", bytes.NewReader(mustJSON(t, e)))
	rec := httptest.NewRecorder()
	start := time.Now()
	newHandler(t, pub, ingest.Config{}).ServeHTTP(rec, req)
	if err := <-recreated; err != nil {
		t.Fatalf("recreating EVENTS: %v", err)
	}
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d after %s, want 202 once EVENTS is back; body %s", rec.Code, time.Since(start), rec.Body)
	}
	if got := n.StreamState(t, stream.Events).Msgs; got != 1 {
		t.Fatalf("EVENTS holds %d events, want the one accepted", got)
	}
	t.Logf("accepted after %s", time.Since(start).Round(10*time.Millisecond))
}
