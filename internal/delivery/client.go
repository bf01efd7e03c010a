package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/bluehq/webhooks/internal/netguard"
)

// NewClient returns the pooled keep-alive HTTP client used for every
// delivery: redirects are not followed, the SSRF guard runs at dial time, and
// idle connections per host are well above Go's default of 2 so that a busy
// endpoint keeps its connections warm. maxConns is how many requests the
// caller may have in flight at once: every one of them may go to the same
// host (many endpoints behind one receiving service), so up to that many
// connections per host are kept. Fewer made the pool close and re-dial
// connections at fan-out saturation (10 endpoints on one host, 256 kept).
func NewClient(guard *netguard.Guard, timeout time.Duration, maxConns int) *http.Client {
	dialer := &net.Dialer{
		Timeout:   timeout,
		KeepAlive: 30 * time.Second,
	}
	if guard != nil {
		dialer.Control = func(network, address string, c syscall.RawConn) error {
			return guard.Control(network, address, c)
		}
	}
	transport := &http.Transport{
		Proxy:                 nil, // never through a proxy: the guard must see the real peer
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          max(4096, maxConns),
		MaxIdleConnsPerHost:   max(256, maxConns),
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Error classes recorded with each failed attempt.
const (
	ClassNone       = ""
	ClassTimeout    = "timeout"
	ClassConnection = "connection"
	ClassDNS        = "dns"
	ClassForbidden  = "forbidden_address"
	ClassTLS        = "tls"
	ClassStatus     = "http_status"
	ClassRedirect   = "redirect"
)

// classify names the kind of a transport error.
func classify(err error) string {
	var dnsErr *net.DNSError
	var tlsErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(err, netguard.ErrForbidden):
		return ClassForbidden
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return ClassTimeout
	case errors.As(err, &dnsErr):
		return ClassDNS
	case errors.As(err, &tlsErr), errors.As(err, &recErr):
		return ClassTLS
	default:
		return ClassConnection
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
