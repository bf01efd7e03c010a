// Command webhookd runs every role of the webhook platform in one process:
// with an embedded nats-server (file storage under DATA_DIR) unless NATS_URL
// is set, and in-process state unless REDIS_URL is set.
package main

import (
	"os"

	"github.com/bluehq/webhooks/internal/app"
)

func main() {
	os.Exit(app.Main("webhookd", app.All, os.Stderr))
}
