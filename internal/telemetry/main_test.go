package telemetry_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind (a watcher, a
// batch span processor or an exporter connection that was not stopped).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
