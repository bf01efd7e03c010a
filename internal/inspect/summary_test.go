package inspect

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
)

// summaryLines are records as the deliverers write them, and some they do
// not write, which decodeSummary hands to encoding/json.
func summaryLines() []string {
	at := time.Date(2026, 11, 27, 23, 4, 5, 123456789, time.UTC)
	next := at.Add(5 * time.Second)
	var lines []string
	for _, r := range []attempt.Record{
		{DeliveryID: "dlv_1", WebhookID: "wh_1", EventID: "evt_1", EventType: "TODO_CREATED", Attempt: 1, At: at, Outcome: attempt.Delivered, StatusCode: 200, LatencyMs: 0.412},
		{DeliveryID: "dlv_2", WebhookID: "wh_1", EventID: "evt_2", EventType: "TODO_CREATED", Attempt: 3, At: at, Outcome: attempt.Retry,
			StatusCode: 503, LatencyMs: 1e-7, ErrorClass: "http_status", Error: "503 Service Unavailable",
			Response: "<html>\"busy\"\n\\ {[}] é</html>", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", NextAttemptAt: &next,
			Request: attempt.Request{Timestamp: 1795820645, Signature: "v1,a= v1,b=", XSignature: "ab", UserAgent: "x \"{\" y", BodySHA256: "00"}},
		{DeliveryID: "dlv_3", Outcome: attempt.Parked, At: at.In(time.FixedZone("", -7*3600))},
		{},
	} {
		lines = append(lines, string(r.AppendJSON(nil)))
	}
	return append(lines,
		`{"deliveryId":"dlv_\u0034","at":"2026-11-27T23:04:05Z","outcome":"dead"}`,
		`{"deliveryId":"dlv_5","statusCode":null,"latencyMs":2}`,
		` {"outcome" : "retry", "latencyMs": 1.5e3}`,
		`{"deliveryId":"dlv_6","extra":[1,{"a":"]"}],"outcome":"delivered"}`,
		`{"deliveryId":"dlv_7"} trailing`,
		`not json`, `{`, `{"at":"yesterday"}`, "",
	)
}

// decodeSummary reads what encoding/json reads, or leaves the record to it.
func TestDecodeSummaryAgreesWithEncodingJSON(t *testing.T) {
	for _, line := range summaryLines() {
		checkSummary(t, line)
	}
}

func FuzzDecodeSummary(f *testing.F) {
	for _, line := range summaryLines() {
		f.Add(line)
	}
	f.Fuzz(checkSummary)
}

func checkSummary(t *testing.T, line string) {
	var got summary
	if !decodeSummary([]byte(line), &got) {
		return // encoding/json decodes it
	}
	var want summary
	if json.Unmarshal([]byte(line), &want) != nil {
		return // not a record: what decodeSummary makes of it does not matter
	}
	if !got.At.Equal(want.At) || got.At.Location().String() != want.At.Location().String() {
		t.Errorf("%q: at %v, want %v", line, got.At, want.At)
	}
	got.At, want.At = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("%q:\n got %+v\nwant %+v", line, got, want)
	}
}
