package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
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

// Post sends one delivery: a POST of body with header h to u, through c's
// transport, within c.Timeout (which, as with Client.Do, also bounds
// reading the response body; close it). It is Client.Do for a request that
// the client never redirects, retries or decorates, without what Do spends
// on that generality: a copy of the request and of its header map per
// call. Errors are *url.Error, as Do returns them.
func Post(ctx context.Context, c *http.Client, u *url.URL, h http.Header, body []byte) (*http.Response, error) {
	cancel := context.CancelFunc(func() {})
	if c.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	req := &http.Request{
		Method:        http.MethodPost,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		GetBody:       func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
		ContentLength: int64(len(body)),
		Host:          u.Host,
	}
	if u.User != nil && h.Get("Authorization") == "" { // as Client.Do does
		password, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), password)
	}
	resp, err := rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, &url.Error{Op: "Post", URL: u.String(), Err: err}
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose ends a response's deadline when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
