package handoff

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind (a consumer,
// a watch, a server or a connection that was not stopped).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
