package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// MinServerVersion is the oldest nats-server this code runs on: retries are
// message schedules, which came in 2.12.
const MinServerVersion = "2.12.0"

// CheckServer checks that the server js is connected to is at least
// MinServerVersion and has JetStream enabled for this account. It returns an
// *IncompatibleError saying what to install when it is not, and a plain
// error while the connection is not up yet.
func CheckServer(ctx context.Context, js jetstream.JetStream) error {
	nc := js.Conn()
	if !nc.IsConnected() {
		return fmt.Errorf("stream: not connected to NATS (%s)", nc.Status())
	}
	version, url := nc.ConnectedServerVersion(), nc.ConnectedUrlRedacted()
	if url == "" {
		url = "in-process"
	}
	if !atLeast(version, MinServerVersion) {
		return &IncompatibleError{Msg: fmt.Sprintf(
			"nats-server %s at %s is too old: this needs nats-server %s or newer (message schedules, which retries use); install nats-server v2.12 or newer (tested with v%s)",
			version, url, MinServerVersion, server.VERSION)}
	}
	_, err := js.AccountInfo(ctx)
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		return &IncompatibleError{Err: err, Msg: fmt.Sprintf(
			"nats-server %s at %s runs without JetStream: start it with JetStream enabled (nats-server -js, or a jetstream {} block in its configuration)",
			version, url)}
	case errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return &IncompatibleError{Err: err, Msg: fmt.Sprintf(
			"nats-server %s at %s has JetStream disabled for this account: enable JetStream for the account in the server's configuration",
			version, url)}
	case err != nil:
		return fmt.Errorf("stream: JetStream account info: %w", err)
	}
	return nil
}

// atLeast reports whether version ("2.12.0", "v2.12.1-RC.2") is min or
// newer; a pre-release counts as its release.
func atLeast(version, least string) bool {
	have, ok := semver(version)
	want, _ := semver(least)
	if !ok {
		return false
	}
	for i := range have {
		if have[i] != want[i] {
			return have[i] > want[i]
		}
	}
	return true
}

func semver(v string) ([3]int, bool) {
	var out [3]int
	v, _, _ = strings.Cut(strings.TrimPrefix(v, "v"), "-")
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, false
		}
		out[i] = n
	}
	return out, true
}
