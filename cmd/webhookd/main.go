// Command webhookd runs every role of the webhook platform in one process:
// with an embedded nats-server (file storage under DATA_DIR) unless NATS_URL
// is set, and in-process state unless REDIS_URL is set. -h lists the
// environment variables it reads.
package main

import (
	"os"

	"github.com/bluehq/webhooks/internal/app"
)

func main() {
	os.Exit(app.Command{Name: "webhookd", Roles: app.All}.Main(os.Args[1:], os.Stdout, os.Stderr))
}
