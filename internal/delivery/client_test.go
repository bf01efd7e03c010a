package delivery

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
)

// Post behaves as Client.Do does for a delivery: the body and headers
// arrive, redirects are returned, not followed, and the client's Timeout
// bounds the exchange, body included.
func TestPost(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			body, _ := io.ReadAll(r.Body)
			user, pass, _ := r.BasicAuth()
			w.Header().Set("X-Got", r.Method+" "+r.Header.Get("Webhook-Id")+" "+string(body)+" "+user+":"+pass)
			w.WriteHeader(http.StatusAccepted)
		case "/redirect":
			http.Redirect(w, r, "/echo", http.StatusFound)
		case "/hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/slow-body":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select { // the headers are out; the body never comes
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	client := NewClient(ClientConfig{Timeout: 300 * time.Millisecond, MaxConns: 4})
	at := func(path string) *url.URL {
		u, err := url.Parse(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	ctx := context.Background()

	u := at("/echo")
	u.User = url.UserPassword("ann", "s3cret")
	resp, err := Post(ctx, client, u, http.Header{"Webhook-Id": {"dlv_1"}}, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.Header.Get("X-Got"), `POST dlv_1 {"a":1} ann:s3cret`; resp.StatusCode != http.StatusAccepted || got != want {
		t.Errorf("echo: %d %q, want 202 %q", resp.StatusCode, got, want)
	}

	resp, err = Post(ctx, client, at("/redirect"), http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("redirect: %d, want 302 returned as is", resp.StatusCode)
	}

	resp, err = Post(ctx, client, at("/slow-body"), http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("reading a body that never ends: %v after %s, want the client's deadline", err, time.Since(start))
	}

	if _, err := Post(ctx, client, at("/hang"), http.Header{}, nil); classify(err) != attempt.ClassTimeout {
		t.Errorf("no answer: %v (class %q), want class %q", err, classify(err), attempt.ClassTimeout)
	}

	// Nothing listens on port 1 of a loopback address.
	_, err = Post(ctx, client, &url.URL{Scheme: "http", Host: "127.0.0.1:1", Path: "/"}, http.Header{}, nil)
	var ue *url.Error
	if !errors.As(err, &ue) || ue.Op != "Post" || classify(err) != attempt.ClassRefused {
		t.Errorf("refused connection: %v (class %q), want a *url.Error of class %q", err, classify(err), attempt.ClassRefused)
	}
}
