package portal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/api"
)

// Errors of Sessions.
var (
	// ErrLinkRefused: the link is unknown, spent or expired.
	ErrLinkRefused = errors.New("portal: link unknown, already used or expired")
	// ErrNoSession: the session is unknown, ended or expired.
	ErrNoSession = errors.New("portal: no such session")
)

// Sessions keeps the portal's single-use links and sessions in the portal
// KV bucket, so that every API process sees the same ones. Only hashes of
// link tokens and session ids are stored: the bucket's contents open
// nothing. Every key expires on its own (a per-key TTL).
type Sessions struct {
	kv  jetstream.KeyValue
	cfg SessionsConfig
}

// SessionsConfig configures Sessions.
type SessionsConfig struct {
	// LinkTTL is how long a minted link may be opened (PORTAL_LINK_TTL).
	LinkTTL time.Duration
	// SessionTTL is how long a session lasts when the link did not say
	// (PORTAL_SESSION_TTL).
	SessionTTL time.Duration
	// BaseURL is the portal's public address (PORTAL_URL); "": the address
	// the request to mint the link came to.
	BaseURL string
	// Now is the clock (time.Now).
	Now func() time.Time
}

// NewSessions returns Sessions over the portal bucket.
func NewSessions(kv jetstream.KeyValue, cfg SessionsConfig) (*Sessions, error) {
	if kv == nil {
		return nil, errors.New("portal: Sessions needs the portal bucket")
	}
	if cfg.LinkTTL < time.Second || cfg.SessionTTL < time.Second {
		return nil, fmt.Errorf("portal: LinkTTL (%s) and SessionTTL (%s) must be at least 1s", cfg.LinkTTL, cfg.SessionTTL)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Sessions{kv: kv, cfg: cfg}, nil
}

var _ api.PortalLinks = (*Sessions)(nil)

// Session is an open portal session, bound to one company.
type Session struct {
	CompanyID string    `json:"companyId"`
	CSRF      string    `json:"csrf"` // every change must carry it
	ReturnURL string    `json:"returnUrl,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// link is what a minted link stands for until it is opened.
type link struct {
	CompanyID  string        `json:"companyId"`
	ReturnURL  string        `json:"returnUrl,omitempty"`
	SessionTTL time.Duration `json:"sessionTtl"`
	ExpiresAt  time.Time     `json:"expiresAt"`
}

// LoginPath is where a link points: the token follows in the query.
const LoginPath = "/portal/login"

// Mint stores a new single-use link for req.CompanyID and returns its URL.
func (s *Sessions) Mint(ctx context.Context, req api.SessionRequest) (api.SessionLink, error) {
	token, err := randomToken()
	if err != nil {
		return api.SessionLink{}, err
	}
	now := s.cfg.Now()
	ttl := req.TTL
	if ttl == 0 {
		ttl = s.cfg.SessionTTL
	}
	l := link{CompanyID: req.CompanyID, ReturnURL: req.ReturnURL, SessionTTL: ttl, ExpiresAt: now.Add(s.cfg.LinkTTL).UTC()}
	data, err := json.Marshal(l)
	if err != nil {
		return api.SessionLink{}, err
	}
	if _, err := s.kv.Create(ctx, linkKey(token), data, jetstream.KeyTTL(s.cfg.LinkTTL)); err != nil {
		return api.SessionLink{}, fmt.Errorf("portal: store link: %w", err)
	}
	base := s.cfg.BaseURL
	if base == "" {
		base = req.Origin
	}
	return api.SessionLink{URL: base + LoginPath + "?token=" + token, ExpiresAt: l.ExpiresAt, TTL: ttl.String()}, nil
}

// Open spends a link and starts the session it stands for. It returns the
// session and its id (for the cookie; only its hash is stored). Of two
// opens of one link, one wins. Errors: ErrLinkRefused.
func (s *Sessions) Open(ctx context.Context, token string) (Session, string, error) {
	if !wellFormed(token) {
		return Session{}, "", ErrLinkRefused
	}
	key := linkKey(token)
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Session{}, "", ErrLinkRefused
	}
	if err != nil {
		return Session{}, "", fmt.Errorf("portal: read link: %w", err)
	}
	var l link
	if err := json.Unmarshal(e.Value(), &l); err != nil {
		return Session{}, "", fmt.Errorf("portal: decode link: %w", err)
	}
	// Spent by whoever purges the revision read: a second open finds
	// another revision (or none) and is refused.
	err = s.kv.Purge(ctx, key, jetstream.LastRevision(e.Revision()))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return Session{}, "", ErrLinkRefused
	}
	if err != nil {
		return Session{}, "", fmt.Errorf("portal: spend link: %w", err)
	}
	now := s.cfg.Now()
	if !now.Before(l.ExpiresAt) {
		return Session{}, "", ErrLinkRefused
	}
	id, err := randomToken()
	if err != nil {
		return Session{}, "", err
	}
	csrf, err := randomToken()
	if err != nil {
		return Session{}, "", err
	}
	// In UTC, as it reads back from the bucket.
	sess := Session{CompanyID: l.CompanyID, CSRF: csrf, ReturnURL: l.ReturnURL, ExpiresAt: now.Add(l.SessionTTL).UTC()}
	data, err := json.Marshal(sess)
	if err != nil {
		return Session{}, "", err
	}
	if _, err := s.kv.Create(ctx, sessionKey(id), data, jetstream.KeyTTL(l.SessionTTL)); err != nil {
		return Session{}, "", fmt.Errorf("portal: store session: %w", err)
	}
	return sess, id, nil
}

// Lookup returns the session with this id. Errors: ErrNoSession.
func (s *Sessions) Lookup(ctx context.Context, id string) (Session, error) {
	if !wellFormed(id) {
		return Session{}, ErrNoSession
	}
	e, err := s.kv.Get(ctx, sessionKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("portal: read session: %w", err)
	}
	var sess Session
	if err := json.Unmarshal(e.Value(), &sess); err != nil {
		return Session{}, fmt.Errorf("portal: decode session: %w", err)
	}
	if !s.cfg.Now().Before(sess.ExpiresAt) {
		return Session{}, ErrNoSession
	}
	return sess, nil
}

// End ends a session (logout); ending one that is gone is no error.
func (s *Sessions) End(ctx context.Context, id string) error {
	if !wellFormed(id) {
		return nil
	}
	if err := s.kv.Purge(ctx, sessionKey(id)); err != nil {
		return fmt.Errorf("portal: end session: %w", err)
	}
	return nil
}

// tokenBytes is the entropy of link tokens, session ids and CSRF tokens.
const tokenBytes = 32

func randomToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// wellFormed reports whether s can be a token randomToken made.
func wellFormed(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == tokenBytes
}

// The bucket's keys: a hash of the secret they stand for.
func linkKey(token string) string { return "link." + digest(token) }
func sessionKey(id string) string { return "session." + digest(id) }
func digest(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
