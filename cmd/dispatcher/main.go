// Command dispatcher runs the dispatcher role of the webhook platform; run more copies
// to scale it. Configuration is read from the environment (see README).
package main

import (
	"os"

	"github.com/bluehq/webhooks/internal/app"
)

func main() {
	os.Exit(app.Main("dispatcher", app.Roles{Dispatcher: true}, os.Stderr))
}
