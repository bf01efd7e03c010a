package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/bluehq/webhooks/internal/telemetry"
)

// Command is one binary: its name, the roles it runs, and the subcommands
// it runs instead when its first argument names one (publisher send).
type Command struct {
	Name        string
	Roles       Roles
	Subcommands []Subcommand
}

// Subcommand is a command-line tool inside a binary.
type Subcommand struct {
	Name    string
	Summary string // one line for the binary's help
	// Run gets the arguments after the subcommand's name and returns the
	// exit code.
	Run func(args []string, stdout, stderr io.Writer) int
}

// Main is the body of every role binary: the arguments (-h, --help,
// --version, a subcommand), then the configuration from the environment,
// then Run until SIGINT or SIGTERM. It returns the exit code: 0, 1 when Run
// failed, 2 for a bad argument or configuration.
func (c Command) Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		for _, sub := range c.Subcommands {
			if args[0] == sub.Name {
				return sub.Run(args[1:], stdout, stderr)
			}
		}
	}
	if code, done := c.parseArgs(args, stdout, stderr); done {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := LoadConfig(os.Getenv)
	if err == nil && c.Roles != All && cfg.NatsURL == "" {
		err = errors.New("NATS_URL: required for " + c.Name + " (set it to your NATS server, e.g. nats://127.0.0.1:4222; webhookd embeds one instead)")
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: configuration: %v\n", c.Name, err)
		return 2
	}
	cfg.Logger = cfg.Logger.With("service", c.Name)
	cfg.Service = c.Name
	// go-redis prints its own lines (a failed dial) through a logger of
	// its process; they go out as JSON like every other line.
	redis.SetLogger(telemetry.NewRedisLogger(cfg.Logger))
	if err := Run(ctx, cfg, c.Roles); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.Name, err)
		return 1
	}
	return 0
}
