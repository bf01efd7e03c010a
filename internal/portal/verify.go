package portal

import (
	"net/http"

	"github.com/bluehq/webhooks/internal/api"
)

// verifyData is the "Verify your endpoint" page: the headers a delivery
// carries, and code that checks them, for the form of this webhook's
// secret. The secret itself is never on the page: the code reads it from
// the environment.
type verifyData struct {
	Webhook  api.Webhook
	Standard bool // whsec_ and base64: libraries take it as it is
	Snippets []snippet
}

type snippet struct {
	ID, Label, Install, Code string
}

func (p *Portal) verify(w http.ResponseWriter, r *http.Request, s *Session) {
	wh, err := p.cfg.API.GetWebhook(r.Context(), s.CompanyID, r.PathValue("id"))
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	standard, err := p.cfg.API.SecretIsStandard(r.Context(), s.CompanyID, wh.ID)
	if err != nil {
		p.apiError(w, r, s, err)
		return
	}
	pg := p.pageFor(s, "Verify your endpoint")
	pg.Nav = "webhooks"
	pg.Data = verifyData{Webhook: wh, Standard: standard, Snippets: snippets(standard)}
	p.render(w, r, "verify", pg)
}

// snippets are ready-to-paste verifiers, each keyed the way its library
// needs this form of secret.
func snippets(standard bool) []snippet {
	pick := func(std, raw string) string {
		if standard {
			return std
		}
		return raw
	}
	return []snippet{
		{
			ID: "node-standardwebhooks", Label: "Node.js (standardwebhooks)", Install: "npm install standardwebhooks express",
			Code: `import express from "express";
import { Webhook } from "standardwebhooks";

` + pick(`// The secret as the portal showed it (whsec_...).
const wh = new Webhook(process.env.WEBHOOK_SECRET);`, `// Your own secret is not whsec_ + base64: give it as raw bytes.
const wh = new Webhook(Buffer.from(process.env.WEBHOOK_SECRET, "utf8"), { format: "raw" });`) + `

const app = express();
// The raw body: a parsed and re-serialised one no longer matches.
app.post("/webhooks/blue", express.raw({ type: "application/json" }), (req, res) => {
  let event;
  try {
    event = wh.verify(req.body, req.headers); // also refuses a timestamp 5 min off
  } catch (err) {
    return res.status(400).send("invalid signature");
  }
  // Deliveries may repeat: deduplicate on req.headers["webhook-id"].
  console.log(event.event, event.eventId);
  res.sendStatus(204);
});
app.listen(3000);`,
		},
		{
			ID: "node-svix", Label: "Node.js (svix)", Install: "npm install svix express",
			Code: `import express from "express";
import { Webhook } from "svix";

` + pick(`const wh = new Webhook(process.env.WEBHOOK_SECRET); // whsec_...`,
				`const wh = new Webhook(Buffer.from(process.env.WEBHOOK_SECRET, "utf8"), { format: "raw" });`) + `

const app = express();
app.post("/webhooks/blue", express.raw({ type: "application/json" }), (req, res) => {
  try {
    // svix reads the webhook-id, webhook-timestamp and webhook-signature headers.
    const event = wh.verify(req.body, req.headers);
    console.log(event.event, event.eventId);
    res.sendStatus(204);
  } catch (err) {
    res.status(400).send("invalid signature");
  }
});
app.listen(3000);`,
		},
		{
			ID: "python", Label: "Python (standardwebhooks, Flask)", Install: "pip install standardwebhooks flask",
			Code: `import os
` + pick(``, `import base64
`) + `from flask import Flask, request
from standardwebhooks.webhooks import Webhook

` + pick(`wh = Webhook(os.environ["WEBHOOK_SECRET"])  # whsec_...`, `# Your own secret is not whsec_ + base64: the library takes base64, so encode it.
wh = Webhook(base64.b64encode(os.environ["WEBHOOK_SECRET"].encode()).decode())`) + `
app = Flask(__name__)

@app.post("/webhooks/blue")
def blue():
    try:
        event = wh.verify(request.get_data(), request.headers)
    except Exception:
        return "invalid signature", 400
    # Deliveries may repeat: deduplicate on request.headers["webhook-id"].
    return "", 204`,
		},
		{
			ID: "go", Label: "Go (standard library)", Install: "",
			Code: `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

` + pick(`// The key is the base64 after "whsec_".
var key, _ = base64.StdEncoding.DecodeString(strings.TrimPrefix(os.Getenv("WEBHOOK_SECRET"), "whsec_"))`,
				`// Your own secret is not whsec_ + base64: its bytes are the key.
var key = []byte(os.Getenv("WEBHOOK_SECRET"))`) + `

// verify checks webhook-signature: base64 HMAC-SHA256 of "id.timestamp.body";
// during a secret rotation it carries one "v1," entry per valid secret.
func verify(h http.Header, body []byte) bool {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if v, ok := strings.CutPrefix(sig, "v1,"); ok && hmac.Equal([]byte(v), []byte(want)) {
			return true
		}
	}
	return false
}

func main() {
	http.HandleFunc("POST /webhooks/blue", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil || !verify(r.Header, body) {
			http.Error(w, "invalid signature", http.StatusBadRequest)
			return
		}
		// Deliveries may repeat: deduplicate on r.Header.Get("webhook-id").
		w.WriteHeader(http.StatusNoContent)
	})
	http.ListenAndServe(":3000", nil)
}`,
		},
		{
			ID: "x-signature", Label: "X-Signature (Node.js crypto)", Install: "",
			Code: `import crypto from "node:crypto";

// X-Signature: hex HMAC-SHA256 of the raw body, keyed with the secret
// string exactly as you hold it (whsec_ prefix included).
function verifyXSignature(rawBody, header) {
  const want = crypto.createHmac("sha256", process.env.WEBHOOK_SECRET).update(rawBody).digest("hex");
  return typeof header === "string" && header.length === want.length &&
    crypto.timingSafeEqual(Buffer.from(header), Buffer.from(want));
}`,
		},
	}
}
