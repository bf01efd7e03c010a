package stream_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/bluehq/webhooks/internal/stream"
)

func TestLockDirHasOneHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock, err := stream.LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A second lock, even from this process, is refused and names the holder.
	_, err = stream.LockDir(dir)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d on host", os.Getpid())) {
		t.Fatalf("second LockDir = %v, want an error naming %s and pid %d", err, dir, os.Getpid())
	}
	if err := lock.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := stream.LockDir(dir)
	if err != nil {
		t.Fatalf("LockDir after Release: %v", err)
	}
	_ = again.Release()
}
