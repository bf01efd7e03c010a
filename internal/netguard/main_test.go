package netguard_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind (a server, a
// consumer or a connection that was not stopped).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
