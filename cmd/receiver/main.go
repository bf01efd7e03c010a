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

	"github.com/bluehq/webhooks/pkg/verify"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "address to listen on")
	secret := flag.String("secret", os.Getenv("WEBHOOK_SECRET"), "the webhook's signing secret (default $WEBHOOK_SECRET); empty: signatures are not checked")
	status := flag.Int("status", http.StatusOK, "HTTP status to answer with (e.g. 500 to see retries, 410 to see the webhook disabled)")
	dir := flag.String("dir", "", "if set, save each raw body to DIR/<webhook-id>.json")
	flag.Parse()

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
