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

// Webhook is a webhook as the API shows it. Secret is set only in the
// response to create and rotate-secret; it is null everywhere else.
type Webhook struct {
	ID          string    `json:"id" doc:"Webhook id."`
	UID         string    `json:"uid"`
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	Secret      *string   `json:"secret" doc:"The signing secret: returned once, on create; null afterwards."`
	Status      string    `json:"status" enum:"HEALTHY,UNHEALTHY"`
	Enabled     bool      `json:"enabled"`
	Events      []string  `json:"events" doc:"Event types delivered; empty means all."`
	ProjectIDs  []string  `json:"projectIds" doc:"Projects whose events are delivered; empty means all."`
	Filter      string    `json:"filter,omitempty" doc:"CEL expression over the variable event; only events for which it is true are delivered."`
	CreatedByID string    `json:"createdById,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func view(w *webhook.Webhook) Webhook {
	return Webhook{
		ID: w.ID, UID: w.UID, Name: w.Name, URL: w.URL, Status: w.Status, Enabled: w.Enabled,
		Events: nonNil(w.Events), ProjectIDs: nonNil(w.ProjectIDs), Filter: w.Filter,
		CreatedByID: w.CreatedByID, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

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
			w.DisabledAt, w.DisabledReason = &now, "user"
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
		idPath
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

	for _, enable := range []bool{true, false} {
		name, summary := "disable", "Disable a webhook: deliveries stop (they are parked) and status becomes UNHEALTHY"
		if enable {
			name, summary = "enable", "Enable a webhook"
		}
		huma.Register(api, huma.Operation{
			OperationID: name + "-webhook", Method: http.MethodPost, Path: "/v1/webhooks/{id}/" + name,
			Summary: summary, Tags: tags, Errors: []int{401, 404},
		}, func(ctx context.Context, in *idPath) (*webhookOut, error) {
			w, err := s.store.Update(ctx, companyOf(ctx), in.ID, func(w *webhook.Webhook) error {
				setEnabled(w, enable, "user")
				return nil
			})
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			return &webhookOut{Body: view(w)}, nil
		})
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
