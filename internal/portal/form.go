package portal

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/danielgtaylor/huma/v2"

	"github.com/bluehq/webhooks/internal/api"
)

// webhookForm is the create and edit form as typed, and what the API said
// of it: the form is sent to the API's own checks as the JSON body the API
// would get, so a field is refused here exactly when the API refuses it.
type webhookForm struct {
	Name, URL, Secret, ProjectIDs, Filter, RateLimit, MaxConcurrency string
	Events                                                           []string
	Enabled                                                          bool
	// Errors are the API's messages by field (name, url, events, ...);
	// Problem is the API's summary when it refused the form.
	Errors  map[string][]string
	Problem string
}

func readWebhookForm(r *http.Request) webhookForm {
	return webhookForm{
		Name: r.PostFormValue("name"), URL: strings.TrimSpace(r.PostFormValue("url")),
		Secret: r.PostFormValue("secret"), ProjectIDs: r.PostFormValue("projectIds"),
		Filter: r.PostFormValue("filter"), RateLimit: strings.TrimSpace(r.PostFormValue("rateLimit")),
		MaxConcurrency: strings.TrimSpace(r.PostFormValue("maxConcurrency")),
		Events:         r.PostForm["events"], Enabled: r.PostFormValue("enabled") != "",
	}
}

func formOf(w api.Webhook) webhookForm {
	f := webhookForm{
		Name: w.Name, URL: w.URL, Events: w.Events, ProjectIDs: strings.Join(w.ProjectIDs, "\n"),
		Filter: w.Filter, Enabled: w.Enabled,
	}
	if w.RateLimit != nil {
		f.RateLimit = strconv.FormatFloat(*w.RateLimit, 'f', -1, 64)
	}
	if w.MaxConcurrency != nil {
		f.MaxConcurrency = strconv.Itoa(*w.MaxConcurrency)
	}
	return f
}

// projects splits the list as typed: commas, spaces or lines.
func (f webhookForm) projects() []string {
	return strings.FieldsFunc(f.ProjectIDs, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// number is a typed number as JSON: absent when empty, a number when it is
// one, and else the text itself, which the API's schema refuses as not a
// number, naming the field.
func number(s string) any {
	if s == "" {
		return nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return v
	}
	return s
}

// createBody is the form as a POST /v1/webhooks body.
func (f webhookForm) createBody() []byte {
	b := map[string]any{"name": f.Name, "url": f.URL, "enabled": f.Enabled}
	if f.Secret != "" {
		b["secret"] = f.Secret
	}
	if len(f.Events) > 0 {
		b["events"] = f.Events
	}
	if p := f.projects(); len(p) > 0 {
		b["projectIds"] = p
	}
	if f.Filter != "" {
		b["filter"] = f.Filter
	}
	for k, v := range map[string]any{"rateLimit": number(f.RateLimit), "maxConcurrency": number(f.MaxConcurrency)} {
		if v != nil {
			b[k] = v
		}
	}
	raw, _ := json.Marshal(b) // strings, numbers and lists: it cannot fail
	return raw
}

// patchBody is the form as a PATCH body: every field, an empty cap as null
// (the server's default), an empty list as all.
func (f webhookForm) patchBody() []byte {
	b := map[string]any{
		"name": f.Name, "url": f.URL, "events": nonNil(f.Events), "projectIds": nonNil(f.projects()),
		"filter": f.Filter, "rateLimit": number(f.RateLimit), "maxConcurrency": number(f.MaxConcurrency),
	}
	raw, _ := json.Marshal(b)
	return raw
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// refusal is what the API said when it refused a request: its status, its
// summary, and its messages by field.
type refusal struct {
	Status  int
	Problem string
	Fields  map[string][]string
}

// refusalOf reads the API's problem details; ok is false for an error that
// is not one (an internal failure).
func refusalOf(err error) (refusal, bool) {
	var em *huma.ErrorModel
	if !errors.As(err, &em) || em.Status >= 500 {
		return refusal{}, false
	}
	r := refusal{Status: em.Status, Problem: em.Detail, Fields: map[string][]string{}}
	if r.Problem == "" {
		r.Problem = em.Title
	}
	for _, d := range em.Errors {
		if field := fieldOf(d.Location); field != "" {
			r.Fields[field] = append(r.Fields[field], d.Message)
		}
	}
	return r, true
}

// fieldOf names the form field of a problem's location: body.events[2] is
// the field events.
func fieldOf(location string) string {
	f, ok := strings.CutPrefix(location, "body.")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(f, ".["); i >= 0 {
		f = f[:i]
	}
	return f
}
