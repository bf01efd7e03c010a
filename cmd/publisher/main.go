// Command publisher is the HTTP ingest (POST /v1/events). Its subcommands
// publish from the command line instead:
//
//	publisher send events.json                    # one event or an array, validated
//	publisher load -n 1000 -rate 100 -company c1  # generated events, paced
package main

import (
	"os"

	"github.com/bluehq/webhooks/internal/app"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "send":
			os.Exit(app.Send(os.Args[2:], os.Stdout, os.Stderr))
		case "load":
			os.Exit(app.Load(os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	os.Exit(app.Main("publisher", app.Roles{Publisher: true}, os.Stderr))
}
