package attempt

import (
	"encoding/json"
	"testing"
	"time"
)

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 27, 23, 4, 5, 123456789, time.UTC)
	next := at.Add(5 * time.Second).In(time.FixedZone("CET", 3600))
	full := Record{
		DeliveryID: "dlv_6a1f0c00_0123456789abcdef_wh_1", WebhookID: "wh_1", CompanyID: "co_1",
		EventID: "evt_1", EventType: "TODO_CREATED", Attempt: 3, At: at, Outcome: Retry,
		StatusCode: 503, LatencyMs: 12.345, ErrorClass: "http_status", Error: "503 Service Unavailable",
		Response: "<html>\"busy\"\n\x00 \xff é</html>", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", NextAttemptAt: &next,
		Request: Request{
			Timestamp: 1795820645, Signature: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= v1,Lrc3Gd8bqLHz3Q==",
			XSignature: "b0c6e1f5", XSignatureNext: "a1b2 c3d4", Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			UserAgent: "Blue-Webhooks/1.0 <\"q\">", BodySHA256: "e3b0c44298fc1c149afbf4c8996fb924",
		},
	}
	for name, r := range map[string]Record{
		"zero":                          {},
		"delivered":                     {DeliveryID: "d", WebhookID: "w", EventID: "e", EventType: "T", Attempt: 1, At: at, Outcome: Delivered, StatusCode: 200, LatencyMs: 0.412},
		"full":                          full,
		"request without the optional":  {Outcome: Delivered, Request: Request{Timestamp: 1, Signature: "v1,x", XSignature: "ab", UserAgent: "ua", BodySHA256: "00"}},
		"tiny latency and a local time": {Attempt: 7, At: at.In(time.FixedZone("", -7*3600)), LatencyMs: 1e-7, Outcome: Dead},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func BenchmarkRecordJSON(b *testing.B) {
	r := Record{DeliveryID: "dlv_6a1f0c00_0123456789abcdef_wh_1", WebhookID: "wh_1", EventID: "evt_1",
		EventType: "TODO_CREATED", Attempt: 1, At: time.Now().UTC(), Outcome: Delivered, StatusCode: 200, LatencyMs: 1.234}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = r.AppendJSON(make([]byte, 0, 256))
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(r)
		}
	})
}
