package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Bounds of a portal session's ttl.
const (
	MinSessionTTL = time.Minute
	MaxSessionTTL = 12 * time.Hour
)

// PortalLinks mints the single-use links that open a customer portal
// session (internal/portal).
type PortalLinks interface {
	Mint(ctx context.Context, req SessionRequest) (SessionLink, error)
}

// SessionRequest asks for a portal link for one company.
type SessionRequest struct {
	CompanyID string
	// ReturnURL is where the portal sends the customer back to ("": none).
	ReturnURL string
	// TTL is how long the session lasts once opened (0: the default).
	TTL time.Duration
	// Origin is scheme://host of the request, for the link when no public
	// portal URL is configured.
	Origin string
}

// SessionLink is a minted link.
type SessionLink struct {
	URL       string    `json:"url" doc:"Send the customer's browser here (a redirect, or an iframe's src). It opens a session once, then it is spent."`
	ExpiresAt time.Time `json:"expiresAt" doc:"The link is refused after this time (PORTAL_LINK_TTL after it was minted)."`
	TTL       string    `json:"ttl" doc:"How long the session lasts once opened."`
}

// SessionBody is the request to mint a portal link.
type SessionBody struct {
	ReturnURL string `json:"returnUrl,omitempty" maxLength:"2048" doc:"Where the portal's back link and logout send the customer (an http or https URL)."`
	TTL       string `json:"ttl,omitempty" doc:"How long the session lasts once opened (Go duration, 1m to 12h); default PORTAL_SESSION_TTL."`
}

type sessionIn struct {
	Body   SessionBody
	origin string
}

// Resolve records where the request came to, for the link's address.
func (in *sessionIn) Resolve(ctx huma.Context) []error {
	scheme := "http"
	if ctx.TLS() != nil {
		scheme = "https"
	}
	in.origin = scheme + "://" + ctx.Host()
	return nil
}

type sessionOut struct {
	Body SessionLink
}

func (s *Server) registerPortal() {
	if s.cfg.Portal == nil {
		return
	}
	huma.Register(s.humaAPI, huma.Operation{
		OperationID: "create-portal-session", Method: http.MethodPost, Path: "/v1/portal/sessions",
		Summary:     "Mint a link to the customer portal",
		Description: "For Blue's backend, which holds the company's token: returns a single-use URL with a short expiry that opens a portal session bound to this company in the customer's browser. The token never reaches the browser.",
		Tags:        []string{"Portal"}, DefaultStatus: http.StatusCreated, Errors: []int{400, 401},
	}, func(ctx context.Context, in *sessionIn) (*sessionOut, error) {
		req := SessionRequest{CompanyID: companyOf(ctx), Origin: in.origin}
		if raw := in.Body.ReturnURL; raw != "" {
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
				return nil, huma.Error400BadRequest("invalid returnUrl", &huma.ErrorDetail{Location: "body.returnUrl", Message: "must be an absolute http or https URL without credentials"})
			}
			req.ReturnURL = u.String()
		}
		if in.Body.TTL != "" {
			d, err := time.ParseDuration(in.Body.TTL)
			if err != nil || d < MinSessionTTL || d > MaxSessionTTL {
				return nil, huma.Error400BadRequest("invalid ttl", &huma.ErrorDetail{Location: "body.ttl", Message: "must be a duration like 1h, between 1m and 12h", Value: in.Body.TTL})
			}
			req.TTL = d
		}
		link, err := s.cfg.Portal.Mint(ctx, req)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return &sessionOut{Body: link}, nil
	})
}
