package portal

import (
	"context"
	"net/http"
	"strconv"
	"sync"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/inspect"
)

// webhookRow is one line of the webhooks list.
type webhookRow struct {
	api.Webhook
	Last     *attempt.Record // the latest attempt; nil: none kept
	Rate     float64         // delivered share of the attempts of 24 h
	HasRate  bool
	Attempts int
}

// listWebhooks shows every webhook of the company with its health, its
// last delivery and its success rate over the window.
func (p *Portal) listWebhooks(w http.ResponseWriter, r *http.Request, s *Session) {
	ctx := r.Context()
	hooks, err := p.cfg.API.ListWebhooks(ctx, s.CompanyID)
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	sums, err := p.cfg.History.Summaries(ctx, s.CompanyID)
	if err != nil {
		p.internal(w, r, err)
		return
	}
	rows := make([]webhookRow, len(hooks))
	var idle []int
	for i, h := range hooks {
		rows[i].Webhook = h
		sum, ok := sums[h.ID]
		if !ok || sum.Latest == nil {
			idle = append(idle, i)
			continue
		}
		rows[i].Last = latestRecord(sum.Latest)
		rows[i].Rate, rows[i].HasRate = sum.Stats.SuccessRate()
		rows[i].Attempts = sum.Stats.Total().Attempted()
	}
	p.fillIdle(ctx, s.CompanyID, rows, idle)
	pg := p.pageFor(s, "Webhooks")
	pg.Nav = "webhooks"
	pg.Flash = flash(r)
	pg.Data = rows
	p.render(w, r, "webhooks", pg)
}

// fillIdle finds the last attempt of webhooks without one in the window in
// the recent-attempts index, a few at a time.
func (p *Portal) fillIdle(ctx context.Context, companyID string, rows []webhookRow, idle []int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, i := range idle {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			recs, err := p.cfg.API.RecentAttempts(ctx, companyID, rows[i].ID, 1)
			if err == nil && len(recs) > 0 {
				rows[i].Last = &recs[0]
			}
		})
	}
	wg.Wait()
}

func latestRecord(d *inspect.Delivery) *attempt.Record {
	return &attempt.Record{
		DeliveryID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, EventType: d.EventType, Attempt: d.Attempts,
		At: d.Last, Outcome: d.Outcome, StatusCode: d.StatusCode, ErrorClass: d.ErrorClass, LatencyMs: d.LatencyMs,
	}
}

// formData is what the create and edit pages show.
type formData struct {
	Form    webhookForm
	Webhook *api.Webhook // nil: creating
	Types   []api.EventType
	Limits  struct {
		Rate        string
		Concurrency int
	}
}

func (p *Portal) formData(f webhookForm, wh *api.Webhook) formData {
	d := formData{Form: f, Webhook: wh, Types: p.cfg.API.EventTypes()}
	limits := p.cfg.API.Limits()
	d.Limits.Rate = strconv.FormatFloat(limits.RateCeiling(), 'f', -1, 64)
	d.Limits.Concurrency = limits.ConcurrencyCeiling()
	return d
}

func (p *Portal) newWebhook(w http.ResponseWriter, r *http.Request, s *Session) {
	pg := p.pageFor(s, "New webhook")
	pg.Nav = "webhooks"
	pg.Data = p.formData(webhookForm{Enabled: true}, nil)
	p.render(w, r, "webhook-form", pg)
}

// createWebhook creates the webhook and shows its secret, this once.
func (p *Portal) createWebhook(w http.ResponseWriter, r *http.Request, s *Session) {
	f := readWebhookForm(r)
	var body api.CreateBody
	err := p.cfg.API.DecodeBody(f.createBody(), &body)
	var created api.Webhook
	if err == nil {
		created, err = p.cfg.API.CreateWebhook(r.Context(), s.CompanyID, body)
	}
	if err != nil {
		p.refuseForm(w, r, s, "New webhook", f, nil, err)
		return
	}
	p.showSecret(w, r, s, created, "Webhook created", nil)
}

// refuseForm shows the form again with what the API said, next to each
// field.
func (p *Portal) refuseForm(w http.ResponseWriter, r *http.Request, s *Session, title string, f webhookForm, wh *api.Webhook, err error) {
	ref, ok := refusalOf(err)
	if !ok {
		p.internal(w, r, err)
		return
	}
	f.Problem, f.Errors = ref.Problem, ref.Fields
	if len(ref.Fields) > 0 {
		f.Problem = "Correct what is marked below and save again." // the API's summary only repeats it
	}
	pg := p.pageFor(s, title)
	pg.Nav = "webhooks"
	pg.Data = p.formData(f, wh)
	p.renderStatus(w, r, ref.Status, "webhook-form", pg)
}

// secretData is the page that shows a secret, once.
type secretData struct {
	Webhook        api.Webhook
	Secret         string
	PreviousExpiry string // after a rotation: when the old one stops
}

func (p *Portal) showSecret(w http.ResponseWriter, r *http.Request, s *Session, wh api.Webhook, title string, prev *string) {
	d := secretData{Webhook: wh, Secret: *wh.Secret}
	if prev != nil {
		d.PreviousExpiry = *prev
	}
	pg := p.pageFor(s, title)
	pg.Nav = "webhooks"
	pg.Data = d
	p.render(w, r, "secret", pg)
}

// webhookData is the webhook's page.
type webhookData struct {
	Webhook  api.Webhook
	Stats    statsView
	Recent   []inspect.Delivery
	Overlaps []overlapChoice
}

type overlapChoice struct {
	Value, Label string
	Default      bool
}

var overlaps = []overlapChoice{
	{"0s", "none: the old secret stops now", false},
	{"1h", "1 hour", false},
	{"24h", "24 hours", true},
	{"72h", "3 days", false},
	{"168h", "7 days", false},
}

func (p *Portal) showWebhook(w http.ResponseWriter, r *http.Request, s *Session) {
	p.webhookPage(w, r, s, http.StatusOK, "")
}

// webhookPage shows the webhook, with a failure (alert) when status is not
// 200.
func (p *Portal) webhookPage(w http.ResponseWriter, r *http.Request, s *Session, status int, alert string) {
	ctx := r.Context()
	wh, err := p.cfg.API.GetWebhook(ctx, s.CompanyID, r.PathValue("id"))
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	stats, err := p.cfg.History.Stats(ctx, s.CompanyID, wh.ID)
	if err != nil {
		p.internal(w, r, err)
		return
	}
	recent, err := p.cfg.History.Deliveries(ctx, s.CompanyID, wh.ID, inspect.Query{Limit: 10})
	if err != nil {
		p.internal(w, r, err)
		return
	}
	d := webhookData{Webhook: wh, Stats: newStatsView(stats), Recent: recent.Deliveries, Overlaps: overlaps}
	pg := p.pageFor(s, wh.Name)
	pg.Nav = "webhooks"
	pg.Flash, pg.Alert = flash(r), alert
	pg.Data = d
	p.renderStatus(w, r, status, "webhook", pg)
}

func (p *Portal) editWebhook(w http.ResponseWriter, r *http.Request, s *Session) {
	wh, err := p.cfg.API.GetWebhook(r.Context(), s.CompanyID, r.PathValue("id"))
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	pg := p.pageFor(s, "Edit "+wh.Name)
	pg.Nav = "webhooks"
	pg.Data = p.formData(formOf(wh), &wh)
	p.render(w, r, "webhook-form", pg)
}

func (p *Portal) updateWebhook(w http.ResponseWriter, r *http.Request, s *Session) {
	ctx := r.Context()
	wh, err := p.cfg.API.GetWebhook(ctx, s.CompanyID, r.PathValue("id"))
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	f := readWebhookForm(r)
	var body api.PatchBody
	err = p.cfg.API.DecodeBody(f.patchBody(), &body)
	if err == nil {
		_, err = p.cfg.API.UpdateWebhook(ctx, s.CompanyID, wh.ID, body)
	}
	if err != nil {
		p.refuseForm(w, r, s, "Edit "+wh.Name, f, &wh, err)
		return
	}
	http.Redirect(w, r, "/portal/webhooks/"+wh.ID+"?done=saved", http.StatusSeeOther)
}

func (p *Portal) confirmDelete(w http.ResponseWriter, r *http.Request, s *Session) {
	wh, err := p.cfg.API.GetWebhook(r.Context(), s.CompanyID, r.PathValue("id"))
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	pg := p.pageFor(s, "Delete "+wh.Name)
	pg.Nav = "webhooks"
	pg.Data = wh
	p.render(w, r, "delete", pg)
}

func (p *Portal) deleteWebhook(w http.ResponseWriter, r *http.Request, s *Session) {
	if err := p.cfg.API.DeleteWebhook(r.Context(), s.CompanyID, r.PathValue("id")); err != nil {
		p.apiError(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/portal/?done=deleted", http.StatusSeeOther)
}

// apiError shows what the API refused (404 for another company's webhook)
// as a page, and a failure as a 500.
func (p *Portal) apiError(w http.ResponseWriter, r *http.Request, s *Session, err error) {
	ref, ok := refusalOf(err)
	if !ok {
		p.internal(w, r, err)
		return
	}
	name := "error"
	title := "That did not work"
	if ref.Status == http.StatusNotFound {
		name, title = "not-found", "Not found"
	}
	pg := p.pageFor(s, title)
	pg.Alert = ref.Problem
	p.renderStatus(w, r, ref.Status, name, pg)
}

// flashes are the confirmations a redirect may ask for with ?done=.
var flashes = map[string]string{
	"saved":       "Changes saved.",
	"deleted":     "Webhook deleted.",
	"disabled":    "Webhook disabled: deliveries are parked until you enable it.",
	"enabled":     "Webhook enabled.",
	"redelivered": "Sent again: the new attempt appears below.",
}

func flash(r *http.Request) string {
	q := r.URL.Query()
	msg := flashes[q.Get("done")]
	if n, err := strconv.Atoi(q.Get("replayed")); err == nil && q.Get("done") == "enabled" {
		msg = "Webhook enabled; parked deliveries sent again: " + thousands(n) + "."
	}
	return msg
}
