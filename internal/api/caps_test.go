package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/webhook"
)

// capsJSON is the part of the API's webhook that shows the caps, raw, so
// that null and a value can be told apart.
type capsJSON struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	RateLimit      json.RawMessage `json:"rateLimit"`
	MaxConcurrency json.RawMessage `json:"maxConcurrency"`
}

// ceilings are the process-wide DELIVERY_ENDPOINT_RATE and
// DELIVERY_ENDPOINT_CONCURRENCY of the servers below.
var ceilings = webhook.Limits{Rate: 50, Concurrency: 8}

// A webhook's rateLimit and maxConcurrency are set on create, changed and
// cleared (null) by PATCH, left alone by a PATCH without them, and shown by
// GET and list: null while unset.
func TestCaps(t *testing.T) {
	t.Parallel()
	b := setupLimits(t, registry.StoreConfig{}, ceilings)
	caps := func(t *testing.T, data []byte) (string, string) {
		t.Helper()
		c := decode[capsJSON](t, data)
		return string(c.RateLimit), string(c.MaxConcurrency)
	}
	get := func(t *testing.T, id string) (string, string) {
		t.Helper()
		status, data := b.do(t, http.MethodGet, "/v1/webhooks/"+id, b.tokA, nil)
		if status != http.StatusOK {
			t.Fatalf("get: status %d, body %s", status, data)
		}
		return caps(t, data)
	}

	t.Run("unset shows null", func(t *testing.T) {
		t.Parallel()
		for _, body := range []map[string]any{
			validBody("no-caps"),
			{"name": "null-caps", "url": "https://example.com/x", "rateLimit": nil, "maxConcurrency": nil},
		} {
			w := b.create(t, b.tokA, body)
			if rate, conc := get(t, w.ID); rate != "null" || conc != "null" {
				t.Errorf("%s: rateLimit %s maxConcurrency %s, want null null", body["name"], rate, conc)
			}
			rec, err := b.kv.Get(t.Context(), webhook.Key(b.coA, w.ID))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(rec.Value()), "rateLimit") || strings.Contains(string(rec.Value()), "maxConcurrency") {
				t.Errorf("%s: the record mentions unset caps: %s", body["name"], rec.Value())
			}
		}
	})

	t.Run("set, change, clear", func(t *testing.T) {
		t.Parallel()
		body := validBody("capped")
		body["rateLimit"], body["maxConcurrency"] = 20, 2
		status, data := b.do(t, http.MethodPost, "/v1/webhooks", b.tokA, body)
		if status != http.StatusCreated {
			t.Fatalf("create: status %d, body %s", status, data)
		}
		id := decode[capsJSON](t, data).ID
		if rate, conc := caps(t, data); rate != "20" || conc != "2" {
			t.Errorf("create response: %s %s, want 20 2", rate, conc)
		}
		steps := []struct {
			name               string
			patch              string
			wantRate, wantConc string
		}{
			{name: "other fields leave them", patch: `{"name":"renamed"}`, wantRate: "20", wantConc: "2"},
			{name: "change the rate to a fraction", patch: `{"rateLimit":0.5}`, wantRate: "0.5", wantConc: "2"},
			{name: "change both to the ceilings", patch: `{"rateLimit":50,"maxConcurrency":8}`, wantRate: "50", wantConc: "8"},
			{name: "clear the rate", patch: `{"rateLimit":null}`, wantRate: "null", wantConc: "8"},
			{name: "clear the concurrency", patch: `{"maxConcurrency":null}`, wantRate: "null", wantConc: "null"},
			{name: "set again", patch: `{"rateLimit":3,"maxConcurrency":1}`, wantRate: "3", wantConc: "1"},
			{name: "clear both", patch: `{"rateLimit":null,"maxConcurrency":null}`, wantRate: "null", wantConc: "null"},
		}
		for _, st := range steps { // in order: each step starts from the last
			status, data := b.do(t, http.MethodPatch, "/v1/webhooks/"+id, b.tokA, st.patch)
			if status != http.StatusOK {
				t.Fatalf("%s: status %d, body %s", st.name, status, data)
			}
			if rate, conc := caps(t, data); rate != st.wantRate || conc != st.wantConc {
				t.Errorf("%s: response %s %s, want %s %s", st.name, rate, conc, st.wantRate, st.wantConc)
			}
			if rate, conc := get(t, id); rate != st.wantRate || conc != st.wantConc {
				t.Errorf("%s: GET %s %s, want %s %s", st.name, rate, conc, st.wantRate, st.wantConc)
			}
		}
		// Cleared means unset in the record too, not a stored 0.
		rec, err := b.kv.Get(t.Context(), webhook.Key(b.coA, id))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(rec.Value()), "rateLimit") || strings.Contains(string(rec.Value()), "maxConcurrency") {
			t.Errorf("the record still mentions cleared caps: %s", rec.Value())
		}
	})

	t.Run("listed", func(t *testing.T) {
		t.Parallel()
		body := validBody("listed")
		body["maxConcurrency"] = 3
		w := b.create(t, b.tokA, body)
		_, data := b.do(t, http.MethodGet, "/v1/webhooks?limit=500", b.tokA, nil)
		list := decode[struct{ Data []capsJSON }](t, data)
		i := slices.IndexFunc(list.Data, func(c capsJSON) bool { return c.ID == w.ID })
		if i < 0 || string(list.Data[i].MaxConcurrency) != "3" || string(list.Data[i].RateLimit) != "null" {
			t.Errorf("list shows %+v for %s, want maxConcurrency 3, rateLimit null", list.Data, w.ID)
		}
	})
}

// Out-of-bounds caps are 400 problems naming body.rateLimit or
// body.maxConcurrency, the process-wide values being the ceilings; 0 is
// out of bounds (null, not 0, clears).
func TestCapsBadInput(t *testing.T) {
	t.Parallel()
	b := setupLimits(t, registry.StoreConfig{}, ceilings)
	existing := b.create(t, b.tokA, validBody("caps-target"))
	with := func(k string, v any) map[string]any {
		m := validBody("bad-caps")
		m[k] = v
		return m
	}
	tests := []struct {
		name     string
		patch    bool
		body     any
		location string
	}{
		{name: "zero rate", body: with("rateLimit", 0), location: "body.rateLimit"},
		{name: "negative rate", body: with("rateLimit", -1), location: "body.rateLimit"},
		{name: "rate below the minimum", body: with("rateLimit", 0.001), location: "body.rateLimit"},
		{name: "rate above the ceiling", body: with("rateLimit", 50.5), location: "body.rateLimit"},
		{name: "rate as a string", body: with("rateLimit", "fast"), location: "body.rateLimit"},
		{name: "zero concurrency", body: with("maxConcurrency", 0), location: "body.maxConcurrency"},
		{name: "concurrency above the ceiling", body: with("maxConcurrency", 9), location: "body.maxConcurrency"},
		{name: "fractional concurrency", body: with("maxConcurrency", 1.5), location: "body.maxConcurrency"},
		{name: "patch zero rate", patch: true, body: `{"rateLimit":0}`, location: "body.rateLimit"},
		{name: "patch rate above the ceiling", patch: true, body: `{"rateLimit":51}`, location: "body.rateLimit"},
		{name: "patch zero concurrency", patch: true, body: `{"maxConcurrency":0}`, location: "body.maxConcurrency"},
		{name: "patch concurrency above the ceiling", patch: true, body: `{"maxConcurrency":33}`, location: "body.maxConcurrency"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				method, path := http.MethodPost, "/v1/webhooks"
				if tc.patch {
					method, path = http.MethodPatch, "/v1/webhooks/"+existing.ID
				}
				status, data := b.do(t, method, path, b.tokA, tc.body)
				if status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400; body %s", status, data)
				}
				var locs []string
				for _, e := range decode[problemJSON](t, data).Errors {
					locs = append(locs, e.Location)
				}
				if !slices.Contains(locs, tc.location) {
					t.Errorf("errors at %q, want one at %q; body %s", locs, tc.location, data)
				}
			})
		}
	})
	_, data := b.do(t, http.MethodGet, "/v1/webhooks", b.tokA, nil)
	list := decode[struct{ Data []capsJSON }](t, data)
	if len(list.Data) != 1 || string(list.Data[0].RateLimit) != "null" || string(list.Data[0].MaxConcurrency) != "null" {
		t.Errorf("after bad input the company has %+v, want only the unchanged %s", list.Data, existing.ID)
	}
}

// The OpenAPI document shows the caps with their docs and this server's
// ceilings as bounds, nullable in requests (null: the default) and in the
// webhook.
func TestCapsInOpenAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		limits             webhook.Limits
		wantRate, wantConc float64
	}{
		{name: "ceilings set", limits: ceilings, wantRate: 50, wantConc: 8},
		{name: "no process-wide rate", limits: webhook.Limits{}, wantRate: webhook.MaxRateLimit, wantConc: webhook.DefaultConcurrency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupLimits(t, registry.StoreConfig{}, tc.limits)
			_, data := b.do(t, http.MethodGet, "/openapi.json", "", nil)
			type prop struct {
				Type        json.RawMessage `json:"type"` // a string or a list
				Description string          `json:"description"`
				Minimum     *float64        `json:"minimum"`
				Maximum     *float64        `json:"maximum"`
			}
			doc := decode[struct {
				Components struct {
					Schemas map[string]struct {
						Properties map[string]prop `json:"properties"`
					} `json:"schemas"`
				} `json:"components"`
			}](t, data)
			for _, body := range []string{"CreateBody", "PatchBody"} {
				for _, f := range []struct {
					field, typ string
					min, max   float64
				}{
					{"rateLimit", "number", webhook.MinRateLimit, tc.wantRate},
					{"maxConcurrency", "integer", 1, tc.wantConc},
				} {
					p, ok := doc.Components.Schemas[body].Properties[f.field]
					switch {
					case !ok:
						t.Errorf("%s.%s missing", body, f.field)
					case string(p.Type) != `["`+f.typ+`","null"]`:
						t.Errorf("%s.%s type %v, want [%s null]", body, f.field, p.Type, f.typ)
					case p.Description == "":
						t.Errorf("%s.%s has no doc", body, f.field)
					case p.Minimum == nil || *p.Minimum != f.min || p.Maximum == nil || *p.Maximum != f.max:
						t.Errorf("%s.%s bounds %v..%v, want %v..%v", body, f.field, p.Minimum, p.Maximum, f.min, f.max)
					}
				}
			}
			for _, f := range []string{"rateLimit", "maxConcurrency"} {
				if p := doc.Components.Schemas["Webhook"].Properties[f]; !strings.Contains(string(p.Type), `"null"`) || p.Description == "" {
					t.Errorf("Webhook.%s = %+v, want nullable with a doc", f, p)
				}
			}
		})
	}
}
