package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/webhook"
)

// ErrEventGone is returned by Event for an event EVENTS no longer holds
// near the time given (expired after EVENTS_MAX_AGE, or published long
// before, as a backfilled one was).
var ErrEventGone = errors.New("event not retained")

// How far around a delivery's first attempt Event looks for its event, and
// how much it reads.
const (
	eventLookBefore = 15 * time.Minute
	eventLookAfter  = time.Minute
	eventScanLimit  = 20000
)

// Event finds a retained event of the company by id and type, published
// around the time given (a delivery's first attempt). Errors: ErrEventGone.
func (in *Inspector) Event(ctx context.Context, companyID, eventType, eventID string, around time.Time) (event.Envelope, error) {
	if !webhook.ValidID(companyID) || !webhook.ValidID(eventID) || !validType(eventType) {
		return event.Envelope{}, ErrEventGone
	}
	var found *event.Envelope
	want, stop := []byte(eventID), around.Add(eventLookAfter)
	_, _, err := stream.Scan(ctx, in.js, stream.Events, stream.EventSubject(companyID, "*", eventType), stream.ScanFrom{Since: around.Add(-eventLookBefore)}, eventScanLimit, func(m jetstream.Msg) error {
		if md, err := m.Metadata(); err == nil && md.Timestamp.After(stop) {
			return errStopScan
		}
		if !bytes.Contains(m.Data(), want) {
			return nil
		}
		var e event.Envelope
		if json.Unmarshal(m.Data(), &e) == nil && e.ID == eventID {
			found = &e
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return event.Envelope{}, err
	}
	if found == nil {
		return event.Envelope{}, ErrEventGone
	}
	return *found, nil
}

// validType reports whether t can be a subject token: the catalogue's
// types are upper-case words joined by underscores.
func validType(t string) bool {
	if t == "" || len(t) > 64 {
		return false
	}
	for _, c := range []byte(t) {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
