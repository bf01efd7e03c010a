package app

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/pkg/publish"
)

// Send is "publisher send FILE": it validates a JSON file holding one event
// or an array of events and publishes them with pkg/publish. It returns the
// exit code.
func Send(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL := fs.String("nats", "", "NATS server URL (default $NATS_URL)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: publisher send [-nats URL] FILE.json   (FILE - reads standard input)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return helpOr2(err)
	}
	*natsURL = cmp.Or(*natsURL, os.Getenv("NATS_URL")) // not the flag's default: -h would print its credentials
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	if *natsURL == "" {
		fmt.Fprintln(stderr, "publisher send: set -nats or NATS_URL to the NATS server (e.g. nats://127.0.0.1:4222)")
		return 2
	}
	var data []byte
	var err error
	if name := fs.Arg(0); name == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		fmt.Fprintf(stderr, "publisher send: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	nc, err := nats.Connect(*natsURL, nats.Name("publisher-send"))
	if err != nil {
		fmt.Fprintf(stderr, "publisher send: connect %s: %v\n", redactURLs(*natsURL), err)
		return 1
	}
	defer nc.Close()
	client, err := publish.New(nc)
	if err != nil {
		fmt.Fprintf(stderr, "publisher send: %v\n", err)
		return 1
	}
	ids, err := client.PublishJSON(ctx, data)
	var fe *event.FieldError
	if errors.As(err, &fe) {
		fmt.Fprintf(stderr, "publisher send: %s: invalid event, nothing published: %v\n", fs.Arg(0), fe)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "publisher send: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "published %d event(s): %s\n", len(ids), strings.Join(ids, " "))
	return 0
}
