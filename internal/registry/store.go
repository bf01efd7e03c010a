// Package registry is the record of customers' webhooks: the JetStream KV
// store that management writes go to (Store) and the cached resolution the
// dispatcher and deliverers read through (Cache).
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/seal"
	"github.com/bluehq/webhooks/internal/signing"
	"github.com/bluehq/webhooks/internal/webhook"
)

// Invalidator drops a company's entry from a shared cache tier after a write.
type Invalidator interface {
	Invalidate(ctx context.Context, companyID string) error
}

// Store reads and writes webhooks in the KV bucket.
type Store struct {
	kv          jetstream.KeyValue
	box         *seal.Box
	invalidator Invalidator // may be nil
	limit       int
}

// StoreConfig configures a Store.
type StoreConfig struct {
	Box *seal.Box
	// Invalidator is told of every write (the Redis tier); may be nil.
	Invalidator Invalidator
	// MaxPerCompany caps the webhooks of one company (0: no cap).
	MaxPerCompany int
}

// NewStore returns a Store over the registry bucket.
func NewStore(kv jetstream.KeyValue, cfg StoreConfig) (*Store, error) {
	if cfg.Box == nil {
		return nil, errors.New("registry: StoreConfig.Box is required")
	}
	return &Store{kv: kv, box: cfg.Box, invalidator: cfg.Invalidator, limit: cfg.MaxPerCompany}, nil
}

// SealSecret encrypts a plain secret for storage.
func (s *Store) SealSecret(plain string) webhook.Secret {
	return webhook.Secret{Sealed: s.box.Seal([]byte(plain))}
}

// Create stores a new webhook with a fresh id and the given plain secret
// (generated when empty). It returns the stored record and the plain secret,
// which is never readable again. Errors: webhook.ErrLimit.
func (s *Store) Create(ctx context.Context, w *webhook.Webhook, secret string) (*webhook.Webhook, string, error) {
	if s.limit > 0 {
		existing, err := s.List(ctx, w.CompanyID)
		if err != nil {
			return nil, "", err
		}
		if len(existing) >= s.limit {
			return nil, "", fmt.Errorf("%w: a company may have at most %d webhooks", webhook.ErrLimit, s.limit)
		}
	}
	if secret == "" {
		var err error
		if secret, err = signing.NewSecret(); err != nil {
			return nil, "", err
		}
	}
	now := time.Now().UTC()
	w.ID = webhook.NewID()
	w.UID = webhook.NewUID()
	w.Secrets = []webhook.Secret{s.SealSecret(secret)}
	w.CreatedAt, w.UpdatedAt = now, now
	if w.Status == "" {
		w.Status = webhook.StatusHealthy
	}
	data, err := json.Marshal(w)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.kv.Create(ctx, w.Key(), data); err != nil {
		return nil, "", fmt.Errorf("registry: create %s: %w", w.ID, err)
	}
	s.invalidate(ctx, w.CompanyID)
	if s.limit > 0 {
		// Concurrent creates may all pass the check above: the oldest ids
		// win, and a create beyond the limit is undone.
		all, err := s.List(ctx, w.CompanyID)
		if err == nil && len(all) > s.limit && all[s.limit-1].ID < w.ID {
			_ = s.kv.Delete(ctx, w.Key())
			s.invalidate(ctx, w.CompanyID)
			return nil, "", fmt.Errorf("%w: a company may have at most %d webhooks", webhook.ErrLimit, s.limit)
		}
	}
	return w, secret, nil
}

// Get returns one webhook. Errors: webhook.ErrNotFound.
func (s *Store) Get(ctx context.Context, companyID, id string) (*webhook.Webhook, error) {
	w, _, err := s.get(ctx, companyID, id)
	return w, err
}

func (s *Store) get(ctx context.Context, companyID, id string) (*webhook.Webhook, uint64, error) {
	if !webhook.ValidID(companyID) || !webhook.ValidID(id) {
		return nil, 0, webhook.ErrNotFound
	}
	e, err := s.kv.Get(ctx, webhook.Key(companyID, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, webhook.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("registry: get %s: %w", id, err)
	}
	var w webhook.Webhook
	if err := json.Unmarshal(e.Value(), &w); err != nil {
		return nil, 0, fmt.Errorf("registry: decode %s: %w", id, err)
	}
	return &w, e.Revision(), nil
}

// ErrUnchanged, returned by an Update's change function, skips the write.
var ErrUnchanged = errors.New("registry: unchanged")

// Update applies change to the stored webhook with compare-and-set, retrying
// when another writer got there first. change may return an error to abort
// (returned as is) or ErrUnchanged to write nothing. Errors:
// webhook.ErrNotFound, webhook.ErrConflict.
func (s *Store) Update(ctx context.Context, companyID, id string, change func(*webhook.Webhook) error) (*webhook.Webhook, error) {
	for try := 0; ; try++ {
		if try > 0 {
			// Another writer won: back off a little (jittered) and retry
			// until ctx ends.
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w", webhook.ErrConflict, ctx.Err())
			case <-time.After(time.Duration(rand.Int64N(int64(time.Millisecond) << min(try, 6)))):
			}
		}
		w, rev, err := s.get(ctx, companyID, id)
		if err != nil {
			return nil, err
		}
		if err := change(w); errors.Is(err, ErrUnchanged) {
			return w, nil
		} else if err != nil {
			return nil, err
		}
		w.UpdatedAt = time.Now().UTC()
		data, err := json.Marshal(w)
		if err != nil {
			return nil, err
		}
		_, err = s.kv.Update(ctx, w.Key(), data, rev)
		if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("registry: update %s: %w", id, err)
		}
		s.invalidate(ctx, companyID)
		return w, nil
	}
}

// Delete removes a webhook. Errors: webhook.ErrNotFound.
func (s *Store) Delete(ctx context.Context, companyID, id string) error {
	if _, _, err := s.get(ctx, companyID, id); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, webhook.Key(companyID, id)); err != nil {
		return fmt.Errorf("registry: delete %s: %w", id, err)
	}
	s.invalidate(ctx, companyID)
	return nil
}

// List returns a company's webhooks sorted by id (creation order).
func (s *Store) List(ctx context.Context, companyID string) ([]*webhook.Webhook, error) {
	if !webhook.ValidID(companyID) {
		return nil, nil
	}
	return loadCompany(ctx, s.kv, companyID)
}

// OpenSecrets decrypts a webhook's secrets, current first, dropping those
// that expired before now.
func (s *Store) OpenSecrets(w *webhook.Webhook, now time.Time) ([]string, error) {
	return openSecrets(s.box, w, now)
}

func openSecrets(box *seal.Box, w *webhook.Webhook, now time.Time) ([]string, error) {
	signing := w.SigningSecrets(now)
	out := make([]string, 0, len(signing))
	for _, sec := range signing {
		plain, err := box.Open(sec.Sealed)
		if err != nil {
			return nil, fmt.Errorf("registry: webhook %s: %w", w.ID, err)
		}
		out = append(out, string(plain))
	}
	return out, nil
}

func (s *Store) invalidate(ctx context.Context, companyID string) {
	if s.invalidator != nil {
		// The cache is validated against the KV watch as well; a failed
		// delete only costs a refill later.
		_ = s.invalidator.Invalidate(ctx, companyID)
	}
}

// loadCompany reads every current webhook of a company with one filtered
// watch (a single ordered consumer) rather than a get per key.
func loadCompany(ctx context.Context, kv jetstream.KeyValue, companyID string) ([]*webhook.Webhook, error) {
	w, err := kv.Watch(ctx, companyID+".*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("registry: load %s: %w", companyID, err)
	}
	defer func() { _ = w.Stop() }()
	var out []*webhook.Webhook
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("registry: load %s: watch closed", companyID)
			}
			if e == nil {
				slices.SortFunc(out, func(a, b *webhook.Webhook) int { return strings.Compare(a.ID, b.ID) })
				return out, nil
			}
			var wh webhook.Webhook
			if err := json.Unmarshal(e.Value(), &wh); err != nil {
				return nil, fmt.Errorf("registry: decode %s: %w", e.Key(), err)
			}
			out = append(out, &wh)
		}
	}
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// Disable turns a webhook off for reason (webhook.DisabledGone, ...) and
// marks it UNHEALTHY (webhook.Webhook.SetEnabled); its jobs are parked in DEAD until it is enabled. It
// returns the webhook before and after, and whether this call changed it
// (false: it was already disabled).
func (s *Store) Disable(ctx context.Context, companyID, id, reason string) (before, after *webhook.Webhook, changed bool, err error) {
	after, err = s.Update(ctx, companyID, id, func(w *webhook.Webhook) error {
		before = nil
		b := *w
		if !w.SetEnabled(false, reason, time.Now()) {
			return ErrUnchanged
		}
		before = &b
		return nil
	})
	return before, after, before != nil && err == nil, err
}

// SetStatus records a health transition (webhook.Webhook.SetStatus); it
// writes only if that changes the webhook.
func (s *Store) SetStatus(ctx context.Context, companyID, id, status string) error {
	_, err := s.Update(ctx, companyID, id, func(w *webhook.Webhook) error {
		if !w.SetStatus(status) {
			return ErrUnchanged
		}
		return nil
	})
	return err
}

// CountStates counts every webhook of the registry by state (one pass over
// the bucket's current values).
func CountStates(ctx context.Context, kv jetstream.KeyValue) (healthy, unhealthy, disabled int, err error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return 0, 0, 0, err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return 0, 0, 0, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return 0, 0, 0, errors.New("registry: count: watch closed")
			}
			if e == nil {
				return healthy, unhealthy, disabled, nil
			}
			var wh webhook.Webhook
			if json.Unmarshal(e.Value(), &wh) != nil {
				continue
			}
			switch {
			case !wh.Enabled:
				disabled++
			case wh.Status == webhook.StatusUnhealthy:
				unhealthy++
			default:
				healthy++
			}
		}
	}
}
