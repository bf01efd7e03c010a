// Package portal is the customer portal: server-rendered pages in which a
// company's people manage and debug their webhooks in the browser, reached
// through single-use links that Blue's backend mints with the company's
// API token (POST /v1/portal/sessions). No token reaches the browser: a
// session is an HttpOnly cookie bound to one company, kept in the portal
// KV bucket so that every API process serves it.
//
// The pages act through the API's own operations (internal/api), so what
// they allow and refuse, and the problem details that name a field at
// fault, are the API's. Every asset is embedded in the binary.
package portal

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/inspect"
)

// Config configures the portal.
type Config struct {
	// API runs every operation the pages offer.
	API *api.Server
	// Sessions holds links and sessions.
	Sessions *Sessions
	// History summarises the attempt log; Inspector finds the body a
	// delivery sent.
	History   *inspect.History
	Inspector *inspect.Inspector
	// FrameAncestors may embed the portal in a frame
	// (PORTAL_FRAME_ANCESTORS); none when empty.
	FrameAncestors []string
	// BaseURL is the portal's public address (PORTAL_URL), if set: an
	// https one makes the cookie Secure whatever the request says.
	BaseURL string
	Logger  *slog.Logger
}

// Portal serves the pages.
type Portal struct {
	cfg   Config
	log   *slog.Logger
	https bool
	pages *pages
}

// New returns the portal.
func New(cfg Config) (*Portal, error) {
	if cfg.API == nil || cfg.Sessions == nil || cfg.History == nil || cfg.Inspector == nil {
		return nil, errors.New("portal: Config needs API, Sessions, History and Inspector")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	p := &Portal{cfg: cfg, log: cfg.Logger, pages: pg}
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Scheme == "https" {
		p.https = true
	}
	return p, nil
}

// Register mounts the portal under /portal/ on mux.
func (p *Portal) Register(mux *http.ServeMux) {
	routes := http.NewServeMux()
	routes.HandleFunc("GET "+LoginPath, p.login)
	routes.Handle("GET /portal/static/{file}", staticHandler())
	for pattern, h := range map[string]sessionHandler{
		"GET /portal/{$}":                                            p.listWebhooks,
		"POST /portal/logout":                                        p.logout,
		"GET /portal/filter-check":                                   p.filterCheck,
		"GET /portal/event-types":                                    p.catalogue,
		"GET /portal/event-types/{type}":                             p.eventType,
		"GET /portal/webhooks/new":                                   p.newWebhook,
		"POST /portal/webhooks":                                      p.createWebhook,
		"GET /portal/webhooks/{id}":                                  p.showWebhook,
		"GET /portal/webhooks/{id}/edit":                             p.editWebhook,
		"POST /portal/webhooks/{id}":                                 p.updateWebhook,
		"GET /portal/webhooks/{id}/delete":                           p.confirmDelete,
		"POST /portal/webhooks/{id}/delete":                          p.deleteWebhook,
		"POST /portal/webhooks/{id}/disable":                         p.disableWebhook,
		"POST /portal/webhooks/{id}/enable":                          p.enableWebhook,
		"POST /portal/webhooks/{id}/rotate":                          p.rotateSecret,
		"POST /portal/webhooks/{id}/test":                            p.sendTest,
		"GET /portal/webhooks/{id}/verify":                           p.verify,
		"GET /portal/webhooks/{id}/deliveries":                       p.listDeliveries,
		"POST /portal/webhooks/{id}/recover":                         p.recoverDead,
		"GET /portal/webhooks/{id}/deliveries/{delivery}":            p.showDelivery,
		"POST /portal/webhooks/{id}/deliveries/{delivery}/redeliver": p.redeliver,
	} {
		routes.HandleFunc(pattern, p.authed(h))
	}
	routes.HandleFunc("/portal/", func(w http.ResponseWriter, r *http.Request) {
		p.renderStatus(w, r, http.StatusNotFound, "not-found", &page{Title: "Not found"})
	})
	handler := securityHeaders(p.cfg.FrameAncestors, routes)
	mux.Handle("/portal/", handler)
	mux.Handle("GET /portal", http.RedirectHandler("/portal/", http.StatusMovedPermanently))
}

func (p *Portal) now() time.Time { return p.cfg.Sessions.cfg.Now() }

// login opens the session a link stands for and sends the browser on
// without the token in its address.
func (p *Portal) login(w http.ResponseWriter, r *http.Request) {
	sess, id, err := p.cfg.Sessions.Open(r.Context(), r.URL.Query().Get("token"))
	if errors.Is(err, ErrLinkRefused) {
		p.renderStatus(w, r, http.StatusUnauthorized, "link-refused", &page{Title: "This link cannot be used"})
		return
	}
	if err != nil {
		p.internal(w, r, err)
		return
	}
	p.setSessionCookie(w, r, id, sess.ExpiresAt)
	http.Redirect(w, r, "/portal/", http.StatusSeeOther)
}

// logout ends the session and says where to go back to.
func (p *Portal) logout(w http.ResponseWriter, r *http.Request, s *Session) {
	if err := p.cfg.Sessions.End(r.Context(), p.sessionID(r)); err != nil {
		p.internal(w, r, err)
		return
	}
	p.clearSessionCookie(w, r)
	// Rendered here rather than redirected to: the way back is the
	// session's, and a form's redirect to another site would break
	// form-action 'self'.
	p.render(w, r, "signed-out", &page{Title: "You have logged out", ReturnURL: s.ReturnURL})
}

// internal answers 500 and logs what went wrong.
func (p *Portal) internal(w http.ResponseWriter, r *http.Request, err error) {
	p.log.ErrorContext(r.Context(), "portal: internal error", "path", r.URL.Path, "err", err)
	p.renderStatus(w, r, http.StatusInternalServerError, "error", &page{Title: "Something went wrong"})
}
