package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"syscall"

	"github.com/nats-io/nats.go"
)

// problem is why a connection to NATS failed: a kind for the log's
// "problem" field and a hint saying what to check.
type problem struct {
	kind string
	hint string
	err  error // the error it was read from
}

// natsProblem classifies what nats.Connect (or a reconnect attempt)
// returned. dialErr is the last TCP connect's error: for a refused
// connection nats.Connect only says nats.ErrNoServers.
func natsProblem(err, dialErr error) problem {
	if errors.Is(err, nats.ErrNoServers) && dialErr != nil {
		err = dialErr
	}
	var (
		dns     *net.DNSError
		op      *net.OpError
		netErr  net.Error
		record  tls.RecordHeaderError
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		alert   tls.AlertError
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return problem{"connection refused", "nothing listens at that host and port: is nats-server running, and are NATS_URL's host and port right?", err}
	case errors.As(err, &dns):
		return problem{"unknown host", "NATS_URL's host name does not resolve: check its spelling and DNS", err}
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked), errors.Is(err, nats.ErrAccountAuthExpired):
		return problem{"authorization", "the server refused the credentials: put the right user:password@ (or token@) in NATS_URL", err}
	case errors.Is(err, nats.ErrSecureConnWanted):
		return problem{"TLS", "NATS_URL asks for TLS (tls://) but the server does not offer it: use nats://, or enable TLS on the server", err}
	case errors.Is(err, nats.ErrSecureConnRequired):
		return problem{"TLS", "the server requires TLS: use tls:// in NATS_URL", err}
	case errors.As(err, &record), errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid), errors.As(err, &alert):
		return problem{"TLS", "the TLS handshake failed: check the server's certificate, its name and the CA that signed it", err}
	case errors.As(err, &op) && op.Op == "dial" && errors.As(err, &netErr) && netErr.Timeout():
		return problem{"timeout", "no answer to the TCP connect within " + natsTimeout.String() + ": a wrong address, or a firewall dropping packets?", err}
	case errors.Is(err, nats.ErrTimeout), errors.As(err, &netErr) && netErr.Timeout():
		return problem{"timeout", "the connection opened but no NATS greeting came within " + natsTimeout.String() + ": is that a nats-server's client port (usually 4222)?", err}
	case errors.Is(err, nats.ErrNoInfoReceived):
		return problem{"not NATS", "the server there does not speak the NATS protocol: is that a nats-server's client port (usually 4222)?", err}
	}
	return problem{"cannot connect", "see err", err}
}
