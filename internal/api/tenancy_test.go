package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// TestOtherCompanySeesNoDeliveries checks that company B can neither list,
// read, redeliver nor recover the deliveries of company A's webhook, even
// knowing their ids, and that what it gets back names nothing of A's;
// company A can, which shows that the 404s are B's.
func TestOtherCompanySeesNoDeliveries(t *testing.T) {
	t.Parallel()
	b := setupDelivery(t)

	// A 410 disables the webhook and parks the delivery in DEAD: one
	// attempt to read and one dead letter to redeliver.
	gone := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusGone)
	}))
	gone.Listener.Close()
	gone.Listener = listenAllowed(t)
	gone.Start()
	t.Cleanup(gone.Close)
	w, deliveryID := b.hook(t, gone.URL+"/hook")

	dead, err := b.n.JS.Stream(t.Context(), stream.Dead)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() bool {
		_, err := dead.GetLastMsgForSubject(t.Context(), stream.DeadSubject(b.coA, w.ID, deliveryID))
		return err == nil
	}, "the delivery is parked in DEAD")
	testenv.Eventually(t, 20*time.Second, func() bool {
		code, _ := b.do(t, http.MethodGet, "/v1/deliveries/"+deliveryID, b.tokA, nil)
		return code == http.StatusOK
	}, "company A reads its delivery")

	since := map[string]any{"since": time.Now().Add(-time.Hour)}
	tests := []struct {
		name, method, path string
		body               any
	}{
		{name: "list", method: http.MethodGet, path: "/v1/webhooks/" + w.ID + "/deliveries"},
		{name: "get", method: http.MethodGet, path: "/v1/deliveries/" + deliveryID},
		{name: "redeliver", method: http.MethodPost, path: "/v1/deliveries/" + deliveryID + "/redeliver"},
		{name: "recover", method: http.MethodPost, path: "/v1/webhooks/" + w.ID + "/recover", body: since},
	}
	for _, tc := range tests {
		code, body := b.do(t, tc.method, tc.path, b.tokB, tc.body)
		if code != http.StatusNotFound {
			t.Errorf("company B: %s %s = %d %s, want 404", tc.method, tc.path, code, body)
		}
		if bytes.Contains(body, []byte(b.coA)) || bytes.Contains(body, []byte("/hook")) {
			t.Errorf("company B: %s %s shows company A's data: %s", tc.method, tc.path, body)
		}
	}
	if code, body := b.do(t, http.MethodPost, "/v1/deliveries/"+deliveryID+"/redeliver", b.tokA, nil); code != http.StatusAccepted {
		t.Errorf("company A: redeliver = %d %s, want 202", code, body)
	}
}
