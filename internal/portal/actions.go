package portal

import (
	"net/http"
	"strconv"

	"github.com/bluehq/webhooks/internal/api"
)

func (p *Portal) disableWebhook(w http.ResponseWriter, r *http.Request, s *Session) {
	wh, err := p.cfg.API.DisableWebhook(r.Context(), s.CompanyID, r.PathValue("id"))
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/portal/webhooks/"+wh.ID+"?done=disabled", http.StatusSeeOther)
}

// enableWebhook enables the webhook and, when asked, sends what was parked
// while it was disabled.
func (p *Portal) enableWebhook(w http.ResponseWriter, r *http.Request, s *Session) {
	res, err := p.cfg.API.EnableWebhook(r.Context(), s.CompanyID, r.PathValue("id"), r.PostFormValue("replay") == "true")
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	to := "/portal/webhooks/" + res.ID + "?done=enabled"
	if res.Replayed != nil {
		to += "&replayed=" + strconv.Itoa(*res.Replayed)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// rotateSecret gives the webhook a new secret and shows it, this once.
func (p *Portal) rotateSecret(w http.ResponseWriter, r *http.Request, s *Session) {
	var body api.RotateBody
	raw := []byte(`{"overlap":` + strconv.Quote(r.PostFormValue("overlap")) + `}`)
	err := p.cfg.API.DecodeBody(raw, &body)
	var res api.RotateResult
	if err == nil {
		res, err = p.cfg.API.RotateSecret(r.Context(), s.CompanyID, r.PathValue("id"), body)
	}
	if ref, ok := refusalOf(err); ok && ref.Status == http.StatusBadRequest {
		p.webhookPage(w, r, s, http.StatusBadRequest, "The secret was not rotated: "+ref.Problem)
		return
	}
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	var prev *string
	if res.PreviousSecretExpiresAt != nil {
		at := res.PreviousSecretExpiresAt.UTC().Format("2006-01-02 15:04 UTC")
		prev = &at
	}
	p.showSecret(w, r, s, res.Public, "Secret rotated", prev)
}

// sendTest sends a WEBHOOK_TEST event and shows its delivery as it arrives.
func (p *Portal) sendTest(w http.ResponseWriter, r *http.Request, s *Session) {
	id := r.PathValue("id")
	res, err := p.cfg.API.SendTest(r.Context(), s.CompanyID, id)
	if ref, ok := refusalOf(err); ok && ref.Status == http.StatusConflict {
		p.webhookPage(w, r, s, http.StatusConflict, ref.Problem)
		return
	}
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/portal/webhooks/"+id+"/deliveries/"+res.DeliveryID, http.StatusSeeOther)
}
