package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/netguard"
)

// DefaultMaxHeaderBytes bounds a response's status line and headers
// unless ClientConfig.MaxHeaderBytes says otherwise.
const DefaultMaxHeaderBytes = 64 << 10

// ClientConfig configures NewClient.
type ClientConfig struct {
	// Guard refuses forbidden addresses at dial time; nil admits all.
	Guard *netguard.Guard
	// Timeout bounds the whole exchange: dial, TLS handshake, response
	// headers and body.
	Timeout time.Duration
	// MaxConns is how many requests the caller may have in flight at once.
	MaxConns int
	// MaxHeaderBytes bounds what a receiver may send as status line and
	// headers (0: DefaultMaxHeaderBytes). net/http's default, 10 MiB, let
	// each attempt to a hostile receiver hold that much memory.
	MaxHeaderBytes int64
}

// NewClient returns the pooled keep-alive HTTP client used for every
// delivery: redirects are not followed, the SSRF guard runs at dial time,
// response headers are bounded, and idle connections per host are well
// above Go's default of 2 so that a busy endpoint keeps its connections
// warm. Every one of MaxConns requests may go to the same host (many
// endpoints behind one receiving service), so up to that many connections
// per host are kept. Fewer made the pool close and re-dial connections at
// fan-out saturation (10 endpoints on one host, 256 kept).
func NewClient(cfg ClientConfig) *http.Client {
	dialer := &net.Dialer{
		Timeout:   cfg.Timeout,
		KeepAlive: 30 * time.Second,
	}
	if guard := cfg.Guard; guard != nil {
		dialer.Control = func(network, address string, c syscall.RawConn) error {
			return guard.Control(network, address, c)
		}
	}
	maxHeader := cfg.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	transport := &http.Transport{
		Proxy:                  nil, // never through a proxy: the guard must see the real peer
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           max(4096, cfg.MaxConns),
		MaxIdleConnsPerHost:    max(256, cfg.MaxConns),
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxHeader,
		DisableCompression:     true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// classify names the kind of a transport error (see attempt.Classes).
func classify(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, netguard.ErrForbidden):
		return attempt.ClassForbidden
	case errors.As(err, &dnsErr):
		return attempt.ClassDNS
	case headersTooLarge(err):
		return attempt.ClassHeadersTooLarge
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return attempt.ClassTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return attempt.ClassRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return attempt.ClassReset
	case isTLS(err):
		return attempt.ClassTLS
	default:
		return attempt.ClassConnection
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

func isTLS(err error) bool {
	var verifyErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verifyErr) || errors.As(err, &recErr) || errors.As(err, &alert) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid)
}

// headersTooLarge reports whether err is net/http's refusal of response
// headers over MaxResponseHeaderBytes. net/http reports it (HTTP/1 and
// HTTP/2 alike) only as text; TestHostileReceivers pins the HTTP/1 text.
func headersTooLarge(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "server response headers exceeded") ||
		strings.Contains(msg, "response header list larger than advertised limit")
}

// ackedBodyWait is how long the body of a 2xx is read for: the status
// acknowledges the delivery, its body is read only so that the connection
// can be reused, and a receiver that trickles it must not hold the
// endpoint's slot (and so its backlog) for the whole timeout.
const ackedBodyWait = 100 * time.Millisecond

// Bounds of what is read of a response body: the first
// attempt.MaxResponse bytes are kept (failures only), then at most
// drainLimit more are read so that the connection can be reused. A larger
// body costs the connection instead.
const drainLimit = 64 << 10

// readBody reads the start of a response body into buf, then drains at
// most drainLimit more, within the exchange's deadline. It returns how
// many bytes of buf it filled. The caller closes the body.
func readBody(body io.Reader, buf []byte) int {
	n, _ := io.ReadFull(body, buf)
	if n == len(buf) {
		_, _ = io.CopyN(io.Discard, body, drainLimit)
	}
	return n
}

// Post sends one delivery: a POST of body with header h to u, through c's
// transport, within c.Timeout (which, as with Client.Do, also bounds
// reading the response body; close it). It is Client.Do for a request that
// the client never redirects, retries or decorates, without what Do spends
// on that generality: a copy of the request and of its header map per
// call. Errors are *url.Error, as Do returns them.
func Post(ctx context.Context, c *http.Client, u *url.URL, h http.Header, body []byte) (*http.Response, error) {
	var cancel context.CancelFunc
	if c.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
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

// cancelOnClose ends a response's deadline when its body is closed, or
// earlier when abortAfter says so.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// abortAfter ends the exchange after d: a read of the body still waiting
// then fails. Stop the timer when done reading.
func (b *cancelOnClose) abortAfter(d time.Duration) *time.Timer {
	return time.AfterFunc(d, b.cancel)
}
