package attempt

import (
	"net/http"
	"strconv"
)

// Error classes: why an attempt failed. A record's ErrorClass is one of
// them, or empty for a success. They are what customers see of a failure;
// the network error itself (which names internal addresses and the
// resolver) stays in the deliverer's log.
const (
	ClassForbidden       = "forbidden_address" // the host resolves to an address the SSRF guard refuses
	ClassDNS             = "dns"               // the host name did not resolve
	ClassTimeout         = "timeout"           // no complete answer within the delivery timeout
	ClassRefused         = "refused"           // the connection was refused
	ClassReset           = "reset"             // the connection was reset or closed before an answer
	ClassTLS             = "tls"               // the TLS handshake or the certificate failed
	ClassHeadersTooLarge = "headers_too_large" // the response headers exceeded the limit
	ClassConnection      = "connection"        // another failure to connect or to read the answer
	ClassRedirect        = "redirect"          // a 3xx: redirects are not followed
	ClassStatus          = "http_status"       // another status than 2xx or 3xx
)

// Classes is every error class, in the order the API documents them.
var Classes = []string{
	ClassForbidden, ClassDNS, ClassTimeout, ClassRefused, ClassReset, ClassTLS,
	ClassHeadersTooLarge, ClassConnection, ClassRedirect, ClassStatus,
}

var descriptions = map[string]string{
	ClassForbidden:       "the endpoint's host resolves to an address deliveries may not reach (private, loopback, link-local or reserved)",
	ClassDNS:             "the endpoint's host name could not be resolved",
	ClassTimeout:         "the endpoint did not answer completely within the delivery timeout",
	ClassRefused:         "the endpoint refused the connection",
	ClassReset:           "the endpoint reset or closed the connection before answering",
	ClassTLS:             "the TLS handshake with the endpoint failed (certificate or protocol)",
	ClassHeadersTooLarge: "the endpoint's response headers exceeded the size limit",
	ClassConnection:      "the connection to the endpoint failed",
	ClassRedirect:        "the endpoint answered a redirect, which is not followed",
}

// Describe is the text shown with a failure of class: fixed per class, so
// that it never carries an address; for http_status, the status.
func Describe(class string, status int) string {
	if class == ClassStatus {
		if text := http.StatusText(status); text != "" {
			return strconv.Itoa(status) + " " + text
		}
		return strconv.Itoa(status)
	}
	return descriptions[class]
}

// Public is r as the API shows it: its Error is Describe of its class,
// whatever the record holds (records written before the classes were
// closed kept the network error).
func (r Record) Public() Record {
	r.Error = Describe(r.ErrorClass, r.StatusCode)
	return r
}
