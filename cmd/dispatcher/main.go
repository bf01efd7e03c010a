// Command dispatcher runs the dispatcher role of the webhook platform; run more copies
// to scale it. Configuration is read from the environment (see README, or -h).
package main

import (
	"os"

	"github.com/bluehq/webhooks/internal/app"
)

func main() {
	os.Exit(app.Command{Name: "dispatcher", Roles: app.Roles{Dispatcher: true}}.Main(os.Args[1:], os.Stdout, os.Stderr))
}
