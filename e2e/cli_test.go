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
