package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ManagedKey marks, in a stream's metadata, a stream this code created.
// A stream without it was created by an operator (see reconcile).
const ManagedKey = "io.bluehq.webhooks/managed"

// asset is one stream of the topology; the registry bucket is its stream
// KV_webhooks.
type asset struct {
	label string                 // "stream EVENTS", in messages
	want  jetstream.StreamConfig // what start-up creates
	// dedup: publishers rely on the duplicate window (Nats-Msg-Id), so it
	// must be at least want.Duplicates.
	dedup bool
}

// ensureStream creates the stream if it is missing, else reconciles it,
// and logs one line when it differs from what this code would create.
func ensureStream(ctx context.Context, js jetstream.JetStream, a asset, log *slog.Logger) error {
	s, err := js.Stream(ctx, a.want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		created := a.want
		created.Metadata = map[string]string{ManagedKey: "true"}
		_, err = js.CreateStream(ctx, created)
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return explain(ctx, js, a, created, err)
		}
		// Another process created it since: reconcile what it made.
		s, err = js.Stream(ctx, a.want.Name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", a.label, err)
	}
	found := s.CachedInfo().Config
	next, err := reconcile(found, a)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(found, next) {
		if _, err := js.UpdateStream(ctx, next); err != nil {
			return explain(ctx, js, a, next, err)
		}
	}
	if line := describe(a, found, next); line != "" {
		log.InfoContext(ctx, line, "stream", a.want.Name)
	}
	return nil
}

// reconcile returns what an existing stream becomes. It is the one rule of
// start-up, for every stream and the bucket:
//
//   - Refused (an *IncompatibleError), since start-up cannot fix them: a
//     retention policy other than ours, memory storage where ours is file
//     storage (neither can change in place), a max age shorter than a
//     duplicate window publishers rely on.
//   - Replicas are never lowered: the larger of the stream's and ours
//     (STREAM_REPLICAS).
//   - What our code needs is added: our subjects, message schedules where
//     we use them (with roll-ups; discard new is refused), message TTLs
//     where keys expire, a duplicate window at least ours where we rely
//     on it.
//   - Limits (max age, bytes, messages, history, message size, discard
//     policy, duplicate window, the KV flags) are ours on a stream we
//     created (ManagedKey in its metadata), so EVENTS_MAX_AGE and the like
//     apply; on a stream an operator created they stay the operator's.
//   - Everything else (description, placement, compression, metadata, ...)
//     stays as it is.
func reconcile(found jetstream.StreamConfig, a asset) (jetstream.StreamConfig, error) {
	want := a.want
	refuse := func(format string, args ...any) (jetstream.StreamConfig, error) {
		return found, &IncompatibleError{Msg: a.label + ": " + fmt.Sprintf(format, args...)}
	}
	if found.Retention != want.Retention {
		return refuse("retention is %s, needs %s; recreate it with %s retention, or delete it and let start-up create it",
			retention(found), retention(want), retention(want))
	}
	if found.Storage == jetstream.MemoryStorage && want.Storage == jetstream.FileStorage {
		return refuse("storage is memory, needs file (what was acknowledged must survive a server restart); recreate it with file storage, or delete it and let start-up create it")
	}
	next := found
	next.Subjects = slices.Clone(found.Subjects)
	next.Metadata = maps.Clone(found.Metadata)
	if _, ours := found.Metadata[ManagedKey]; ours {
		next.MaxAge, next.MaxBytes, next.MaxMsgs = want.MaxAge, want.MaxBytes, want.MaxMsgs
		next.MaxMsgsPerSubject, next.MaxMsgSize, next.Discard = want.MaxMsgsPerSubject, want.MaxMsgSize, want.Discard
		next.Duplicates = want.Duplicates
		next.AllowRollup, next.DenyDelete, next.AllowDirect = want.AllowRollup, want.DenyDelete, want.AllowDirect
	}
	next.Replicas = max(found.Replicas, want.Replicas)
	for _, subj := range want.Subjects {
		if !slices.Contains(next.Subjects, subj) {
			next.Subjects = append(next.Subjects, subj)
		}
	}
	if want.AllowMsgTTL {
		next.AllowMsgTTL = true // keys with a TTL (the portal bucket)
	}
	if want.AllowMsgSchedules {
		// Schedules also need roll-ups (the server turns them on itself)
		// and discard old.
		if next.Discard == jetstream.DiscardNew {
			return refuse("discard is new, but message schedules (retries) need discard old; set its discard policy to old")
		}
		next.AllowMsgSchedules, next.AllowRollup, next.DenyPurge = true, true, false
	}
	if a.dedup {
		next.Duplicates = max(next.Duplicates, want.Duplicates)
		if next.MaxAge > 0 && next.MaxAge < next.Duplicates {
			return refuse("max_age is %s, shorter than the %s duplicate window publishers rely on; raise its max age to at least %s",
				duration(next.MaxAge), duration(next.Duplicates), duration(next.Duplicates))
		}
	}
	return next, nil
}

// fields are what describe compares, as the nats CLI names them.
var fields = []struct {
	name string
	get  func(c *jetstream.StreamConfig) string
}{
	{"subjects", func(c *jetstream.StreamConfig) string {
		return strings.Join(slices.Sorted(slices.Values(c.Subjects)), ",")
	}},
	{"retention", func(c *jetstream.StreamConfig) string { return retention(*c) }},
	{"storage", func(c *jetstream.StreamConfig) string { return strings.ToLower(c.Storage.String()) }},
	{"replicas", func(c *jetstream.StreamConfig) string { return strconv.Itoa(c.Replicas) }},
	{"max_age", func(c *jetstream.StreamConfig) string { return duration(c.MaxAge) }},
	{"max_bytes", func(c *jetstream.StreamConfig) string { return strconv.FormatInt(c.MaxBytes, 10) }},
	{"max_msgs", func(c *jetstream.StreamConfig) string { return strconv.FormatInt(c.MaxMsgs, 10) }},
	{"max_msgs_per_subject", func(c *jetstream.StreamConfig) string { return strconv.FormatInt(c.MaxMsgsPerSubject, 10) }},
	{"max_msg_size", func(c *jetstream.StreamConfig) string { return strconv.FormatInt(int64(c.MaxMsgSize), 10) }},
	{"discard", func(c *jetstream.StreamConfig) string {
		return strings.TrimPrefix(strings.ToLower(c.Discard.String()), "discard")
	}},
	{"duplicates", func(c *jetstream.StreamConfig) string { return duration(c.Duplicates) }},
	{"allow_msg_schedules", func(c *jetstream.StreamConfig) string { return strconv.FormatBool(c.AllowMsgSchedules) }},
	{"allow_msg_ttl", func(c *jetstream.StreamConfig) string { return strconv.FormatBool(c.AllowMsgTTL) }},
	{"allow_rollup", func(c *jetstream.StreamConfig) string { return strconv.FormatBool(c.AllowRollup) }},
	{"deny_delete", func(c *jetstream.StreamConfig) string { return strconv.FormatBool(c.DenyDelete) }},
	{"allow_direct", func(c *jetstream.StreamConfig) string { return strconv.FormatBool(c.AllowDirect) }},
}

// describe says, in one line, how the stream found differs from what we
// would create, and what start-up kept and changed; "" when it does not
// differ.
func describe(a asset, found, next jetstream.StreamConfig) string {
	var differ, kept, changed []string
	for _, f := range fields {
		was := f.get(&found)
		if was == f.get(&a.want) {
			continue
		}
		differ = append(differ, f.name+"="+was)
		if now := f.get(&next); now != was {
			changed = append(changed, f.name+" to "+now)
		} else {
			kept = append(kept, f.name)
		}
	}
	if len(differ) == 0 {
		return ""
	}
	origin := "pre-created (no " + ManagedKey + " in its metadata)"
	if _, ours := found.Metadata[ManagedKey]; ours {
		origin = "created by webhooks"
	}
	line := a.label + ": " + origin + "; found " + strings.Join(differ, " ")
	switch {
	case len(changed) == 0:
		line += "; kept them"
	case len(kept) > 0:
		line += "; kept " + strings.Join(kept, " ")
	}
	if len(changed) > 0 {
		line += "; changed " + strings.Join(changed, ", ")
	}
	return line
}

// JetStream API error codes start-up explains.
const (
	codeNoPeers              jetstream.ErrorCode = 10005
	codeInsufficientResource jetstream.ErrorCode = 10023
	codeSubjectOverlap       jetstream.ErrorCode = 10065
	codeReplicasNotSupported jetstream.ErrorCode = 10074
)

// explain turns the server's refusal to create or update sc into an error
// that says what to do; nil stays nil.
func explain(ctx context.Context, js jetstream.JetStream, a asset, sc jetstream.StreamConfig, err error) error {
	var apiErr *jetstream.APIError
	if err == nil || !errors.As(err, &apiErr) {
		if err != nil {
			err = fmt.Errorf("%s: %w", a.label, err)
		}
		return err
	}
	switch apiErr.ErrorCode {
	case codeSubjectOverlap:
		others := overlapping(ctx, js, sc)
		return &IncompatibleError{Err: err, Msg: fmt.Sprintf(
			"%s: subjects %s overlap those of stream %s; remove them from %s (a subject can belong to one stream only)",
			a.label, strings.Join(sc.Subjects, ","), others, others)}
	case codeReplicasNotSupported:
		return &IncompatibleError{Err: err, Msg: fmt.Sprintf(
			"%s: STREAM_REPLICAS=%d but the NATS server is not clustered (one server keeps 1 replica); set STREAM_REPLICAS=1, or run a JetStream cluster",
			a.label, sc.Replicas)}
	case codeNoPeers, codeInsufficientResource:
		// Servers are what the cluster advertises to clients. More replicas
		// than servers is a setting to change; fewer may be a cluster still
		// forming, worth the caller's retries.
		servers := len(js.Conn().Servers())
		if sc.Replicas > servers {
			return &IncompatibleError{Err: err, Msg: fmt.Sprintf(
				"%s: STREAM_REPLICAS=%d but the NATS cluster has %d servers (server: %s); set STREAM_REPLICAS to at most %d, or add JetStream servers",
				a.label, sc.Replicas, servers, apiErr.Description, servers)}
		}
		return fmt.Errorf("%s: the NATS cluster could not place %d replicas: %w", a.label, sc.Replicas, err)
	}
	return fmt.Errorf("%s: %w", a.label, err)
}

// overlapping names the other streams whose subjects collide with sc's.
func overlapping(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) string {
	var names []string
	for _, subj := range sc.Subjects {
		l := js.StreamNames(ctx, jetstream.WithStreamListSubject(subj))
		for name := range l.Name() {
			if name != sc.Name && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	if len(names) == 0 {
		return "(another stream)"
	}
	return strings.Join(names, ",")
}

// retention is "limits", "interest" or "workqueue", as the nats CLI says.
func retention(c jetstream.StreamConfig) string { return strings.ToLower(c.Retention.String()) }

// duration prints 72h, not 72h0m0s.
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
