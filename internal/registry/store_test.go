package registry_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

func TestNewStoreNeedsBox(t *testing.T) {
	t.Parallel()
	if _, err := registry.NewStore(nil, registry.StoreConfig{}); err == nil {
		t.Error("NewStore without a Box: no error")
	}
}

func TestStoreCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	ctx := t.Context()
	co := testenv.ID("co")

	created, secret := mustCreate(t, s, newHook(co, "first"), "")
	if !strings.HasPrefix(created.ID, "wh_") || !webhook.ValidID(created.ID) || len(created.UID) != 32 {
		t.Errorf("id %q uid %q: want wh_... and 32 hex digits", created.ID, created.UID)
	}
	if !strings.HasPrefix(secret, "whsec_") {
		t.Errorf("generated secret %q, want whsec_...", secret)
	}
	if created.Status != webhook.StatusHealthy || created.CreatedAt.IsZero() || !created.CreatedAt.Equal(created.UpdatedAt) {
		t.Errorf("created %+v: want HEALTHY and createdAt == updatedAt", created)
	}
	if len(created.Secrets) != 1 || created.Secrets[0].ExpiresAt != nil {
		t.Errorf("secrets %+v, want one current sealed secret", created.Secrets)
	}

	got, err := s.Get(ctx, co, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != created.ID || got.Name != "first" || got.URL != created.URL || !got.Enabled || !slices.Equal(got.Events, created.Events) {
		t.Errorf("get %+v, want %+v", got, created)
	}
	plain, err := s.OpenSecrets(got, time.Now())
	if err != nil || !slices.Equal(plain, []string{secret}) {
		t.Errorf("OpenSecrets = %q, %v; want [%q]", plain, err, secret)
	}

	second, _ := mustCreate(t, s, newHook(co, "second"), "a-given-secret-of-some-length")
	other, _ := mustCreate(t, s, newHook(testenv.ID("co"), "other-company"), "")

	list, err := s.List(ctx, co)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range list {
		ids = append(ids, w.ID)
	}
	want := []string{created.ID, second.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("list %v, want %v sorted by id (and not %s)", ids, want, other.ID)
	}

	updatedBefore := got.UpdatedAt
	updated, err := s.Update(ctx, co, created.ID, func(w *webhook.Webhook) error {
		w.Name = "renamed"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Name != "renamed" || updated.UpdatedAt.Before(updatedBefore) || !updated.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("update returned %+v", updated)
	}
	if got, _ := s.Get(ctx, co, created.ID); got.Name != "renamed" || got.URL != created.URL {
		t.Errorf("after update get %+v", got)
	}

	// An error from change aborts and is returned as is; nothing is written.
	abort := errors.New("abort")
	if _, err := s.Update(ctx, co, created.ID, func(w *webhook.Webhook) error {
		w.Name = "never"
		return abort
	}); !errors.Is(err, abort) {
		t.Errorf("update with failing change: %v, want %v", err, abort)
	}
	if got, _ := s.Get(ctx, co, created.ID); got.Name != "renamed" {
		t.Errorf("aborted update wrote name %q", got.Name)
	}

	before, after, changed, err := s.Disable(ctx, co, created.ID, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if !changed || before == nil || !before.Enabled || before.Status != webhook.StatusHealthy || after.Enabled {
		t.Errorf("Disable = before %+v, after %+v, changed %v", before, after, changed)
	}
	if got, _ := s.Get(ctx, co, created.ID); got.Enabled || got.Status != webhook.StatusUnhealthy || got.DisabledReason != "gone" || got.DisabledAt == nil {
		t.Errorf("after Disable: %+v", got)
	}
	// Disabling again changes nothing and writes nothing.
	revBefore := revision(t, b, webhook.Key(co, created.ID))
	if before, after, changed, err := s.Disable(ctx, co, created.ID, "failing"); err != nil || changed || before != nil || after == nil || after.DisabledReason != "gone" {
		t.Errorf("second Disable = before %+v, after %+v, changed %v, %v; want unchanged", before, after, changed, err)
	}
	if rev := revision(t, b, webhook.Key(co, created.ID)); rev != revBefore {
		t.Errorf("second Disable wrote revision %d (was %d)", rev, revBefore)
	}

	if err := s.Delete(ctx, co, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, co, created.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}
	if list, _ := s.List(ctx, co); len(list) != 1 || list[0].ID != second.ID {
		t.Errorf("list after delete: %v, want only %s", list, second.ID)
	}
}

func revision(t *testing.T, b *bundle, key string) uint64 {
	t.Helper()
	e, err := b.kv.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return e.Revision()
}

// TestStoreUpdateUnchanged: a change function returning ErrUnchanged writes
// nothing and gets the stored webhook back.
func TestStoreUpdateUnchanged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	co := testenv.ID("co")
	w, _ := mustCreate(t, s, newHook(co, "same"), "")
	rev := revision(t, b, w.Key())
	got, err := s.Update(t.Context(), co, w.ID, func(w *webhook.Webhook) error {
		return fmt.Errorf("nothing to do: %w", registry.ErrUnchanged)
	})
	if err != nil || got == nil || got.Name != "same" || !got.UpdatedAt.Equal(w.UpdatedAt) {
		t.Errorf("Update = %+v, %v; want the unchanged webhook", got, err)
	}
	if r := revision(t, b, w.Key()); r != rev {
		t.Errorf("revision %d after an unchanged update, want %d", r, rev)
	}
}

func TestStoreNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	co := testenv.ID("co")
	w, _ := mustCreate(t, s, newHook(co, "exists"), "")
	tests := []struct {
		name      string
		companyID string
		id        string
	}{
		{name: "unknown id", companyID: co, id: webhook.NewID()},
		{name: "other company", companyID: testenv.ID("co"), id: w.ID},
		{name: "empty id", companyID: co, id: ""},
		{name: "empty company", companyID: "", id: w.ID},
		{name: "wildcard id", companyID: co, id: "*"},
		{name: "wildcard company", companyID: "*", id: w.ID},
		{name: "dotted id", companyID: co, id: "x." + w.ID},
		{name: "tail wildcard", companyID: co, id: ">"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				if _, err := s.Get(ctx, tc.companyID, tc.id); !errors.Is(err, webhook.ErrNotFound) {
					t.Errorf("Get: %v, want ErrNotFound", err)
				}
				if _, err := s.Update(ctx, tc.companyID, tc.id, func(*webhook.Webhook) error { return nil }); !errors.Is(err, webhook.ErrNotFound) {
					t.Errorf("Update: %v, want ErrNotFound", err)
				}
				if err := s.Delete(ctx, tc.companyID, tc.id); !errors.Is(err, webhook.ErrNotFound) {
					t.Errorf("Delete: %v, want ErrNotFound", err)
				}
				if _, _, _, err := s.Disable(ctx, tc.companyID, tc.id, "user"); !errors.Is(err, webhook.ErrNotFound) {
					t.Errorf("Disable: %v, want ErrNotFound", err)
				}
			})
		}
	})
	// None of that touched the real webhook.
	if got, err := s.Get(t.Context(), co, w.ID); err != nil || !got.Enabled {
		t.Errorf("the existing webhook: %+v, %v", got, err)
	}
}

func TestStoreListInvalidCompany(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	co := testenv.ID("co")
	mustCreate(t, s, newHook(co, "one"), "")
	for _, company := range []string{"", "*", ">", co + ".*", "a b"} {
		list, err := s.List(t.Context(), company)
		if err != nil || len(list) != 0 {
			t.Errorf("List(%q) = %d webhooks, %v; want none", company, len(list), err)
		}
	}
}

func TestStoreLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{MaxPerCompany: 3})
	co := testenv.ID("co")
	var ids []string
	for i := range 3 {
		w, _ := mustCreate(t, s, newHook(co, fmt.Sprint("hook", i)), "")
		ids = append(ids, w.ID)
	}
	if _, _, err := s.Create(t.Context(), newHook(co, "fourth"), ""); !errors.Is(err, webhook.ErrLimit) {
		t.Fatalf("fourth create: %v, want ErrLimit", err)
	}
	// Another company has its own allowance; a delete frees a place.
	mustCreate(t, s, newHook(testenv.ID("co"), "elsewhere"), "")
	if err := s.Delete(t.Context(), co, ids[0]); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, newHook(co, "after-delete"), "")
}

// TestStoreLimitConcurrent: the cap holds when creates race.
func TestStoreLimitConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const limit, writers = 3, 10
	s := b.store(t, registry.StoreConfig{MaxPerCompany: limit})
	co := testenv.ID("co")
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range writers {
		wg.Go(func() {
			<-start
			_, _, err := s.Create(t.Context(), newHook(co, fmt.Sprint("racer", i)), "")
			switch {
			case err == nil:
				mu.Lock()
				ok++
				mu.Unlock()
			case !errors.Is(err, webhook.ErrLimit):
				t.Errorf("create: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	list, err := s.List(t.Context(), co)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != ok {
		t.Errorf("%d creates succeeded but %d webhooks stored", ok, len(list))
	}
	if len(list) > limit {
		t.Errorf("%d webhooks stored with a cap of %d", len(list), limit)
	}
	if len(list) == 0 {
		t.Error("no create succeeded")
	}
}

// TestStoreUpdateConcurrent: compare-and-set loses no write when writers race.
func TestStoreUpdateConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	co := testenv.ID("co")
	w, _ := mustCreate(t, s, newHook(co, "contended"), "")
	const writers = 10
	start := make(chan struct{})
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			<-start
			_, err := s.Update(t.Context(), co, w.ID, func(w *webhook.Webhook) error {
				w.ProjectIDs = append(w.ProjectIDs, fmt.Sprint("p", i))
				return nil
			})
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	conflicts := 0
	for err := range errs {
		switch {
		case errors.Is(err, webhook.ErrConflict):
			conflicts++
		case err != nil:
			t.Errorf("update: %v", err)
		}
	}
	if conflicts > 0 {
		t.Errorf("%d of %d writers got ErrConflict: compare-and-set must retry until it wins", conflicts, writers)
	}
	got, err := s.Get(t.Context(), co, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got.ProjectIDs)
	var want []string
	for i := range writers {
		want = append(want, fmt.Sprint("p", i))
	}
	slices.Sort(want)
	if !slices.Equal(got.ProjectIDs, want) {
		t.Errorf("projectIds %v, want every writer's %v exactly once", got.ProjectIDs, want)
	}
}

// TestStoreNoPlainSecret: no revision of the record, and no part of the
// registry bucket, holds a plain secret.
func TestStoreNoPlainSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	co := testenv.ID("co")
	tests := []struct {
		name   string
		secret string
	}{
		{name: "generated"},
		{name: "given raw", secret: "customer-chosen-secret-1234"},
		{name: "given whsec", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, secret := mustCreate(t, s, newHook(co, strings.ReplaceAll(tc.name, " ", "-")), tc.secret)
			if tc.secret != "" && secret != tc.secret {
				t.Errorf("Create returned secret %q, want the given %q", secret, tc.secret)
			}
			// A later write keeps it sealed too.
			if _, err := s.Update(t.Context(), co, w.ID, func(w *webhook.Webhook) error { w.Name += "-v2"; return nil }); err != nil {
				t.Fatal(err)
			}
			hist, err := b.kv.History(t.Context(), w.Key())
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 2 {
				t.Errorf("%d revisions, want 2", len(hist))
			}
			for _, e := range hist {
				if bytes.Contains(e.Value(), []byte(secret)) {
					t.Errorf("revision %d holds the plain secret: %s", e.Revision(), e.Value())
				}
				if rest, ok := strings.CutPrefix(secret, "whsec_"); ok && bytes.Contains(e.Value(), []byte(rest)) {
					t.Errorf("revision %d holds the secret's base64", e.Revision())
				}
				// The stored JSON holds the sealed bytes in base64: decoded,
				// they must not be the secret either.
				var stored webhook.Webhook
				if err := json.Unmarshal(e.Value(), &stored); err != nil {
					t.Fatalf("revision %d: %v", e.Revision(), err)
				}
				if len(stored.Secrets) == 0 {
					t.Errorf("revision %d holds no secret", e.Revision())
				}
				for _, sec := range stored.Secrets {
					if bytes.Contains(sec.Sealed, []byte(secret)) {
						t.Errorf("revision %d holds the secret unsealed", e.Revision())
					}
				}
			}
			got, _ := s.Get(t.Context(), co, w.ID)
			if plain, err := s.OpenSecrets(got, time.Now()); err != nil || !slices.Equal(plain, []string{secret}) {
				t.Errorf("OpenSecrets = %q, %v; want [%q]", plain, err, secret)
			}
		})
	}
}

func TestOpenSecretsExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	now := time.Now()
	later, earlier := now.Add(time.Hour), now.Add(-time.Second)
	w := &webhook.Webhook{ID: "wh_x", Secrets: []webhook.Secret{
		s.SealSecret("current"),
		{Sealed: s.SealSecret("rotated-out").Sealed, ExpiresAt: &later},
		{Sealed: s.SealSecret("expired").Sealed, ExpiresAt: &earlier},
		{Sealed: s.SealSecret("expires-now").Sealed, ExpiresAt: &now},
	}}
	got, err := s.OpenSecrets(w, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"current", "rotated-out"}; !slices.Equal(got, want) {
		t.Errorf("OpenSecrets = %q, want %q", got, want)
	}
	w.Secrets = append(w.Secrets, webhook.Secret{Sealed: []byte("tampered, not sealed by this box")})
	if _, err := s.OpenSecrets(w, now); err == nil {
		t.Error("OpenSecrets of a tampered secret: no error")
	}
}

// TestStoreDeleteIsTombstone: Get, List and Create behave after a delete
// left a tombstone in the bucket.
func TestStoreDeleteIsTombstone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	co := testenv.ID("co")
	w, _ := mustCreate(t, s, newHook(co, "gone"), "")
	if err := s.Delete(t.Context(), co, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), co, w.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := b.kv.Get(t.Context(), w.Key()); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("raw KV get after delete: %v, want ErrKeyNotFound", err)
	}
	if list, err := s.List(t.Context(), co); err != nil || len(list) != 0 {
		t.Errorf("list after delete: %v, %v; want empty", list, err)
	}
}
