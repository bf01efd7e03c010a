package app

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/pkg/publish"
)

// Load is "publisher load": it publishes -n events of one type (the
// catalogue's example with fresh ids) at -rate per second, for trying a
// deployment by hand. It returns the exit code.
func Load(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL := fs.String("nats", "", "NATS server URL (default $NATS_URL)")
	company := fs.String("company", "demo", "companyId of the events")
	project := fs.String("project", "p1", "projectId of the events")
	typ := fs.String("type", "TODO_CREATED", "event type (see GET /v1/event-types)")
	n := fs.Int("n", 100, "how many events")
	rate := fs.Float64("rate", 50, "events per second (0: as fast as acknowledged)")
	if err := fs.Parse(args); err != nil {
		return helpOr2(err)
	}
	*natsURL = cmp.Or(*natsURL, os.Getenv("NATS_URL")) // not the flag's default: -h would print its credentials
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "publisher load: unexpected argument %q: it takes flags only (publisher load -h lists them)\n", fs.Arg(0))
		return 2
	}
	if *natsURL == "" {
		fmt.Fprintln(stderr, "publisher load: set -nats or NATS_URL to the NATS server (e.g. nats://127.0.0.1:4222)")
		return 2
	}
	if *n < 1 || *rate < 0 {
		fmt.Fprintln(stderr, "publisher load: -n must be at least 1 and -rate at least 0")
		return 2
	}
	nc, err := nats.Connect(*natsURL, nats.Name("publisher-load"))
	if err != nil {
		fmt.Fprintf(stderr, "publisher load: connect %s: %v\n", redactURLs(*natsURL), err)
		return 1
	}
	defer nc.Close()
	client, err := publish.New(nc)
	if err != nil {
		fmt.Fprintf(stderr, "publisher load: %v\n", err)
		return 1
	}
	var template event.Envelope
	for _, t := range client.Catalogue().Types() {
		if t.Name == *typ {
			_ = json.Unmarshal(t.Example, &template)
		}
	}
	if template.Type == "" {
		fmt.Fprintf(stderr, "publisher load: -type %q is not in the catalogue (GET /v1/event-types lists them)\n", *typ)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var tick <-chan time.Time
	if *rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / *rate))
		defer t.Stop()
		tick = t.C
	}
	start := time.Now()
	sent := 0
	for ; sent < *n && ctx.Err() == nil; sent++ {
		if tick != nil {
			select {
			case <-tick:
			case <-ctx.Done():
			}
		}
		e := template
		e.ID, e.OccurredAt, e.CompanyID, e.ProjectID = "", time.Time{}, *company, *project
		if _, err := client.Publish(ctx, e); err != nil {
			fmt.Fprintf(stderr, "publisher load: after %d events: %v\n", sent, err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "published %d %s event(s) for company %s in %s\n", sent, *typ, *company, time.Since(start).Round(time.Millisecond))
	return 0
}
