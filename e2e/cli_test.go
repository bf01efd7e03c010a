package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/testenv"
)

// publisher send and load publish through pkg/publish to a running stack.
func TestPublisherCLI(t *testing.T) {
	t.Parallel()
	natsAddr := freeAddr(t)
	c, company, _ := startWebhookd(t, "NATS_LISTEN="+natsAddr)
	rc := newReceiver(t)
	c.createHook(t, c.apiToken, company, map[string]any{"name": "cli", "url": rc.srv.URL + "/cli"})
	run := func(args ...string) (string, int) {
		cmd := exec.Command(filepath.Join(binDir, "publisher"), args...)
		cmd.Env = append(os.Environ(), "NATS_URL=nats://"+natsAddr)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}

	file := filepath.Join(t.TempDir(), "events.json")
	data, _ := json.Marshal(makeEvents(t, 2, []string{company}, []string{"p1"}))
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := run("send", file); code != 0 || !strings.Contains(out, "published 2 event(s)") {
		t.Fatalf("publisher send: exit %d: %s", code, out)
	}
	bad := makeEvents(t, 1, []string{company}, []string{"p1"})
	delete(bad[0], "companyId")
	data, _ = json.Marshal(bad)
	_ = os.WriteFile(file, data, 0o600)
	if out, code := run("send", file); code != 1 || !strings.Contains(out, "companyId") {
		t.Errorf("publisher send of an invalid event: exit %d: %s, want 1 naming companyId", code, out)
	}
	if out, code := run("load", "-n", "5", "-rate", "0", "-company", company); code != 0 || !strings.Contains(out, "published 5") {
		t.Fatalf("publisher load: exit %d: %s", code, out)
	}
	if out, code := run("load", "-type", "NOPE"); code != 2 || !strings.Contains(out, "NOPE") {
		t.Errorf("publisher load -type NOPE: exit %d: %s, want 2 naming the type", code, out)
	}
	testenv.Eventually(t, 20*time.Second, func() bool { return len(arrivals(rc, "/cli")) == 7 }, "2 sent + 5 loaded events delivered")
}

// allBinaries are every command the module builds.
var allBinaries = []string{"webhookd", "api", "publisher", "dispatcher", "deliverer", "receiver", "bench"}

// Every binary answers -h, --help and --version, exit 0, and does nothing
// else: no service started, no ./data created, no secret of its
// environment repeated. A flag or argument it does not know exits 2 with a
// message saying so.
func TestEveryBinaryAnswersHelpAndVersion(t *testing.T) {
	t.Parallel()
	for _, bin := range allBinaries {
		t.Run(bin, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			run := func(args ...string) (stdout, stderr string, code int) {
				t.Helper()
				cmd := exec.Command(filepath.Join(binDir, bin), args...)
				cmd.Dir = dir
				// What a developer's shell may hold; none of it may be printed, and
				// with a port of its own nothing could be served by accident.
				cmd.Env = append(os.Environ(), "WEBHOOK_SECRET=whsec_c2VjcmV0LWluLWVudg==", "BENCH_API_TOKEN=secret-bench-token",
					"NATS_URL=nats://someone:secret-password@127.0.0.1:1", "REDIS_URL=", "API_ADDR="+freeAddr(t), "PUBLISHER_ADDR="+freeAddr(t))
				var out, errOut strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &errOut
				done := make(chan error, 1)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				go func() { done <- cmd.Wait() }()
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					_ = cmd.Process.Kill()
					<-done
					t.Fatalf("%s %q still running after 20s: it did more than answer:\n%s%s", bin, args, out.String(), errOut.String())
				}
				return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
			}
			for _, args := range [][]string{{"-h"}, {"--help"}} {
				out, errOut, code := run(args...)
				if code != 0 || !strings.Contains(out, "usage: "+bin) {
					t.Errorf("%s %s: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", bin, args[0], code, out, errOut)
				}
				wantVar := "REDIS_KEY_PREFIX" // late in the list: the whole list is there
				if bin == "receiver" {
					wantVar = "WEBHOOK_SECRET"
				}
				if !strings.Contains(out, wantVar) {
					t.Errorf("%s %s does not list the environment variables it reads (no %s):\n%s", bin, args[0], wantVar, out)
				}
				for _, secret := range []string{"c2VjcmV0LWluLWVudg", "secret-bench-token", "secret-password"} {
					if strings.Contains(out+errOut, secret) {
						t.Errorf("%s %s printed %q from its environment:\n%s%s", bin, args[0], secret, out, errOut)
					}
				}
			}
			out, errOut, code := run("--version")
			modVersion, revision := stamped(t, filepath.Join(binDir, bin))
			want := bin + " github.com/bluehq/webhooks " + modVersion + " "
			if code != 0 || !strings.HasPrefix(out, want) || !strings.Contains(out, " go1.") {
				t.Errorf("%s --version: exit %d, %q %q; want 0, %q... and the Go version", bin, code, out, errOut, want)
			}
			if revision != "" && !strings.Contains(out, "revision "+revision) {
				t.Errorf("%s --version = %q, want it to name revision %s, stamped in the binary", bin, out, revision)
			}
			for _, args := range [][]string{{"--no-such-flag"}, {"no-such-argument"}} {
				out, errOut, code := run(args...)
				if code != 2 || !strings.Contains(errOut, strings.TrimLeft(args[0], "-")) || !strings.Contains(errOut, bin+" -h") {
					t.Errorf("%s %s: exit %d, stdout %q, stderr %q; want 2 and a message naming it and %s -h", bin, args[0], code, out, errOut, bin)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("%s created %v in its working directory", bin, entries)
			}
		})
	}
}

// stamped reads what the Go toolchain stamped into a binary (go version
// -m): the main module's version and, when it was built from a checkout
// with VCS stamping on, the revision ("" otherwise).
func stamped(t *testing.T, bin string) (modVersion, revision string) {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", bin, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/bluehq/webhooks":
			modVersion = f[2]
		case len(f) >= 2 && f[0] == "build":
			if v, ok := strings.CutPrefix(f[1], "vcs.revision="); ok {
				revision = v
			}
		}
	}
	return modVersion, revision
}

// An unknown LOG_LEVEL is refused at start-up, naming the variable and
// what it accepts.
func TestUnknownLogLevelIsRefused(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(filepath.Join(binDir, "webhookd"))
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "LOG_LEVEL=verbose", "NATS_URL=", "REDIS_URL=")
	out, _ := cmd.CombinedOutput()
	want := `webhookd: configuration: LOG_LEVEL: "verbose" is not a log level: use one of debug, info, warn, error`
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), want) {
		t.Fatalf("LOG_LEVEL=verbose: exit %d, %q; want 2 and %q", code, out, want)
	}
}
