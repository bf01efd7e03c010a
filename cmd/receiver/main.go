// Command receiver is a demo webhook endpoint: it prints every delivery it
// gets and, given the webhook's secret, checks both signatures with
// pkg/verify, the way a customer's endpoint should.
//
//	receiver -addr 127.0.0.1:9000 -secret whsec_...
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/bluehq/webhooks/internal/version"
	"github.com/bluehq/webhooks/pkg/verify"
)

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: receiver [flags]

A demo webhook endpoint: it prints every delivery it gets and, given the
webhook's secret, checks both signatures (X-Signature and Standard Webhooks'
webhook-signature) with pkg/verify. It reads one environment variable,
WEBHOOK_SECRET (the default of -secret).

Flags:
`)
	flag.CommandLine.SetOutput(w)
	flag.PrintDefaults()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	secret := flag.String("secret", "", "the webhook's signing secret (default $WEBHOOK_SECRET); empty: signatures are not checked")
	status := flag.Int("status", http.StatusOK, "HTTP status to answer with (e.g. 500 to see retries, 410 to see the webhook disabled)")
	dir := flag.String("dir", "", "if set, save each raw body to DIR/<webhook-id>.json")
	showVersion := flag.Bool("version", false, "print the version and build, and exit")
	flag.CommandLine.Init("receiver", flag.ContinueOnError)
	flag.CommandLine.SetOutput(io.Discard) // said below: the usage on stdout, errors on stderr
	flag.CommandLine.Usage = func() {}
	switch err := flag.CommandLine.Parse(os.Args[1:]); {
	case errors.Is(err, flag.ErrHelp):
		usage(os.Stdout)
		os.Exit(0)
	case err != nil:
		fmt.Fprintf(os.Stderr, "receiver: %v\nrun receiver -h for usage\n", err)
		os.Exit(2)
	case flag.NArg() > 0:
		fmt.Fprintf(os.Stderr, "receiver: unexpected argument %q: it takes flags only\nrun receiver -h for usage\n", flag.Arg(0))
		os.Exit(2)
	case *showVersion:
		fmt.Println(version.String("receiver"))
		os.Exit(0)
	}
	if *secret == "" { // read here, not as the flag's default: -h would print it
		*secret = os.Getenv("WEBHOOK_SECRET")
	}

	var v *verify.Verifier
	if *secret != "" {
		var err error
		if v, err = verify.New(*secret); err != nil {
			fmt.Fprintln(os.Stderr, "receiver: -secret:", err)
			os.Exit(2)
		}
	}
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		check := "not checked (no -secret)"
		if v != nil {
			check = "valid"
			if err := errors.Join(v.Verify(r.Header, body), v.VerifyXSignature(r.Header, body)); err != nil {
				check = "INVALID: " + err.Error()
			}
		}
		id := r.Header.Get("webhook-id")
		fmt.Printf("%s %s webhook-id=%s attempt=%s event=%s signatures=%s\n  X-Signature: %s\n  traceparent: %s\n  %s\n",
			time.Now().Format(time.RFC3339), r.URL.Path, id, r.Header.Get("X-Webhook-Attempt"),
			r.Header.Get("X-Webhook-Event"), check, r.Header.Get("X-Signature"), r.Header.Get("traceparent"), body)
		if *dir != "" && id != "" {
			_ = os.WriteFile(filepath.Join(*dir, filepath.Base(id)+".json"), body, 0o644)
		}
		w.WriteHeader(*status)
	})
	fmt.Fprintf(os.Stderr, "receiver: listening on http://%s\n", *addr)
	srv := &http.Server{Addr: *addr, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
}
