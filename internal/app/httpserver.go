package app

import (
	"cmp"
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

// withDefaults returns l with each zero field set to its default. The read
// timeout lets a 256 KiB body (MAX_EVENT_BYTES) arrive at 10 KB/s; the
// write timeout covers that read, a publish held for publishWait and 20 s
// to answer.
func (l HTTPLimits) withDefaults(publishWait time.Duration) HTTPLimits {
	l.ReadTimeout = cmp.Or(l.ReadTimeout, 30*time.Second)
	l.WriteTimeout = cmp.Or(l.WriteTimeout, l.ReadTimeout+publishWait+20*time.Second)
	l.IdleTimeout = cmp.Or(l.IdleTimeout, 120*time.Second)
	l.MaxHeaderBytes = cmp.Or(l.MaxHeaderBytes, 64<<10)
	l.MaxConns = cmp.Or(l.MaxConns, 1024)
	return l
}

// validate refuses, naming its variable, a limit out of its bounds, and a
// write timeout that does not cover a read and a publish held for
// publishWait.
func (l HTTPLimits) validate(publishWait time.Duration) error {
	if err := cmp.Or(
		within("HTTP_READ_TIMEOUT", l.ReadTimeout, 100*time.Millisecond, time.Hour),
		within("HTTP_WRITE_TIMEOUT", l.WriteTimeout, 100*time.Millisecond, 2*time.Hour),
		within("HTTP_IDLE_TIMEOUT", l.IdleTimeout, 100*time.Millisecond, time.Hour),
		between("HTTP_MAX_HEADER_BYTES", l.MaxHeaderBytes, 4<<10, 1<<20),
		between("HTTP_MAX_CONNS", l.MaxConns, 1, 1000000),
	); err != nil {
		return err
	}
	if least := l.ReadTimeout + publishWait; l.WriteTimeout <= least {
		return fmt.Errorf("HTTP_WRITE_TIMEOUT: %s must be longer than HTTP_READ_TIMEOUT + PUBLISH_WAIT (%s), or an ingest request that is read slowly and then held for a publish is cut off before it is answered", l.WriteTimeout, least)
	}
	return nil
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
