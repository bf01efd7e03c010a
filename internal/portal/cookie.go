package portal

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"time"
)

// The session cookie: with the __Host- prefix over HTTPS (Secure, Path=/,
// no Domain: the browser refuses it from anywhere else), scoped to /portal
// otherwise. HttpOnly always; SameSite=Lax, or None (and Partitioned) over
// HTTPS when the portal may be framed by another site, whose frames would
// not send a Lax cookie.
const (
	secureCookie = "__Host-portal"
	plainCookie  = "portal"
)

// secure reports whether the browser reaches the portal over HTTPS.
func (p *Portal) secure(r *http.Request) bool { return p.https || r.TLS != nil }

func (p *Portal) setSessionCookie(w http.ResponseWriter, r *http.Request, id string, expires time.Time) {
	c := &http.Cookie{
		Value: id, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Expires: expires, MaxAge: max(1, int(expires.Sub(p.now()).Seconds())),
	}
	p.scopeCookie(r, c)
	http.SetCookie(w, c)
}

func (p *Portal) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	c := &http.Cookie{HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1}
	p.scopeCookie(r, c)
	http.SetCookie(w, c)
}

func (p *Portal) scopeCookie(r *http.Request, c *http.Cookie) {
	if !p.secure(r) {
		c.Name, c.Path = plainCookie, "/portal"
		return
	}
	c.Name, c.Path, c.Secure = secureCookie, "/", true
	if len(p.cfg.FrameAncestors) > 0 {
		c.SameSite, c.Partitioned = http.SameSiteNoneMode, true
	}
}

func (p *Portal) sessionID(r *http.Request) string {
	name := plainCookie
	if p.secure(r) {
		name = secureCookie
	}
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// maxForm bounds a form's body.
const maxForm = 64 << 10

// sessionHandler is a page of an open session.
type sessionHandler func(w http.ResponseWriter, r *http.Request, s *Session)

// authed runs h for a request of an open session, and for a change (any
// method but GET and HEAD) only with the session's CSRF token, in the form
// field "csrf" or the X-CSRF-Token header. Without a session it answers
// 401 with a page saying how to get a new link; without the token, 403.
func (p *Portal) authed(h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := p.cfg.Sessions.Lookup(r.Context(), p.sessionID(r))
		if errors.Is(err, ErrNoSession) {
			p.clearSessionCookie(w, r)
			p.renderStatus(w, r, http.StatusUnauthorized, "signed-out", &page{Title: "Your session has ended"})
			return
		}
		if err != nil {
			p.internal(w, r, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			token := r.Header.Get("X-CSRF-Token")
			if token == "" {
				token = r.PostFormValue("csrf")
			}
			if subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) != 1 {
				p.renderStatus(w, r, http.StatusForbidden, "forbidden", p.pageFor(&sess, "This form has expired"))
				return
			}
		}
		h(w, r, &sess)
	}
}
