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
	cmd := app.Command{Name: "publisher", Roles: app.Roles{Publisher: true}, Subcommands: []app.Subcommand{
		{Name: "send", Summary: "publish the events of a JSON file", Run: app.Send},
		{Name: "load", Summary: "publish generated events at a rate", Run: app.Load},
	}}
	os.Exit(cmd.Main(os.Args[1:], os.Stdout, os.Stderr))
}
