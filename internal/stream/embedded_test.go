package stream_test

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/stream"
)

// A listen address in use stops the embedded server at once, with an
// error that says so, and leaves its data directory unlocked.
func TestStartEmbeddedListenAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	began := time.Now()
	emb, err := stream.StartEmbedded(stream.EmbeddedConfig{StoreDir: t.TempDir(), Listen: ln.Addr().String(), LockDir: dir})
	if err == nil {
		emb.Shutdown()
		t.Fatal("StartEmbedded on a port in use succeeded")
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("StartEmbedded = %v, want an error matching EADDRINUSE", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("StartEmbedded took %s to fail: it waited for readiness instead of the listener's error", took)
	}
	lock, err := stream.LockDir(dir)
	if err != nil {
		t.Fatalf("the data directory is still locked: %v", err)
	}
	_ = lock.Release()
}
