package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/portal"
	"github.com/bluehq/webhooks/internal/stream"
)

// portalSessions are the customer portal's links and sessions, in the
// portal bucket every API process shares.
func portalSessions(ctx context.Context, js jetstream.JetStream, cfg Config) (*portal.Sessions, error) {
	kv, err := js.KeyValue(ctx, stream.Portal)
	if err != nil {
		return nil, fmt.Errorf("portal bucket: %w", err)
	}
	return portal.NewSessions(kv, portal.SessionsConfig{
		LinkTTL: cfg.PortalLinkTTL, SessionTTL: cfg.PortalSessionTTL, BaseURL: cfg.PortalURL,
	})
}

// mountPortal serves the customer portal (/portal/) and the API reference
// (/docs) beside the API, acting through its operations.
func mountPortal(mux *http.ServeMux, server *api.Server, sessions *portal.Sessions, js jetstream.JetStream, inspector *inspect.Inspector, cfg Config, log *slog.Logger) error {
	history, err := inspect.NewHistory(js, inspect.HistoryConfig{})
	if err != nil {
		return err
	}
	p, err := portal.New(portal.Config{
		API: server, Sessions: sessions, History: history, Inspector: inspector,
		FrameAncestors: cfg.PortalFrameAncestors, BaseURL: cfg.PortalURL, Logger: log,
	})
	if err != nil {
		return err
	}
	p.Register(mux)
	p.RegisterDocs(mux)
	return nil
}
