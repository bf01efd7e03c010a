package app

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// natsSchemes are the URL schemes nats.go speaks: plain, TLS, WebSocket.
var natsSchemes = []string{"nats", "tls", "ws", "wss"}

// checkNatsURL refuses, at start-up, a NATS_URL no retry could ever
// connect with: a scheme other than natsSchemes (nats.go would try the host
// with plain NATS for ever), no host, or WebSocket mixed with plain URLs.
// Credentials in it are not repeated in the error.
func checkNatsURL(list string) error {
	var ws, plain bool
	for _, raw := range splitURLs(list) {
		u, err := parseNatsURL(raw)
		if err != nil {
			return fmt.Errorf("%s is not a URL (want e.g. nats://127.0.0.1:4222)", redactURL(raw))
		}
		if !slices.Contains(natsSchemes, u.Scheme) {
			return fmt.Errorf("%s: scheme %q is not one NATS speaks: use %s:// (e.g. nats://127.0.0.1:4222)",
				redactURL(raw), u.Scheme, strings.Join(natsSchemes, "://, "))
		}
		if u.Hostname() == "" {
			return fmt.Errorf("%s names no host (want e.g. nats://127.0.0.1:4222)", redactURL(raw))
		}
		isWS := u.Scheme == "ws" || u.Scheme == "wss"
		ws, plain = ws || isWS, plain || !isWS
	}
	if ws && plain {
		return fmt.Errorf("%s mixes WebSocket (ws://, wss://) and plain NATS URLs; nats.go connects over one or the other", redactURLs(list))
	}
	return nil
}

// splitURLs splits a comma-separated list as nats.go does.
func splitURLs(list string) []string {
	var urls []string
	for u := range strings.SplitSeq(list, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// parseNatsURL parses one server URL; like nats.go, "host:port" means
// nats://host:port.
func parseNatsURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "nats://" + raw
	}
	return url.Parse(raw)
}

// redactURLs is a NATS_URL fit for a log line: each URL with its user
// information (user and password, or a token) replaced by "redacted".
func redactURLs(list string) string {
	urls := splitURLs(list)
	for i, u := range urls {
		urls[i] = redactURL(u)
	}
	return strings.Join(urls, ",")
}

func redactURL(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	start := strings.Index(raw, "://")
	if start < 0 || start > at {
		start = 0
	} else {
		start += len("://")
	}
	return raw[:start] + "redacted@" + raw[at+1:]
}
