package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/testenv"
)

// jsverifyDir holds the npm verifiers; scripts/test.sh installs them.
const jsverifyDir = "testdata/jsverify"

// jsResult is what testdata/jsverify/verify.mjs prints: "ok" or the error.
type jsResult struct {
	StandardWebhooks string `json:"standardwebhooks"`
	Svix             string `json:"svix"`
	XSignature       string `json:"xSignature"`
}

// nodeVerify runs the npm verifiers on one delivery with secret; a secret
// without the whsec_ prefix is given to them as {format: "raw"}.
func nodeVerify(t *testing.T, node, secret string, r received, body []byte) jsResult {
	t.Helper()
	headers := map[string]string{}
	for k := range r.header {
		headers[k] = r.header.Get(k)
	}
	in, err := json.Marshal(map[string]any{"secret": secret, "raw": !strings.HasPrefix(secret, "whsec_"), "headers": headers, "body": body})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "verify.mjs")
	cmd.Dir = jsverifyDir
	cmd.Stdin = bytes.NewReader(in) // the secret is not in the process list
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node verify.mjs: %v\n%s", err, stderr.String())
	}
	var res jsResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node verify.mjs printed %q: %v", out, err)
	}
	return res
}

// TestNodeVerifiers: real deliveries verify with the npm standardwebhooks
// (1.1.1) and svix (2.5.0) libraries, and X-Signature with Node's
// createHmac, for a generated whsec_ secret, a raw secret ({format: "raw"})
// and both secrets of a rotation's overlap; a tampered body verifies with
// none of them. It needs Node.js and `npm ci` in testdata/jsverify (make
// test runs it) and fails without them.
func TestNodeVerifiers(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("Node.js is needed to run the npm verifiers (Debian: apt-get install -y nodejs npm): %v", err)
	}
	for _, pkg := range []string{"standardwebhooks", "svix"} {
		if _, err := os.Stat(filepath.Join(jsverifyDir, "node_modules", pkg)); err != nil {
			t.Fatalf("the npm verifiers are not installed: run `npm ci --prefix e2e/%s` (make test does): %v", jsverifyDir, err)
		}
	}
	c, company, _ := startWebhookd(t)
	rc := newReceiver(t)
	const raw = "a-customer-chosen-secret-1234"
	generated := c.createHook(t, c.apiToken, company, map[string]any{"name": "generated", "url": rc.srv.URL + "/generated"})
	c.createHook(t, c.apiToken, company, map[string]any{"name": "raw", "url": rc.srv.URL + "/raw", "secret": raw})
	rotated := c.createHook(t, c.apiToken, company, map[string]any{"name": "rotated", "url": rc.srv.URL + "/rotated"})
	code, body := c.do(t, http.MethodPost, c.apiURL+"/v1/webhooks/"+rotated.ID+"/rotate-secret", c.apiToken, map[string]any{"overlap": "1h"})
	if code != http.StatusOK {
		t.Fatalf("rotate: %d %s", code, body)
	}
	var rot struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(body, &rot); err != nil {
		t.Fatal(err)
	}

	c.publish(t, []map[string]any{todoIn(t, company, "L1")})
	paths := []string{"/generated", "/raw", "/rotated"}
	testenv.Eventually(t, 20*time.Second, func() bool {
		for _, p := range paths {
			if len(arrivals(rc, p)) == 0 {
				return false
			}
		}
		return true
	}, "a delivery to each webhook")
	cases := []struct {
		path, secret string
	}{
		{"/generated", generated.Secret},
		{"/raw", raw},
		{"/rotated", rotated.Secret}, // the old secret, during the overlap
		{"/rotated", rot.Secret},
	}
	for _, tc := range cases {
		r := arrivals(rc, tc.path)[0]
		if got := nodeVerify(t, node, tc.secret, r, r.body); got != (jsResult{"ok", "ok", "ok"}) {
			t.Errorf("%s with secret %.10s...: %+v, want all ok", tc.path, tc.secret, got)
		}
		tampered := append(bytes.Clone(r.body), ' ')
		got := nodeVerify(t, node, tc.secret, r, tampered)
		if got.StandardWebhooks == "ok" || got.Svix == "ok" || got.XSignature == "ok" {
			t.Errorf("%s, tampered body: %+v, want every check to fail", tc.path, got)
		}
	}
}
