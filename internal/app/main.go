package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main is the body of every binary: config from the environment, Run until
// SIGINT or SIGTERM. It returns the exit code.
func Main(name string, roles Roles, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := LoadConfig(os.Getenv)
	if err == nil && roles != All && cfg.NatsURL == "" {
		err = errors.New("NATS_URL: required for " + name + " (set it to your NATS server, e.g. nats://127.0.0.1:4222; webhookd embeds one instead)")
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: configuration: %v\n", name, err)
		return 2
	}
	cfg.Logger = cfg.Logger.With("service", name)
	cfg.Service = name
	if err := Run(ctx, cfg, roles); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}
