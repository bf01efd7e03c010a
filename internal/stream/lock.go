package stream

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LockFile is the file in a data directory that the process using the
// directory holds an exclusive flock(2) on.
const LockFile = "webhookd.lock"

// DirLock is an exclusive lock on a data directory. Two embedded servers
// on one store each keep their own view of it and overwrite each other's
// files, so a second process must not start there. The kernel drops the
// lock when the process ends, however it ends (SIGKILL included), so a
// stale lock file never blocks a restart.
type DirLock struct {
	f *os.File
}

// LockDir creates dir if needed and takes the lock on it, writing who
// holds it (pid, host, start time) into the lock file. When another process
// holds it, the error names dir and that process.
func LockDir(dir string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "a process that is starting"
			}
			return nil, fmt.Errorf("data directory %s is in use by %s: stop that process, or give this one another directory (DATA_DIR)", dir, who)
		}
		return nil, fmt.Errorf("data directory %s: lock %s: %w", dir, path, err)
	}
	// Who holds it is only for the next process's error message.
	host, _ := os.Hostname()
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "pid %d on host %s, started %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	return &DirLock{f: f}, nil
}

// Release drops the lock. The file stays: removing it could let two later
// processes each lock a different file of the same name.
func (l *DirLock) Release() error { return l.f.Close() }
