package app

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// HTTPLimits bound what one client can hold of an HTTP server (the API, the
// ingest, the ops and pprof endpoints): how long it may take to send a
// request, to be answered, and to sit idle between requests, how large its
// headers may be, and how many connections a listener serves at once.
type HTTPLimits struct {
	// ReadTimeout bounds reading a whole request, body included
	// (HTTP_READ_TIMEOUT).
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its response: the body, the handler (the ingest holds a publish
	// for up to PUBLISH_WAIT) and the answer (HTTP_WRITE_TIMEOUT).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection without a new request for
	// this long (HTTP_IDLE_TIMEOUT).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (HTTP_MAX_HEADER_BYTES).
	MaxHeaderBytes int
	// MaxConns is how many connections each listener serves at once; more
	// wait in the kernel's accept queue until one closes (HTTP_MAX_CONNS).
	MaxConns int
}

// maxHeaderTimeout bounds the request line and headers within ReadTimeout:
// a client that cannot send them in this long is not sending a request.
const maxHeaderTimeout = 10 * time.Second

// listen opens addr, serving at most l.MaxConns connections at once.
func (l HTTPLimits) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return netutil.LimitListener(ln, l.MaxConns), nil
}

// server returns an http.Server for h within the limits.
func (l HTTPLimits) server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(maxHeaderTimeout, l.ReadTimeout),
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}
