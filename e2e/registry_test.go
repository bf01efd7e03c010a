package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/pkg/verify"
)

// startWebhookd runs the single-process deployment for one company.
func startWebhookd(t *testing.T, extra ...string) (client, string, *proc) {
	company, token := testenv.ID("co"), testenv.ID("tok")
	apiAddr, pubAddr := freeAddr(t), freeAddr(t)
	env := append([]string{
		"DATA_DIR=" + t.TempDir(), "NATS_URL=", "REDIS_URL=" + testenv.RedisURL(), "REDIS_KEY_PREFIX=" + testenv.RedisPrefix(t, "e2e"),
		"WEBHOOKS_API_TOKENS=" + token + "=" + company + ",other-token=someone-else",
		"DELIVERY_ALLOWED_CIDRS=127.0.0.0/8", "API_ADDR=" + apiAddr, "PUBLISHER_ADDR=" + pubAddr,
	}, extra...)
	p := start(t, "webhookd", "webhookd", env)
	waitHTTP(t, "http://"+apiAddr+"/readyz")
	return client{apiURL: "http://" + apiAddr, ingestURL: "http://" + pubAddr, apiToken: token}, company, p
}

func eventIDs(rs []received) map[string]bool {
	out := map[string]bool{}
	for _, r := range rs {
		id, _ := r.ids()
		out[id] = true
	}
	return out
}

func todoIn(t testing.TB, company, list string, tags ...string) map[string]any {
	e := makeEvents(t, 1, []string{company}, []string{"p1"})[0]
	e["type"] = "TODO_CREATED"
	tagList := []any{}
	for _, tag := range tags {
		tagList = append(tagList, map[string]any{"id": "tg_" + tag, "tag": map[string]any{"id": tag, "title": tag}})
	}
	e["currentValue"] = map[string]any{"id": "todo1", "title": "x", "todoList": map[string]any{"id": list, "title": list}, "todoTags": tagList}
	e["previousValue"] = nil
	return e
}

func TestFiltersSelectExactly(t *testing.T) {
	t.Parallel()
	c, company, _ := startWebhookd(t)
	rc := newReceiver(t)
	code, body := c.do(t, http.MethodPost, c.apiURL+"/v1/webhooks", c.apiToken, map[string]any{"name": "bad", "url": rc.srv.URL + "/x", "filter": "event.currentValue.todoList.id =="})
	if code != http.StatusBadRequest || !strings.Contains(string(body), "body.filter") {
		t.Errorf("invalid filter: %d %s, want 400 naming body.filter", code, body)
	}
	code, body = c.do(t, http.MethodPost, c.apiURL+"/v1/webhooks", c.apiToken, map[string]any{"name": "bad", "url": rc.srv.URL + "/x", "filter": "event.type"})
	if code != http.StatusBadRequest || !strings.Contains(string(body), "bool") {
		t.Errorf("non-bool filter: %d %s, want 400 saying it must be bool", code, body)
	}
	c.createHook(t, c.apiToken, company, map[string]any{"name": "list L1", "url": rc.srv.URL + "/l1", "filter": `event.currentValue.todoList.id == "L1"`})
	c.createHook(t, c.apiToken, company, map[string]any{"name": "urgent", "url": rc.srv.URL + "/urgent", "filter": `has(event.currentValue.todoTags) && event.currentValue.todoTags.exists(t, t.tag.title == "urgent")`})
	evs := []map[string]any{todoIn(t, company, "L1"), todoIn(t, company, "L2", "urgent"), todoIn(t, company, "L1", "urgent", "later"), todoIn(t, company, "L3", "later")}
	c.publish(t, evs)
	want := map[string]map[string]bool{
		"/l1":     {evs[0]["id"].(string): true, evs[2]["id"].(string): true},
		"/urgent": {evs[1]["id"].(string): true, evs[2]["id"].(string): true},
	}
	testenv.Eventually(t, 20*time.Second, func() bool {
		return len(arrivals(rc, "/l1")) >= 2 && len(arrivals(rc, "/urgent")) >= 2
	}, "filtered deliveries")
	// Something published after them, to every webhook, marks the end.
	marker := todoIn(t, company, "L1", "urgent")
	c.publish(t, []map[string]any{marker})
	testenv.Eventually(t, 20*time.Second, func() bool {
		return eventIDs(arrivals(rc, "/l1"))[marker["id"].(string)] && eventIDs(arrivals(rc, "/urgent"))[marker["id"].(string)]
	}, "marker")
	for path, ids := range want {
		got := eventIDs(arrivals(rc, path))
		delete(got, marker["id"].(string))
		if len(got) != len(ids) {
			t.Errorf("%s got events %v, want exactly %v", path, got, ids)
		}
		for id := range ids {
			if !got[id] {
				t.Errorf("%s missed %s", path, id)
			}
		}
	}
}

func TestRotationTestAndBackfill(t *testing.T) {
	t.Parallel()
	c, company, _ := startWebhookd(t)
	rc := newReceiver(t)
	h := c.createHook(t, c.apiToken, company, map[string]any{"name": "rot", "url": rc.srv.URL + "/rot", "events": []string{"TODO_CREATED"}})
	all := c.createHook(t, c.apiToken, company, map[string]any{"name": "all", "url": rc.srv.URL + "/all"})

	// A secret that Standard Webhooks libraries decode differently (URL-safe
	// base64 after whsec_) is refused, without being repeated.
	const urlSafe = "whsec_-_8-AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0="
	code, body := c.do(t, http.MethodPost, c.apiURL+"/v1/webhooks/"+h.ID+"/rotate-secret", c.apiToken, map[string]any{"secret": urlSafe})
	if code != http.StatusBadRequest || !strings.Contains(string(body), "body.secret") || strings.Contains(string(body), urlSafe[6:]) {
		t.Errorf("rotate to a URL-safe whsec_ secret: %d %s, want 400 naming body.secret", code, body)
	}

	// Rotation: two signatures during the overlap, each valid with one secret.
	code, body = c.do(t, http.MethodPost, c.apiURL+"/v1/webhooks/"+h.ID+"/rotate-secret", c.apiToken, map[string]any{"overlap": "3s"})
	if code != http.StatusOK {
		t.Fatalf("rotate: %d %s", code, body)
	}
	var rot struct {
		Secret                  string    `json:"secret"`
		PreviousSecretExpiresAt time.Time `json:"previousSecretExpiresAt"`
	}
	_ = json.Unmarshal(body, &rot)
	if !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == h.Secret {
		t.Fatalf("rotate returned secret %q", rot.Secret)
	}
	c.publish(t, []map[string]any{todoIn(t, company, "L1")})
	testenv.Eventually(t, 20*time.Second, func() bool { return len(arrivals(rc, "/rot")) == 1 }, "delivery during overlap")
	r := arrivals(rc, "/rot")[0]
	if n := len(strings.Fields(r.header.Get("webhook-signature"))); n != 2 {
		t.Errorf("during the overlap: %d webhook-signature entries, want 2", n)
	}
	for _, secret := range []string{h.Secret, rot.Secret} {
		v, _ := verify.New(secret)
		if err := v.Verify(r.header, r.body); err != nil {
			t.Errorf("during the overlap, secret %.10s... does not verify: %v", secret, err)
		}
	}
	// X-Signature stays the old secret's, so an unchanged verifier keeps
	// working; X-Signature-Next is the new secret's.
	if got, want := r.header.Get("X-Signature"), verify.XSignature(h.Secret, r.body); got != want {
		t.Errorf("during the overlap: X-Signature %s, want the old secret's %s", got, want)
	}
	if got, want := r.header.Get("X-Signature-Next"), verify.XSignature(rot.Secret, r.body); got != want {
		t.Errorf("during the overlap: X-Signature-Next %q, want the new secret's %s", got, want)
	}
	newHook := hook{ID: h.ID, Secret: rot.Secret}
	checkDelivery(t, hook{ID: h.ID, Secret: h.Secret}, r) // X-Signature with the old secret
	checkDelivery(t, newHook, r)                          // X-Signature-Next with the new one
	var got struct {
		Secret *string `json:"secret"`
	}
	c.getJSON(t, "/v1/webhooks/"+h.ID, &got)
	if got.Secret != nil {
		t.Errorf("GET after rotation returned a secret")
	}
	if rot.PreviousSecretExpiresAt.IsZero() {
		t.Fatal("rotate with an overlap returned no previousSecretExpiresAt")
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return time.Now().After(rot.PreviousSecretExpiresAt) }, "the 3 s overlap to end")
	c.publish(t, []map[string]any{todoIn(t, company, "L1")})
	testenv.Eventually(t, 20*time.Second, func() bool { return len(arrivals(rc, "/rot")) == 2 }, "delivery after overlap")
	r = arrivals(rc, "/rot")[1]
	if n := len(strings.Fields(r.header.Get("webhook-signature"))); n != 1 {
		t.Errorf("after the overlap: %d webhook-signature entries, want 1", n)
	}
	if got, want := r.header.Get("X-Signature"), verify.XSignature(rot.Secret, r.body); got != want {
		t.Errorf("after the overlap: X-Signature %s, want the new secret's %s", got, want)
	}
	if next, ok := r.header["X-Signature-Next"]; ok {
		t.Errorf("after the overlap: X-Signature-Next %q, want none", next)
	}
	checkDelivery(t, newHook, r)

	// Test: WEBHOOK_TEST to this webhook only.
	code, body = c.do(t, http.MethodPost, c.apiURL+"/v1/webhooks/"+h.ID+"/test", c.apiToken, nil)
	if code != http.StatusAccepted {
		t.Fatalf("test: %d %s", code, body)
	}
	var tr struct {
		DeliveryID string `json:"deliveryId"`
	}
	_ = json.Unmarshal(body, &tr)
	testenv.Eventually(t, 20*time.Second, func() bool { return len(arrivals(rc, "/rot")) == 3 }, "the test delivery")
	r = arrivals(rc, "/rot")[2]
	if r.header.Get("webhook-id") != tr.DeliveryID || r.header.Get("X-Webhook-Event") != "WEBHOOK_TEST" {
		t.Errorf("test delivery: webhook-id %s event %s, want %s WEBHOOK_TEST", r.header.Get("webhook-id"), r.header.Get("X-Webhook-Event"), tr.DeliveryID)
	}
	checkDelivery(t, newHook, r)
	for _, a := range arrivals(rc, "/all") {
		if a.header.Get("X-Webhook-Event") == "WEBHOOK_TEST" {
			t.Errorf("the test event reached another webhook")
		}
	}
	if code, _ := c.do(t, http.MethodPost, c.apiURL+"/v1/webhooks/"+h.ID+"/test", "other-token", nil); code != http.StatusNotFound {
		t.Errorf("another company's token testing the webhook: %d, want 404", code)
	}

	// Backfill: a webhook created now gets the history since a time.
	since := time.Now().Add(-time.Hour)
	late := c.createHook(t, c.apiToken, company, map[string]any{"name": "late", "url": rc.srv.URL + "/late", "events": []string{"TODO_CREATED"}})
	code, body = c.do(t, http.MethodPost, c.apiURL+"/v1/webhooks/"+late.ID+"/backfill", c.apiToken, map[string]any{"since": since})
	if code != http.StatusAccepted {
		t.Fatalf("backfill: %d %s", code, body)
	}
	var bf struct {
		Queued int `json:"queued"`
	}
	_ = json.Unmarshal(body, &bf)
	if bf.Queued != 2 {
		t.Errorf("backfill queued %d, want the 2 TODO_CREATED events published before (%s)", bf.Queued, body)
	}
	testenv.Eventually(t, 20*time.Second, func() bool { return len(arrivals(rc, "/late")) == 2 }, "backfilled deliveries")
	orig := map[string]string{}
	for _, a := range arrivals(rc, "/rot")[:2] {
		id, _ := a.ids()
		orig[id] = a.header.Get("webhook-id")
	}
	for _, a := range arrivals(rc, "/late") {
		id, _ := a.ids()
		if _, ok := orig[id]; !ok {
			t.Errorf("backfill sent event %s, not one from the history", id)
		}
		checkDelivery(t, late, a)
	}
	// The same call again queues nothing new (deduplicated).
	code, _ = c.do(t, http.MethodPost, c.apiURL+"/v1/webhooks/"+late.ID+"/backfill", c.apiToken, map[string]any{"since": since})
	if code != http.StatusAccepted {
		t.Fatalf("backfill again: %d", code)
	}
	marker := todoIn(t, company, "L9")
	c.publish(t, []map[string]any{marker})
	testenv.Eventually(t, 20*time.Second, func() bool { return eventIDs(arrivals(rc, "/late"))[marker["id"].(string)] }, "marker")
	if n := len(arrivals(rc, "/late")); n != 3 {
		t.Errorf("after repeating the backfill: %d deliveries, want 3 (2 backfilled once + marker)", n)
	}
	_ = all
}

func TestAPIChangesApplyToLaterEvents(t *testing.T) {
	t.Parallel()
	c, company, _ := startWebhookd(t)
	rc := newReceiver(t)
	h := c.createHook(t, c.apiToken, company, map[string]any{"name": "scoped", "url": rc.srv.URL + "/s", "events": []string{"COMMENT_CREATED"}})
	for round := range 5 {
		// Narrow to TODO_CREATED, publish right after the PATCH returns.
		if code, body := c.do(t, http.MethodPatch, c.apiURL+"/v1/webhooks/"+h.ID, c.apiToken, map[string]any{"events": []string{"TODO_CREATED"}}); code != http.StatusOK {
			t.Fatalf("patch: %d %s", code, body)
		}
		e := todoIn(t, company, "L1")
		c.publish(t, []map[string]any{e})
		testenv.Eventually(t, 20*time.Second, func() bool { return eventIDs(arrivals(rc, "/s"))[e["id"].(string)] }, "round %d: event after PATCH delivered", round)
		// Widen away again: the next TODO_CREATED must not arrive.
		if code, _ := c.do(t, http.MethodPatch, c.apiURL+"/v1/webhooks/"+h.ID, c.apiToken, map[string]any{"events": []string{"COMMENT_CREATED"}}); code != http.StatusOK {
			t.Fatal("patch back")
		}
		e2 := todoIn(t, company, "L1")
		c.publish(t, []map[string]any{e2})
		probe := c.createHook(t, c.apiToken, company, map[string]any{"name": "probe", "url": rc.srv.URL + "/probe"})
		m := todoIn(t, company, "L1")
		c.publish(t, []map[string]any{m})
		testenv.Eventually(t, 20*time.Second, func() bool { return eventIDs(arrivals(rc, "/probe"))[m["id"].(string)] }, "probe created before publish gets it")
		if eventIDs(arrivals(rc, "/s"))[e2["id"].(string)] {
			t.Fatalf("round %d: event published after the scope change still delivered", round)
		}
		c.do(t, http.MethodDelete, c.apiURL+"/v1/webhooks/"+probe.ID, c.apiToken, nil)
	}
}
