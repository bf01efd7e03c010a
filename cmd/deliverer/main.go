// Command deliverer runs the deliverer role of the webhook platform; run more copies
// to scale it. Configuration is read from the environment (see README, or -h).
package main

import (
	"os"

	"github.com/bluehq/webhooks/internal/app"
)

func main() {
	os.Exit(app.Command{Name: "deliverer", Roles: app.Roles{Deliverer: true}}.Main(os.Args[1:], os.Stdout, os.Stderr))
}
