// Command publisher is the HTTP ingest (POST /v1/events). With the
// subcommand send it publishes a JSON file of events instead:
//
//	publisher send events.json
package main

import (
	"os"

	"github.com/bluehq/webhooks/internal/app"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "send" {
		os.Exit(app.Send(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(app.Main("publisher", app.Roles{Publisher: true}, os.Stderr))
}
