package portal

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/job"
)

// localTime is how a datetime-local field writes a time; the portal reads
// and writes it in UTC.
const localTime = "2006-01-02T15:04"

// deliveriesData is the deliveries page of a webhook.
type deliveriesData struct {
	Webhook  api.Webhook
	Page     inspect.Page
	Filter   deliveryFilter
	Outcomes []string
	Types    []api.EventType
	// More is the query of the next (older) page.
	More string
}

// deliveryFilter is the filter as typed, and what was wrong with it.
type deliveryFilter struct {
	Outcome, Type, From, Until string
	Errors                     map[string]string
	Filtered                   bool
}

func (p *Portal) listDeliveries(w http.ResponseWriter, r *http.Request, s *Session) {
	ctx := r.Context()
	wh, err := p.cfg.API.GetWebhook(ctx, s.CompanyID, r.PathValue("id"))
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	f, q := readDeliveryFilter(r)
	status := http.StatusOK
	var pg inspect.Page
	if len(f.Errors) > 0 {
		status = http.StatusBadRequest
	} else if pg, err = p.cfg.History.Deliveries(ctx, s.CompanyID, wh.ID, q); err != nil {
		p.internal(w, r, err)
		return
	}
	d := deliveriesData{Webhook: wh, Page: pg, Filter: f, Outcomes: outcomeOrder, Types: p.cfg.API.EventTypes()}
	if pg.Next > 0 {
		more := r.URL.Query()
		more.Set("before", strconv.FormatInt(pg.Next, 10))
		d.More = more.Encode()
	}
	page := p.pageFor(s, "Deliveries of "+wh.Name)
	page.Nav = "webhooks"
	page.Data = d
	p.renderStatus(w, r, status, "deliveries", page)
}

// readDeliveryFilter reads the filter of the deliveries page.
func readDeliveryFilter(r *http.Request) (deliveryFilter, inspect.Query) {
	v := r.URL.Query()
	f := deliveryFilter{Outcome: v.Get("outcome"), Type: v.Get("type"), From: v.Get("from"), Until: v.Get("until"), Errors: map[string]string{}}
	q := inspect.Query{Limit: 50}
	if f.Outcome != "" && !slices.Contains(outcomeOrder, f.Outcome) {
		f.Errors["outcome"] = "choose one of the outcomes listed"
	}
	q.Outcome, q.EventType = f.Outcome, f.Type
	for _, t := range []struct {
		field, value string
		into         *time.Time
	}{{"from", f.From, &q.From}, {"until", f.Until, &q.Until}} {
		if t.value == "" {
			continue
		}
		at, err := time.ParseInLocation(localTime, t.value, time.UTC)
		if err != nil {
			f.Errors[t.field] = "must be a date and time in UTC, like 2026-11-27T10:00"
			continue
		}
		*t.into = at
	}
	if b := v.Get("before"); b != "" {
		q.Before, _ = strconv.ParseInt(b, 10, 64)
	}
	f.Filtered = f.Outcome != "" || f.Type != "" || f.From != "" || f.Until != ""
	return f, q
}

// deliveryData is the page of one delivery.
type deliveryData struct {
	Webhook  api.Webhook
	ID       string
	Attempts []attemptView // oldest first
	Latest   *attempt.Record
	// Pending: no attempt yet (a test event on its way); the page looks
	// again until one shows.
	Pending bool
	// Settled: the latest attempt is final; the page stops looking again.
	Settled       bool
	Redeliverable bool
	Body          sentBody
}

// attemptView is one attempt with the request it made.
type attemptView struct {
	attempt.Record
	Headers [][2]string
}

func (p *Portal) showDelivery(w http.ResponseWriter, r *http.Request, s *Session) {
	p.deliveryPage(w, r, s, http.StatusOK, "")
}

func (p *Portal) deliveryPage(w http.ResponseWriter, r *http.Request, s *Session, status int, alert string) {
	ctx := r.Context()
	wh, err := p.cfg.API.GetWebhook(ctx, s.CompanyID, r.PathValue("id"))
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	id := r.PathValue("delivery")
	d := deliveryData{Webhook: wh, ID: id}
	recs, err := p.cfg.API.Delivery(ctx, s.CompanyID, id)
	if ref, ok := refusalOf(err); ok && ref.Status == http.StatusNotFound {
		// Not attempted yet: shown only for an id of this webhook.
		if _, hook, parsed := job.ParseDeliveryID(id); !parsed || hook != wh.ID {
			p.apiError(w, r, s, err)
			return
		}
		d.Pending = true
	} else if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	if len(recs) > 0 && recs[0].WebhookID != wh.ID {
		p.apiError(w, r, s, notFound("delivery not found"))
		return
	}
	for _, rec := range recs {
		d.Attempts = append(d.Attempts, attemptView{Record: rec, Headers: requestHeaders(rec)})
	}
	if len(recs) > 0 {
		d.Latest = &recs[len(recs)-1]
		switch d.Latest.Outcome {
		case attempt.Dead, attempt.Parked:
			d.Settled, d.Redeliverable = true, true
		case attempt.Delivered, attempt.Dropped:
			d.Settled = true
		}
		// Just sent again: not settled until an attempt after that.
		if after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64); err == nil && d.Latest.At.UnixMilli() <= after {
			d.Settled = false
		}
		d.Body = p.sentBody(ctx, s.CompanyID, wh, recs)
	}
	pg := p.pageFor(s, "Delivery "+id)
	pg.Nav = "webhooks"
	pg.Flash, pg.Alert = flash(r), alert
	pg.Data = d
	p.renderStatus(w, r, status, "delivery", pg)
}

func (p *Portal) redeliver(w http.ResponseWriter, r *http.Request, s *Session) {
	id, dlv := r.PathValue("id"), r.PathValue("delivery")
	if _, err := p.cfg.API.GetWebhook(r.Context(), s.CompanyID, id); err != nil {
		p.apiError(w, r, s, err)
		return
	}
	err := p.cfg.API.Redeliver(r.Context(), s.CompanyID, dlv)
	if ref, ok := refusalOf(err); ok && ref.Status == http.StatusNotFound {
		p.deliveryPage(w, r, s, http.StatusNotFound, ref.Problem)
		return
	}
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	after := strconv.FormatInt(time.Now().UnixMilli(), 10)
	http.Redirect(w, r, "/portal/webhooks/"+id+"/deliveries/"+dlv+"?done=redelivered&after="+after, http.StatusSeeOther)
}

// recoverData is the result of one round of recover.
type recoverData struct {
	Webhook api.Webhook
	Since   string
	Result  inspect.RecoverResult
	// Total and TotalAlready add up the rounds so far.
	Total, TotalAlready int
}

// recoverDead requeues the webhook's dead letters since a time, one
// bounded round per request; the page offers the next round while more
// remain, with the count so far.
func (p *Portal) recoverDead(w http.ResponseWriter, r *http.Request, s *Session) {
	ctx := r.Context()
	wh, err := p.cfg.API.GetWebhook(ctx, s.CompanyID, r.PathValue("id"))
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	since := r.PostFormValue("since")
	var when any = since
	if at, err := time.ParseInLocation(localTime, since, time.UTC); err == nil {
		when = at.Format(time.RFC3339)
	}
	body := map[string]any{"since": when, "limit": recoverRound}
	if c := r.PostFormValue("cursor"); c != "" {
		body["cursor"] = c
	}
	raw, _ := json.Marshal(body)
	var rb api.RecoverBody
	err = p.cfg.API.DecodeBody(raw, &rb)
	var res inspect.RecoverResult
	if err == nil {
		res, err = p.cfg.API.Recover(ctx, s.CompanyID, wh.ID, rb)
	}
	if ref, ok := refusalOf(err); ok && ref.Status == http.StatusBadRequest {
		p.webhookPage(w, r, s, http.StatusBadRequest, "Nothing was recovered: "+ref.Problem)
		return
	}
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	total, _ := strconv.Atoi(r.PostFormValue("total"))
	already, _ := strconv.Atoi(r.PostFormValue("already"))
	pg := p.pageFor(s, "Recover "+wh.Name)
	pg.Nav = "webhooks"
	pg.Data = recoverData{Webhook: wh, Since: since, Result: res, Total: total + res.Requeued, TotalAlready: already + res.AlreadyRequeued}
	p.render(w, r, "recovered", pg)
}

// recoverRound is how many dead letters one round requeues.
const recoverRound = 1000
