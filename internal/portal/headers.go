package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// ParseFrameAncestors reads PORTAL_FRAME_ANCESTORS: the origins allowed to
// embed the portal in a frame, separated by spaces or commas
// ("https://app.blue.cc https://*.blue.cc"), or 'self'. Empty: none.
func ParseFrameAncestors(s string) ([]string, error) {
	var out []string
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		if f == "'self'" {
			out = append(out, f)
			continue
		}
		u, err := url.Parse(f)
		host := ""
		if err == nil {
			host = strings.TrimPrefix(u.Host, "*.")
		}
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || host == "" || strings.ContainsAny(host, "*'\";") ||
			u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q is not an origin: want scheme://host[:port] (the host may start with *.) or 'self'", f)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out, nil
}

// securityHeaders sets, on every response of next: a content security
// policy that allows only the portal's own scripts, styles and requests
// (no inline script), the frames allowed to embed it, no MIME sniffing, no
// referrer (link tokens and ids stay on the page), and no caching of pages.
func securityHeaders(frameAncestors []string, next http.Handler) http.Handler {
	ancestors := "'none'"
	if len(frameAncestors) > 0 {
		ancestors = strings.Join(frameAncestors, " ")
	}
	csp := "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action 'self'; base-uri 'none'; frame-ancestors " + ancestors
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if len(frameAncestors) == 0 {
			h.Set("X-Frame-Options", "DENY") // for browsers without frame-ancestors
		}
		h.Set("Cache-Control", "no-store") // the static files say otherwise
		next.ServeHTTP(w, r)
	})
}

// ParseBaseURL reads PORTAL_URL: the address browsers reach the portal at,
// scheme://host[:port] ("": none).
func ParseBaseURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want scheme://host[:port], like https://webhooks.example.com", s)
	}
	return u.Scheme + "://" + u.Host, nil
}
