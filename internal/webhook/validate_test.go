package webhook_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bluehq/webhooks/internal/netguard"
	"github.com/bluehq/webhooks/internal/webhook"
)

func valid() *webhook.Webhook {
	return &webhook.Webhook{
		CompanyID: "acme", Name: "orders", URL: "https://example.com/hooks",
		Events: []string{"TODO_CREATED"}, ProjectIDs: []string{"p1"}, Enabled: true,
	}
}

var known = map[string]bool{"TODO_CREATED": true, "TODO_DELETED": true}

func rules() webhook.Rules {
	return webhook.Rules{
		KnownEvent: func(s string) bool { return known[s] },
		CheckURL:   netguard.New(nil).CheckURL,
		CheckFilter: func(expr string) error {
			if strings.Contains(expr, "((") {
				return errors.New("syntax error at 1")
			}
			return nil
		},
	}
}

// withLimits returns rules() with process-wide rate and concurrency limits.
func withLimits(rate float64, concurrency int) func() webhook.Rules {
	return func() webhook.Rules {
		r := rules()
		r.Limits = webhook.Limits{Rate: rate, Concurrency: concurrency}
		return r
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	tests := []struct {
		name      string
		rules     func() webhook.Rules // default: rules()
		change    func(w *webhook.Webhook)
		field     string // "" means valid
		detailHas string
	}{
		{name: "valid", change: func(*webhook.Webhook) {}},
		{name: "valid http", change: func(w *webhook.Webhook) { w.URL = "http://example.com:8080/x?y=1" }},
		{name: "valid no events or projects", change: func(w *webhook.Webhook) { w.Events, w.ProjectIDs = nil, nil }},
		{name: "valid name of 200 runes", change: func(w *webhook.Webhook) { w.Name = strings.Repeat("é", 200) }},
		{name: "valid name with spaces around", change: func(w *webhook.Webhook) { w.Name = "  x  " }},
		{name: "valid filter", change: func(w *webhook.Webhook) { w.Filter = `event.projectId == "p1"` }},
		{name: "valid max events", change: func(w *webhook.Webhook) {
			w.Events = many(webhook.MaxEvents, func(int) string { return "TODO_CREATED" })
		}},
		{name: "valid max projects", change: func(w *webhook.Webhook) {
			w.ProjectIDs = many(webhook.MaxProjectIDs, func(i int) string { return fmt.Sprint("p", i) })
		}},
		{name: "valid with no rules", rules: func() webhook.Rules { return webhook.Rules{} },
			change: func(w *webhook.Webhook) { w.Events, w.URL = []string{"ANYTHING"}, "http://127.0.0.1/" }},

		{name: "empty name", change: func(w *webhook.Webhook) { w.Name = "" }, field: "name"},
		{name: "blank name", change: func(w *webhook.Webhook) { w.Name = " \t\n" }, field: "name"},
		{name: "name of 201 runes", change: func(w *webhook.Webhook) { w.Name = strings.Repeat("é", 201) }, field: "name", detailHas: "200"},
		{name: "valid name in any script", change: func(w *webhook.Webhook) { w.Name = "Überweisungen – 請求書 🚀" }},
		{name: "NUL in name", change: func(w *webhook.Webhook) { w.Name = "a\x00b" }, field: "name", detailHas: "control characters"},
		{name: "tab inside name", change: func(w *webhook.Webhook) { w.Name = "a\tb" }, field: "name", detailHas: "control characters"},
		{name: "line break inside name", change: func(w *webhook.Webhook) { w.Name = "a\nb" }, field: "name", detailHas: "control characters"},
		{name: "escape in name", change: func(w *webhook.Webhook) { w.Name = "a\x1b[31mb" }, field: "name", detailHas: "control characters"},
		{name: "DEL in name", change: func(w *webhook.Webhook) { w.Name = "a\x7fb" }, field: "name", detailHas: "control characters"},
		{name: "C1 control in name", change: func(w *webhook.Webhook) { w.Name = "a\u0085b" }, field: "name", detailHas: "control characters"},

		{name: "empty url", change: func(w *webhook.Webhook) { w.URL = "" }, field: "url"},
		{name: "url too long", change: func(w *webhook.Webhook) { w.URL = "https://example.com/" + strings.Repeat("a", webhook.MaxURLLen) }, field: "url", detailHas: "2048"},
		{name: "ftp", change: func(w *webhook.Webhook) { w.URL = "ftp://x" }, field: "url", detailHas: "scheme"},
		{name: "not a url", change: func(w *webhook.Webhook) { w.URL = "not a url" }, field: "url"},
		{name: "no scheme", change: func(w *webhook.Webhook) { w.URL = "example.com/hook" }, field: "url"},
		{name: "unparsable", change: func(w *webhook.Webhook) { w.URL = "http://[::1" }, field: "url"},
		{name: "bad escape", change: func(w *webhook.Webhook) { w.URL = "http://example.com/%zz" }, field: "url"},
		{name: "no host", change: func(w *webhook.Webhook) { w.URL = "https:///path" }, field: "url", detailHas: "host"},
		{name: "opaque", change: func(w *webhook.Webhook) { w.URL = "http:example.com" }, field: "url"},
		{name: "credentials", change: func(w *webhook.Webhook) { w.URL = "http://user:pw@host/" }, field: "url", detailHas: "credentials"},
		{name: "user only", change: func(w *webhook.Webhook) { w.URL = "https://user@example.com/" }, field: "url"},
		{name: "fragment", change: func(w *webhook.Webhook) { w.URL = "https://example.com/#x" }, field: "url"},
		{name: "javascript", change: func(w *webhook.Webhook) { w.URL = "javascript:alert(1)" }, field: "url"},
		{name: "metadata address", change: func(w *webhook.Webhook) { w.URL = "http://169.254.169.254/latest" }, field: "url", detailHas: "not allowed"},
		{name: "private address", change: func(w *webhook.Webhook) { w.URL = "http://10.0.0.1/" }, field: "url"},
		{name: "loopback v6", change: func(w *webhook.Webhook) { w.URL = "http://[::1]:8080/" }, field: "url"},
		{name: "mapped loopback", change: func(w *webhook.Webhook) { w.URL = "http://[::ffff:127.0.0.1]/" }, field: "url"},
		{name: "unspecified", change: func(w *webhook.Webhook) { w.URL = "http://0.0.0.0/" }, field: "url"},
		{name: "localhost", change: func(w *webhook.Webhook) { w.URL = "http://localhost/" }, field: "url"},

		{name: "unknown event", change: func(w *webhook.Webhook) { w.Events = []string{"NOPE"} }, field: "events[0]", detailHas: "NOPE"},
		{name: "unknown long event shown clipped", change: func(w *webhook.Webhook) { w.Events = []string{"X" + strings.Repeat("Y", 100000)} }, field: "events[0]", detailHas: `"X` + strings.Repeat("Y", 63) + `…"`},
		{name: "unknown third event", change: func(w *webhook.Webhook) { w.Events = []string{"TODO_CREATED", "TODO_DELETED", "todo_created"} }, field: "events[2]"},
		{name: "too many events", change: func(w *webhook.Webhook) {
			w.Events = many(webhook.MaxEvents+1, func(int) string { return "TODO_CREATED" })
		}, field: "events"},

		{name: "bad project id", change: func(w *webhook.Webhook) { w.ProjectIDs = []string{"has space"} }, field: "projectIds[0]"},
		{name: "dotted project id", change: func(w *webhook.Webhook) { w.ProjectIDs = []string{"p1", "a.b"} }, field: "projectIds[1]"},
		{name: "wildcard project id", change: func(w *webhook.Webhook) { w.ProjectIDs = []string{"*"} }, field: "projectIds[0]"},
		{name: "empty project id", change: func(w *webhook.Webhook) { w.ProjectIDs = []string{""} }, field: "projectIds[0]"},
		{name: "long project id", change: func(w *webhook.Webhook) { w.ProjectIDs = []string{strings.Repeat("p", 65)} }, field: "projectIds[0]"},
		{name: "too many projects", change: func(w *webhook.Webhook) {
			w.ProjectIDs = many(webhook.MaxProjectIDs+1, func(i int) string { return fmt.Sprint("p", i) })
		}, field: "projectIds"},

		{name: "filter too long", change: func(w *webhook.Webhook) { w.Filter = strings.Repeat("x", webhook.MaxFilterLen+1) }, field: "filter"},
		{name: "filter not compiling", change: func(w *webhook.Webhook) { w.Filter = "((" }, field: "filter", detailHas: "syntax error"},
		{name: "filter without a checker", rules: func() webhook.Rules { r := rules(); r.CheckFilter = nil; return r },
			change: func(w *webhook.Webhook) { w.Filter = "true" }, field: "filter"},

		{name: "first error wins", change: func(w *webhook.Webhook) { w.Name, w.URL = "", "ftp://x" }, field: "name"},

		// Caps without a process-wide rate: up to MaxRateLimit; concurrency up to the default 32.
		{name: "valid rate limit", change: func(w *webhook.Webhook) { w.RateLimit = 20 }},
		{name: "valid fractional rate limit", change: func(w *webhook.Webhook) { w.RateLimit = 0.5 }},
		{name: "valid slowest rate limit", change: func(w *webhook.Webhook) { w.RateLimit = webhook.MinRateLimit }},
		{name: "valid fastest rate limit without a ceiling", change: func(w *webhook.Webhook) { w.RateLimit = webhook.MaxRateLimit }},
		{name: "rate limit above the bound without a ceiling", change: func(w *webhook.Webhook) { w.RateLimit = webhook.MaxRateLimit + 1 }, field: "rateLimit", detailHas: "at most 1000000"},
		{name: "rate limit too slow", change: func(w *webhook.Webhook) { w.RateLimit = 0.001 }, field: "rateLimit", detailHas: "at least 0.01"},
		{name: "negative rate limit", change: func(w *webhook.Webhook) { w.RateLimit = -5 }, field: "rateLimit"},
		{name: "NaN rate limit", change: func(w *webhook.Webhook) { w.RateLimit = math.NaN() }, field: "rateLimit"},
		{name: "valid max concurrency 1", change: func(w *webhook.Webhook) { w.MaxConcurrency = 1 }},
		{name: "valid max concurrency at the default ceiling", change: func(w *webhook.Webhook) { w.MaxConcurrency = webhook.DefaultConcurrency }},
		{name: "max concurrency above the default ceiling", change: func(w *webhook.Webhook) { w.MaxConcurrency = 33 }, field: "maxConcurrency", detailHas: "between 1 and 32"},
		{name: "negative max concurrency", change: func(w *webhook.Webhook) { w.MaxConcurrency = -1 }, field: "maxConcurrency"},
		{name: "rate limit checked before max concurrency", change: func(w *webhook.Webhook) { w.RateLimit, w.MaxConcurrency = -1, -1 }, field: "rateLimit"},

		// With the process-wide variables set, they are the ceilings.
		{name: "valid rate limit at the ceiling", rules: withLimits(50, 4), change: func(w *webhook.Webhook) { w.RateLimit = 50 }},
		{name: "rate limit above the ceiling", rules: withLimits(50, 4), change: func(w *webhook.Webhook) { w.RateLimit = 50.5 }, field: "rateLimit", detailHas: "at most 50"},
		{name: "valid max concurrency at the ceiling", rules: withLimits(50, 4), change: func(w *webhook.Webhook) { w.MaxConcurrency = 4 }},
		{name: "max concurrency above the ceiling", rules: withLimits(50, 4), change: func(w *webhook.Webhook) { w.MaxConcurrency = 5 }, field: "maxConcurrency", detailHas: "between 1 and 4"},
		{name: "valid max concurrency above the default under a higher ceiling", rules: withLimits(0, 100), change: func(w *webhook.Webhook) { w.MaxConcurrency = 100 }},
		{name: "unset caps are valid under any ceiling", rules: withLimits(1, 1), change: func(w *webhook.Webhook) { w.RateLimit, w.MaxConcurrency = 0, 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := rules()
			if tc.rules != nil {
				r = tc.rules()
			}
			w := valid()
			tc.change(w)
			err := r.Validate(w)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			var fe *webhook.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate: %v, want a *FieldError for %s", err, tc.field)
			}
			if !errors.Is(err, webhook.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) is false", err)
			}
			if fe.Field != tc.field {
				t.Errorf("field %q, want %q (%v)", fe.Field, tc.field, err)
			}
			if fe.Detail == "" || !strings.Contains(fe.Detail, tc.detailHas) {
				t.Errorf("detail %q, want it to mention %q", fe.Detail, tc.detailHas)
			}
			if got := err.Error(); !strings.HasPrefix(got, tc.field+": ") {
				t.Errorf("Error() = %q, want it to start with the field", got)
			}
			// A wrapped FieldError is still recognised.
			if wrapped := fmt.Errorf("create: %w", err); !errors.Is(wrapped, webhook.ErrInvalid) || !errors.As(wrapped, &fe) {
				t.Errorf("wrapped error lost its FieldError")
			}
		})
	}
}

// TestValidateCheckURLGetsParsedURL: the SSRF check receives the parsed URL.
func TestValidateCheckURLGetsParsedURL(t *testing.T) {
	t.Parallel()
	var got *url.URL
	r := webhook.Rules{CheckURL: func(u *url.URL) error { got = u; return nil }}
	w := valid()
	w.URL = "https://Example.COM:8443/a/b?c=d"
	if err := r.Validate(w); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Hostname() != "Example.COM" || got.Port() != "8443" || got.Path != "/a/b" {
		t.Errorf("CheckURL got %v", got)
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{name: "letters digits", id: "abcXYZ019", want: true},
		{name: "underscore dash", id: "a_b-c", want: true},
		{name: "64 chars", id: strings.Repeat("a", 64), want: true},
		{name: "webhook id", id: webhook.NewID(), want: true},
		{name: "empty", id: ""},
		{name: "65 chars", id: strings.Repeat("a", 65)},
		{name: "dot", id: "a.b"},
		{name: "star", id: "*"},
		{name: "gt", id: ">"},
		{name: "space", id: "a b"},
		{name: "slash", id: "a/b"},
		{name: "non-ascii", id: "é"},
		{name: "nul", id: "a\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := webhook.ValidID(tc.id); got != tc.want {
				t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		events   []string
		projects []string
		typ      string
		project  string
		want     bool
	}{
		{name: "all", typ: "TODO_CREATED", project: "p1", want: true},
		{name: "listed event", events: []string{"TODO_CREATED"}, typ: "TODO_CREATED", project: "p1", want: true},
		{name: "unlisted event", events: []string{"TODO_DELETED"}, typ: "TODO_CREATED", project: "p1"},
		{name: "listed project", projects: []string{"p1", "p2"}, typ: "TODO_CREATED", project: "p2", want: true},
		{name: "unlisted project", projects: []string{"p1"}, typ: "TODO_CREATED", project: "p3"},
		{name: "company-level event, project list", projects: []string{"p1"}, typ: "WEBHOOK_DISABLED", project: ""},
		{name: "company-level event, no project list", typ: "WEBHOOK_DISABLED", project: "", want: true},
		{name: "both listed", events: []string{"TODO_CREATED"}, projects: []string{"p1"}, typ: "TODO_CREATED", project: "p1", want: true},
		{name: "event listed, project not", events: []string{"TODO_CREATED"}, projects: []string{"p1"}, typ: "TODO_CREATED", project: "p2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &webhook.Webhook{Events: tc.events, ProjectIDs: tc.projects}
			if got := w.Matches(tc.typ, tc.project); got != tc.want {
				t.Errorf("Matches(%s, %q) = %v, want %v", tc.typ, tc.project, got, tc.want)
			}
			// Being disabled does not change matching (jobs are parked).
			w.Enabled = false
			if got := w.Matches(tc.typ, tc.project); got != tc.want {
				t.Errorf("disabled: Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	idRE := regexp.MustCompile(`^wh_[0-9a-f]{24}$`)
	uidRE := regexp.MustCompile(`^[0-9a-f]{32}$`)
	var ids []string
	seen := map[string]bool{}
	for range 1000 {
		id, uid := webhook.NewID(), webhook.NewUID()
		if !idRE.MatchString(id) || !webhook.ValidID(id) {
			t.Fatalf("NewID() = %q", id)
		}
		if !uidRE.MatchString(uid) {
			t.Fatalf("NewUID() = %q", uid)
		}
		if seen[id] || seen[uid] {
			t.Fatalf("duplicate %q / %q", id, uid)
		}
		seen[id], seen[uid] = true, true
		ids = append(ids, id)
	}
	// The time prefix is non-decreasing, so list paging by id follows
	// creation order across milliseconds.
	for i := 1; i < len(ids); i++ {
		if ids[i][:15] < ids[i-1][:15] {
			t.Fatalf("time prefix went back: %s after %s", ids[i], ids[i-1])
		}
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	w := &webhook.Webhook{CompanyID: "acme", ID: "wh_1"}
	if got := w.Key(); got != "acme.wh_1" || got != webhook.Key("acme", "wh_1") {
		t.Errorf("Key() = %q, want acme.wh_1", got)
	}
}

func TestPublicHasNoSecret(t *testing.T) {
	t.Parallel()
	w := valid()
	w.Secrets = []webhook.Secret{{Sealed: []byte("sealed")}}
	w.Events, w.ProjectIDs = nil, nil
	p := w.Public()
	if p.Secret != nil {
		t.Errorf("Public().Secret = %q, want nil", *p.Secret)
	}
	if p.Events == nil || p.ProjectIDs == nil {
		t.Errorf("Public() lists %v %v, want empty non-nil slices (JSON [])", p.Events, p.ProjectIDs)
	}
	if p.ID != w.ID || p.Name != w.Name || p.URL != w.URL || p.Enabled != w.Enabled || !slices.Equal(p.Events, []string{}) {
		t.Errorf("Public() = %+v", p)
	}
}

// The effective caps: the webhook's own, clamped to the ceiling, else the
// process-wide default. The deliverer enforces these; the API refuses what
// would be clamped.
func TestEffectiveCaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		limits   webhook.Limits
		rate     float64
		conc     int
		wantRate float64
		wantConc int
	}{
		{name: "nothing set anywhere", wantRate: 0, wantConc: webhook.DefaultConcurrency},
		{name: "defaults only", limits: webhook.Limits{Rate: 50, Concurrency: 8}, wantRate: 50, wantConc: 8},
		{name: "own below the ceiling", limits: webhook.Limits{Rate: 50, Concurrency: 8}, rate: 20, conc: 2, wantRate: 20, wantConc: 2},
		{name: "own at the ceiling", limits: webhook.Limits{Rate: 50, Concurrency: 8}, rate: 50, conc: 8, wantRate: 50, wantConc: 8},
		{name: "own above the ceiling is clamped", limits: webhook.Limits{Rate: 50, Concurrency: 8}, rate: 1000, conc: 100, wantRate: 50, wantConc: 8},
		{name: "own rate without a process-wide rate", limits: webhook.Limits{Concurrency: 8}, rate: 20, wantRate: 20, wantConc: 8},
		{name: "own rate beyond the bound without a process-wide rate", rate: 2e6, wantRate: webhook.MaxRateLimit, wantConc: webhook.DefaultConcurrency},
		{name: "own concurrency under the default ceiling", conc: 100, wantConc: webhook.DefaultConcurrency},
		{name: "fractional own rate", limits: webhook.Limits{Rate: 1}, rate: 0.25, wantRate: 0.25, wantConc: webhook.DefaultConcurrency},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &webhook.Webhook{RateLimit: tc.rate, MaxConcurrency: tc.conc}
			if got := w.EffectiveRate(tc.limits); got != tc.wantRate {
				t.Errorf("EffectiveRate = %v, want %v", got, tc.wantRate)
			}
			if got := w.EffectiveConcurrency(tc.limits); got != tc.wantConc {
				t.Errorf("EffectiveConcurrency = %v, want %v", got, tc.wantConc)
			}
		})
	}
}

// The caps show in the API's view (null when unset) and never in the
// delivery body, whose shape customers already parse.
func TestCapsInPublicNotInPayload(t *testing.T) {
	t.Parallel()
	w := valid()
	if p := w.Public(); p.RateLimit != nil || p.MaxConcurrency != nil {
		t.Errorf("Public() of a webhook without caps = %v %v, want nil (JSON null)", p.RateLimit, p.MaxConcurrency)
	}
	data, err := json.Marshal(w.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"rateLimit":null`) || !strings.Contains(string(data), `"maxConcurrency":null`) {
		t.Errorf("Public JSON %s: want rateLimit and maxConcurrency null", data)
	}
	w.RateLimit, w.MaxConcurrency = 2.5, 3
	p := w.Public()
	if p.RateLimit == nil || *p.RateLimit != 2.5 || p.MaxConcurrency == nil || *p.MaxConcurrency != 3 {
		t.Fatalf("Public() = %v %v, want 2.5 and 3", p.RateLimit, p.MaxConcurrency)
	}
	*p.RateLimit, *p.MaxConcurrency = 9, 9
	if w.RateLimit != 2.5 || w.MaxConcurrency != 3 {
		t.Error("changing the Public view changed the record")
	}
	payload, err := w.PayloadJSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(payload), "rateLimit") || strings.Contains(string(payload), "maxConcurrency") {
		t.Errorf("delivery payload %s carries the caps", payload)
	}
	// The registry record keeps them, and omits them when unset.
	rec, _ := json.Marshal(w)
	if !strings.Contains(string(rec), `"rateLimit":2.5`) || !strings.Contains(string(rec), `"maxConcurrency":3`) {
		t.Errorf("record %s lacks the caps", rec)
	}
	rec, _ = json.Marshal(valid())
	if strings.Contains(string(rec), "rateLimit") || strings.Contains(string(rec), "maxConcurrency") {
		t.Errorf("record without caps %s mentions them", rec)
	}
}
