package api

import (
	"context"
	"net/http"
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
}

// PatchBody changes only the fields it carries.
type PatchBody struct {
	Name       *string   `json:"name,omitempty" minLength:"1" maxLength:"200"`
	URL        *string   `json:"url,omitempty" minLength:"1" maxLength:"2048"`
	Events     *[]string `json:"events,omitempty" maxItems:"200"`
	ProjectIDs *[]string `json:"projectIds,omitempty" maxItems:"1000"`
	Filter     *string   `json:"filter,omitempty" maxLength:"4096" doc:"An empty string removes the filter."`
	Enabled    *bool     `json:"enabled,omitempty"`
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
		b := in.Body
		w := &webhook.Webhook{
			CompanyID: companyOf(ctx), Name: strings.TrimSpace(b.Name), URL: b.URL,
			Events: dedupe(b.Events), ProjectIDs: dedupe(b.ProjectIDs), Filter: b.Filter,
			Enabled: b.Enabled == nil || *b.Enabled, CreatedByID: b.CreatedByID,
			Status: webhook.StatusHealthy,
		}
		if !w.Enabled {
			now := time.Now().UTC()
			w.DisabledAt, w.DisabledReason, w.Status = &now, "user", webhook.StatusUnhealthy
		}
		if err := s.cfg.Rules.Validate(w); err != nil {
			return nil, s.fail(ctx, err)
		}
		created, secret, err := s.store.Create(ctx, w, b.Secret)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		out := view(created)
		out.Secret = &secret
		return &webhookOut{Body: out}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "list-webhooks", Method: http.MethodGet, Path: "/v1/webhooks",
		Summary: "List webhooks", Tags: tags, Errors: []int{400, 401},
	}, func(ctx context.Context, in *struct {
		Cursor string `query:"cursor" maxLength:"64" doc:"nextCursor of the previous page."`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
	}) (*listOut, error) {
		all, err := s.store.List(ctx, companyOf(ctx))
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		start := 0
		if in.Cursor != "" {
			start, _ = slices.BinarySearchFunc(all, in.Cursor, func(w *webhook.Webhook, c string) int { return strings.Compare(w.ID, c) })
			if start < len(all) && all[start].ID == in.Cursor {
				start++
			}
		}
		limit := in.Limit
		if limit == 0 {
			limit = 50
		}
		out := &listOut{}
		out.Body.Data = []Webhook{}
		for _, w := range all[start:min(len(all), start+limit)] {
			out.Body.Data = append(out.Body.Data, view(w))
		}
		if start+limit < len(all) {
			out.Body.NextCursor = all[start+limit-1].ID
		}
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-webhook", Method: http.MethodGet, Path: "/v1/webhooks/{id}",
		Summary: "Get a webhook", Tags: tags, Errors: []int{401, 404},
	}, func(ctx context.Context, in *idPath) (*webhookOut, error) {
		w, err := s.store.Get(ctx, companyOf(ctx), in.ID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return &webhookOut{Body: view(w)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "update-webhook", Method: http.MethodPatch, Path: "/v1/webhooks/{id}",
		Summary: "Change a webhook", Description: "Only the fields present in the body change.",
		Tags: tags, Errors: []int{400, 401, 404, 409},
	}, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body PatchBody
	}) (*webhookOut, error) {
		b := in.Body
		w, err := s.store.Update(ctx, companyOf(ctx), in.ID, func(w *webhook.Webhook) error {
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
				setEnabled(w, *b.Enabled, "user")
			}
			return s.cfg.Rules.Validate(w)
		})
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return &webhookOut{Body: view(w)}, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/v1/webhooks/{id}",
		Summary: "Delete a webhook", Tags: tags, DefaultStatus: http.StatusNoContent, Errors: []int{401, 404},
	}, func(ctx context.Context, in *idPath) (*struct{}, error) {
		if err := s.store.Delete(ctx, companyOf(ctx), in.ID); err != nil {
			return nil, s.fail(ctx, err)
		}
		return nil, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "disable-webhook", Method: http.MethodPost, Path: "/v1/webhooks/{id}/disable",
		Summary:     "Disable a webhook",
		Description: "Deliveries stop and status becomes UNHEALTHY. Jobs for it are parked among the dead letters; enable with replay=true sends them.",
		Tags:        tags, Errors: []int{401, 404},
	}, func(ctx context.Context, in *idPath) (*webhookOut, error) {
		w, err := s.store.Update(ctx, companyOf(ctx), in.ID, func(w *webhook.Webhook) error {
			setEnabled(w, false, "user")
			return nil
		})
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return &webhookOut{Body: view(w)}, nil
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
		var disabledAt *time.Time
		w, err := s.store.Update(ctx, companyOf(ctx), in.ID, func(w *webhook.Webhook) error {
			disabledAt = w.DisabledAt
			setEnabled(w, true, "")
			return nil
		})
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		out := &enableOut{}
		out.Body.Public = view(w)
		if in.Replay && disabledAt != nil {
			res, err := s.replayParked(ctx, w, *disabledAt)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			out.Body.Replayed, out.Body.ReplayCursor = &res.Requeued, res.NextCursor
		}
		return out, nil
	})
}

type enableOut struct {
	Body struct {
		webhook.Public
		Replayed     *int   `json:"replayed,omitempty" doc:"With replay=true: how many parked deliveries were sent again."`
		ReplayCursor string `json:"replayCursor,omitempty" doc:"More parked deliveries remain: pass as cursor to recover."`
	}
}

// setEnabled switches w on or off. Disabling marks it UNHEALTHY (as Blue
// does) and records when, so parked deliveries can be found; enabling makes
// it HEALTHY again.
func setEnabled(w *webhook.Webhook, enabled bool, reason string) {
	if w.Enabled == enabled {
		return
	}
	w.Enabled = enabled
	if enabled {
		w.DisabledAt, w.DisabledReason, w.Status = nil, "", webhook.StatusHealthy
		return
	}
	now := time.Now().UTC()
	w.DisabledAt, w.DisabledReason, w.Status = &now, reason, webhook.StatusUnhealthy
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
