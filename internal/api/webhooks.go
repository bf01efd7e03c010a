package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/bluehq/webhooks/internal/webhook"
)

// Webhook is a webhook as the API shows it.
type Webhook = webhook.Public

func view(w *webhook.Webhook) Webhook { return w.Public() }

// CreateBody is the request to create a webhook.
type CreateBody struct {
	Name        string   `json:"name" minLength:"1" maxLength:"200" doc:"A name for people."`
	URL         string   `json:"url" minLength:"1" maxLength:"2048" doc:"The payload URL (http or https)."`
	Secret      string   `json:"secret,omitempty" minLength:"16" maxLength:"256" doc:"Signing secret; generated (whsec_...) when omitted."`
	Events      []string `json:"events,omitempty" maxItems:"200"`
	ProjectIDs  []string `json:"projectIds,omitempty" maxItems:"1000"`
	Filter      string   `json:"filter,omitempty" maxLength:"4096"`
	Enabled     *bool    `json:"enabled,omitempty" doc:"Defaults to true."`
	CreatedByID string   `json:"createdById,omitempty" maxLength:"64"`
	// The caps' maximum is this server's ceiling, set in New (see setCapBounds).
	RateLimit      *float64 `json:"rateLimit,omitempty" nullable:"true" minimum:"0.01" doc:"Deliveries per second to this webhook, across all deliverers; fractions allowed (0.5: one every 2 s). Omitted or null: the server's default (DELIVERY_ENDPOINT_RATE, none unless set), which is also the ceiling."`
	MaxConcurrency *int     `json:"maxConcurrency,omitempty" nullable:"true" minimum:"1" doc:"Attempts in flight to this webhook, across all deliverers. Omitted or null: the server's default (DELIVERY_ENDPOINT_CONCURRENCY, 32 unless set), which is also the ceiling."`
}

// PatchBody changes only the fields it carries.
type PatchBody struct {
	Name       *string   `json:"name,omitempty" minLength:"1" maxLength:"200"`
	URL        *string   `json:"url,omitempty" minLength:"1" maxLength:"2048"`
	Events     *[]string `json:"events,omitempty" maxItems:"200"`
	ProjectIDs *[]string `json:"projectIds,omitempty" maxItems:"1000"`
	Filter     *string   `json:"filter,omitempty" maxLength:"4096" doc:"An empty string removes the filter."`
	Enabled    *bool     `json:"enabled,omitempty"`
	// Null must be told from absent here: Clearable.
	RateLimit      Clearable[float64] `json:"rateLimit,omitempty" nullable:"true" minimum:"0.01" doc:"Deliveries per second to this webhook, across all deliverers; null clears it back to the server's default (DELIVERY_ENDPOINT_RATE), which is also the ceiling."`
	MaxConcurrency Clearable[int]     `json:"maxConcurrency,omitempty" nullable:"true" minimum:"1" doc:"Attempts in flight to this webhook, across all deliverers; null clears it back to the server's default (DELIVERY_ENDPOINT_CONCURRENCY), which is also the ceiling."`
}

// Clearable is a PATCH field that is either absent (no change), a value, or
// null (cleared: Value is then T's zero value, which the record reads as
// unset).
type Clearable[T any] struct {
	Sent  bool
	Value T
}

// UnmarshalJSON runs only for a field present in the body, null included.
func (c *Clearable[T]) UnmarshalJSON(data []byte) error {
	c.Sent = true
	var zero T
	c.Value = zero
	if string(data) == "null" {
		return nil
	}
	return json.Unmarshal(data, &c.Value)
}

// Schema is T's; the field's tags add nullability and bounds.
func (Clearable[T]) Schema(r huma.Registry) *huma.Schema {
	return r.Schema(reflect.TypeFor[T](), true, "")
}

// setCapBounds makes this server's ceilings the maximum of rateLimit and
// maxConcurrency in both request bodies: /openapi.json shows them, and a
// value above them is refused like any other out-of-bounds field.
func (s *Server) setCapBounds() {
	limits := s.cfg.Rules.Limits
	bounds := map[string]float64{"rateLimit": limits.RateCeiling(), "maxConcurrency": float64(limits.ConcurrencyCeiling())}
	schemas := s.humaAPI.OpenAPI().Components.Schemas.Map()
	for _, body := range []string{"CreateBody", "PatchBody"} {
		for field, bound := range bounds {
			var p *huma.Schema
			if b := schemas[body]; b != nil {
				p = b.Properties[field]
			}
			if p == nil {
				panic("api: no schema for " + body + "." + field)
			}
			p.Maximum = &bound
			p.PrecomputeMessages()
		}
	}
}

type idPath struct {
	ID string `path:"id" maxLength:"64"`
}

type webhookOut struct {
	Body Webhook
}

type listOut struct {
	Body struct {
		Data       []Webhook `json:"data"`
		NextCursor string    `json:"nextCursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page."`
	}
}

func (s *Server) registerWebhooks() {
	api := s.humaAPI
	tags := []string{"Webhooks"}
	huma.Register(api, huma.Operation{
		OperationID: "create-webhook", Method: http.MethodPost, Path: "/v1/webhooks",
		Summary: "Create a webhook", Tags: tags, DefaultStatus: http.StatusCreated,
		Errors: []int{400, 401, 409},
	}, func(ctx context.Context, in *struct{ Body CreateBody }) (*webhookOut, error) {
		out, err := s.CreateWebhook(ctx, companyOf(ctx), in.Body)
		return &webhookOut{Body: out}, err
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-webhooks", Method: http.MethodGet, Path: "/v1/webhooks",
		Summary: "List webhooks", Tags: tags, Errors: []int{400, 401},
	}, func(ctx context.Context, in *struct {
		Cursor string `query:"cursor" maxLength:"64" doc:"nextCursor of the previous page."`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
	}) (*listOut, error) {
		all, err := s.ListWebhooks(ctx, companyOf(ctx))
		if err != nil {
			return nil, err
		}
		start := 0
		if in.Cursor != "" {
			start, _ = slices.BinarySearchFunc(all, in.Cursor, func(w Webhook, c string) int { return strings.Compare(w.ID, c) })
			if start < len(all) && all[start].ID == in.Cursor {
				start++
			}
		}
		limit := in.Limit
		if limit == 0 {
			limit = 50
		}
		out := &listOut{}
		out.Body.Data = append([]Webhook{}, all[start:min(len(all), start+limit)]...)
		if start+limit < len(all) {
			out.Body.NextCursor = all[start+limit-1].ID
		}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-webhook", Method: http.MethodGet, Path: "/v1/webhooks/{id}",
		Summary: "Get a webhook", Tags: tags, Errors: []int{401, 404},
	}, func(ctx context.Context, in *idPath) (*webhookOut, error) {
		out, err := s.GetWebhook(ctx, companyOf(ctx), in.ID)
		return &webhookOut{Body: out}, err
	})

	huma.Register(api, huma.Operation{
		OperationID: "update-webhook", Method: http.MethodPatch, Path: "/v1/webhooks/{id}",
		Summary: "Change a webhook", Description: "Only the fields present in the body change.",
		Tags: tags, Errors: []int{400, 401, 404, 409},
	}, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body PatchBody
	}) (*webhookOut, error) {
		out, err := s.UpdateWebhook(ctx, companyOf(ctx), in.ID, in.Body)
		return &webhookOut{Body: out}, err
	})

	huma.Register(api, huma.Operation{
		OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/v1/webhooks/{id}",
		Summary: "Delete a webhook", Tags: tags, DefaultStatus: http.StatusNoContent, Errors: []int{401, 404},
	}, func(ctx context.Context, in *idPath) (*struct{}, error) {
		return nil, s.DeleteWebhook(ctx, companyOf(ctx), in.ID)
	})

	huma.Register(api, huma.Operation{
		OperationID: "disable-webhook", Method: http.MethodPost, Path: "/v1/webhooks/{id}/disable",
		Summary:     "Disable a webhook",
		Description: "Deliveries stop and status becomes UNHEALTHY. Jobs for it are parked among the dead letters; enable with replay=true sends them.",
		Tags:        tags, Errors: []int{401, 404},
	}, func(ctx context.Context, in *idPath) (*webhookOut, error) {
		out, err := s.DisableWebhook(ctx, companyOf(ctx), in.ID)
		return &webhookOut{Body: out}, err
	})

	huma.Register(api, huma.Operation{
		OperationID: "enable-webhook", Method: http.MethodPost, Path: "/v1/webhooks/{id}/enable",
		Summary:     "Enable a webhook",
		Description: "With replay=true, the deliveries parked while it was disabled are sent again (up to 10,000; continue with POST /v1/webhooks/{id}/recover and replayCursor).",
		Tags:        tags, Errors: []int{401, 404},
	}, func(ctx context.Context, in *struct {
		ID     string `path:"id" maxLength:"64"`
		Replay bool   `query:"replay" doc:"Send the deliveries parked while the webhook was disabled."`
	}) (*enableOut, error) {
		out, err := s.EnableWebhook(ctx, companyOf(ctx), in.ID, in.Replay)
		return &enableOut{Body: out}, err
	})
}

// EnableResult is the webhook enabled and, with replay, what was sent
// again. (An alias of an unnamed struct: the OpenAPI schema keeps the
// operation's name.)
type EnableResult = struct {
	webhook.Public
	Replayed     *int   `json:"replayed,omitempty" doc:"With replay=true: how many parked deliveries were sent again."`
	ReplayCursor string `json:"replayCursor,omitempty" doc:"More parked deliveries remain: pass as cursor to recover."`
}

type enableOut struct {
	Body EnableResult
}

// The operations on webhooks, for the handlers above and the portal. Each
// acts for companyID only (another company's webhook is not found) and
// returns its errors as problem details (huma.StatusError) naming the field.

// CreateWebhook creates a webhook from b, checked by the rules, and returns
// it with its plain secret: the one time the secret is shown.
func (s *Server) CreateWebhook(ctx context.Context, companyID string, b CreateBody) (Webhook, error) {
	w := &webhook.Webhook{
		CompanyID: companyID, Name: strings.TrimSpace(b.Name), URL: b.URL,
		Events: dedupe(b.Events), ProjectIDs: dedupe(b.ProjectIDs), Filter: b.Filter,
		Enabled: true, Status: webhook.StatusHealthy, CreatedByID: b.CreatedByID,
	}
	if b.Enabled != nil {
		w.SetEnabled(*b.Enabled, webhook.DisabledByUser, time.Now())
	}
	if b.RateLimit != nil {
		w.RateLimit = *b.RateLimit
	}
	if b.MaxConcurrency != nil {
		w.MaxConcurrency = *b.MaxConcurrency
	}
	if err := s.cfg.Rules.Validate(w); err != nil {
		return Webhook{}, s.fail(ctx, err)
	}
	if err := webhook.CheckSecret(b.Secret); err != nil {
		return Webhook{}, s.fail(ctx, err)
	}
	created, secret, err := s.store.Create(ctx, w, b.Secret)
	if err != nil {
		return Webhook{}, s.fail(ctx, err)
	}
	out := view(created)
	out.Secret = &secret
	return out, nil
}

// ListWebhooks returns every webhook of the company, in id (creation) order.
func (s *Server) ListWebhooks(ctx context.Context, companyID string) ([]Webhook, error) {
	all, err := s.store.List(ctx, companyID)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := make([]Webhook, 0, len(all))
	for _, w := range all {
		out = append(out, view(w))
	}
	return out, nil
}

// GetWebhook returns one webhook (its secret null).
func (s *Server) GetWebhook(ctx context.Context, companyID, id string) (Webhook, error) {
	w, err := s.store.Get(ctx, companyID, id)
	if err != nil {
		return Webhook{}, s.fail(ctx, err)
	}
	return view(w), nil
}

// UpdateWebhook changes the fields b carries, checked by the rules.
func (s *Server) UpdateWebhook(ctx context.Context, companyID, id string, b PatchBody) (Webhook, error) {
	w, err := s.store.Update(ctx, companyID, id, func(w *webhook.Webhook) error {
		if b.Name != nil {
			w.Name = strings.TrimSpace(*b.Name)
		}
		if b.URL != nil {
			w.URL = *b.URL
		}
		if b.Events != nil {
			w.Events = dedupe(*b.Events)
		}
		if b.ProjectIDs != nil {
			w.ProjectIDs = dedupe(*b.ProjectIDs)
		}
		if b.Filter != nil {
			w.Filter = *b.Filter
		}
		if b.Enabled != nil {
			w.SetEnabled(*b.Enabled, webhook.DisabledByUser, time.Now())
		}
		if b.RateLimit.Sent {
			w.RateLimit = b.RateLimit.Value
		}
		if b.MaxConcurrency.Sent {
			w.MaxConcurrency = b.MaxConcurrency.Value
		}
		return s.cfg.Rules.Validate(w)
	})
	if err != nil {
		return Webhook{}, s.fail(ctx, err)
	}
	return view(w), nil
}

// DeleteWebhook deletes one webhook.
func (s *Server) DeleteWebhook(ctx context.Context, companyID, id string) error {
	if err := s.store.Delete(ctx, companyID, id); err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// DisableWebhook stops deliveries to a webhook: its jobs are parked.
func (s *Server) DisableWebhook(ctx context.Context, companyID, id string) (Webhook, error) {
	w, err := s.store.Update(ctx, companyID, id, func(w *webhook.Webhook) error {
		w.SetEnabled(false, webhook.DisabledByUser, time.Now())
		return nil
	})
	if err != nil {
		return Webhook{}, s.fail(ctx, err)
	}
	return view(w), nil
}

// EnableWebhook delivers to a webhook again; with replay, what was parked
// while it was disabled is sent too.
func (s *Server) EnableWebhook(ctx context.Context, companyID, id string, replay bool) (EnableResult, error) {
	var disabledAt *time.Time
	w, err := s.store.Update(ctx, companyID, id, func(w *webhook.Webhook) error {
		disabledAt = w.DisabledAt
		w.SetEnabled(true, "", time.Now())
		return nil
	})
	if err != nil {
		return EnableResult{}, s.fail(ctx, err)
	}
	out := EnableResult{Public: view(w)}
	if replay && disabledAt != nil {
		res, err := s.replayParked(ctx, w, *disabledAt)
		if err != nil {
			return EnableResult{}, s.fail(ctx, err)
		}
		out.Replayed, out.ReplayCursor = &res.Requeued, res.NextCursor
	}
	return out, nil
}

func dedupe(s []string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
