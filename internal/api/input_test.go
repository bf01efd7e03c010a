package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// No input reaches a 5xx or an ERROR in the log: malformed bodies, query
// strings, ids and content types on every endpoint.
func TestNoInputIsAServerError(t *testing.T) {
	t.Parallel()
	f := setupFull(t)
	w := f.create(t, f.tokA, validBody("target"))
	hook := "/v1/webhooks/" + w.ID
	huge := strings.Repeat("A", 100_000)
	const jsonCT = "application/json"
	type input struct{ method, path, contentType, body string }
	post := func(path, body string) input { return input{http.MethodPost, path, jsonCT, body} }
	var inputs []input
	for _, body := range []string{
		`{`, `[]`, `null`, `"x"`, `1e999`, `{"name":1,"url":2}`, `{"name":"a\u0000b","url":"https://example.com/"}`,
		`{"name":"` + huge + `","url":"https://example.com/"}`, `{"name":"x","url":"` + huge + `"}`,
		`{"name":"x","url":"http://a\u0000b/"}`, `{"name":"x","url":"http://[::1"}`, `{"name":"x","url":"http://%zz/"}`,
		`{"name":"x","url":"https://example.com/","events":[1]}`, `{"name":"x","url":"https://example.com/","events":["` + huge + `"]}`,
		`{"name":"x","url":"https://example.com/","projectIds":["\u0000"]}`, `{"name":"x","url":"https://example.com/","filter":"(((("}`,
		`{"name":"x","url":"https://example.com/","filter":"` + huge + `"}`, `{"name":"x","url":"https://example.com/","rateLimit":"x"}`,
		`{"name":"x","url":"https://example.com/","rateLimit":1e309}`, `{"name":"x","url":"https://example.com/","maxConcurrency":1.5}`,
		`{"name":"x","url":"https://example.com/","maxConcurrency":1e20}`, `{"name":"x","url":"https://example.com/","enabled":"yes"}`,
		`{"name":"x","url":"https://example.com/","createdById":"` + huge + `"}`, `{"name":"x","url":"https://example.com/","secret":"` + huge + `"}`,
		`{"name":"x","url":"https://example.com/","extra":true}`, "{\"name\":\"\xff\xfe\",\"url\":\"https://example.com/\"}",
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	} {
		inputs = append(inputs, post("/v1/webhooks", body), input{http.MethodPatch, hook, jsonCT, body})
	}
	inputs = append(inputs,
		input{http.MethodPost, "/v1/webhooks", "text/plain", `{"name":"x","url":"https://example.com/"}`},
		input{http.MethodPost, "/v1/webhooks", "application/jsonfoo", `{"name":"x","url":"https://example.com/"}`},
		input{http.MethodPost, "/v1/webhooks", "application/cbor", `{"name":"x"}`},
		input{http.MethodPost, "/v1/webhooks", "a;b;c", `{}`},
		input{http.MethodPatch, hook, jsonCT, `{"rateLimit":null,"maxConcurrency":"x"}`},
	)
	for _, q := range []string{"limit=abc", "limit=-1", "limit=0", "limit=99999999999999999999", "cursor=" + huge[:5000], "cursor=%00", "cursor=%ff"} {
		inputs = append(inputs, input{http.MethodGet, "/v1/webhooks?" + q, "", ""})
	}
	for _, id := range []string{"%00", "..", "a.b", "*", "%3E", strings.Repeat("w", 65), "%C3%B1", "wh_unknown", "%ff"} {
		for _, m := range []string{http.MethodGet, http.MethodDelete} {
			inputs = append(inputs, input{m, "/v1/webhooks/" + id, "", ""})
		}
		inputs = append(inputs,
			input{http.MethodPatch, "/v1/webhooks/" + id, jsonCT, `{"name":"x"}`},
			input{http.MethodPost, "/v1/webhooks/" + id + "/test", "", ""},
			input{http.MethodPost, "/v1/webhooks/" + id + "/enable?replay=true", "", ""},
			input{http.MethodPost, "/v1/webhooks/" + id + "/rotate-secret", "", ""},
			post("/v1/webhooks/"+id+"/backfill", `{"since":"2020-01-01T00:00:00Z"}`),
			post("/v1/webhooks/"+id+"/recover", `{"since":"2020-01-01T00:00:00Z"}`),
			input{http.MethodGet, "/v1/webhooks/" + id + "/deliveries", "", ""},
			input{http.MethodGet, "/v1/deliveries/" + id, "", ""},
			input{http.MethodPost, "/v1/deliveries/" + id + "/redeliver", "", ""},
		)
	}
	for _, body := range []string{`{"overlap":"-1h"}`, `{"overlap":"9999999999999h"}`, `{"overlap":"` + huge + `"}`, `{"secret":"short"}`, `{"secret":"` + huge + `"}`, `{`, `[]`, `null`} {
		inputs = append(inputs, post(hook+"/rotate-secret", body))
	}
	for _, action := range []string{"backfill", "recover"} {
		for _, body := range []string{
			`{}`, `{"since":"0000-01-01T00:00:00Z"}`, `{"since":"0001-01-01T00:00:00Z"}`, `{"since":"yesterday"}`, `{"since":"9999-12-31T23:59:59Z"}`,
			`{"since":"2020-01-01T00:00:00Z","limit":0}`, `{"since":"2020-01-01T00:00:00Z","limit":-1}`, `{"since":"2020-01-01T00:00:00Z","limit":1e9}`,
			`{"since":"2020-01-01T00:00:00Z","limit":"x"}`, `{"since":"2020-01-01T00:00:00Z","cursor":7}`, `{`,
		} {
			inputs = append(inputs, post(hook+"/"+action, body))
		}
	}
	for _, q := range []string{"limit=0", "limit=1000", "limit=x"} {
		inputs = append(inputs, input{http.MethodGet, hook + "/deliveries?" + q, "", ""})
	}
	inputs = append(inputs,
		input{http.MethodPost, hook + "/enable?replay=maybe", "", ""},
		input{http.MethodGet, "/v1/deliveries/dlv_" + strings.Repeat("z", 40), "", ""},
		input{http.MethodPost, "/v1/deliveries/dlv_0000000000000000000000000000/redeliver", "", ""},
	)
	t.Run("cases", func(t *testing.T) {
		for i, in := range inputs {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				status, data := f.raw(t, in.method, in.path, f.tokA, in.contentType, in.body)
				if status >= 500 {
					t.Errorf("%s %.100s (%s) %.100q: status %d, want no server error; body %.300s", in.method, in.path, in.contentType, in.body, status, data)
				}
			})
		}
	})
	if n := f.errors.n.Load(); n != 0 {
		t.Errorf("the API logged %d errors for bad input", n)
	}
}
