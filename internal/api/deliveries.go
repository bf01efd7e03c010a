package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/webhook"
)

type attemptsOut struct {
	Body struct {
		Data []attempt.Record `json:"data"`
	}
}

type deliveryOut struct {
	Body struct {
		ID       string           `json:"id"`
		Attempts []attempt.Record `json:"attempts" doc:"Every attempt, oldest first."`
	}
}

type redeliverOut struct {
	Body struct {
		DeliveryID string `json:"deliveryId"`
	}
}

// RecoverBody selects the dead letters to requeue.
type RecoverBody struct {
	Since  time.Time `json:"since" doc:"Requeue dead letters recorded since this time (RFC 3339)."`
	Cursor string    `json:"cursor,omitempty" maxLength:"512" doc:"nextCursor of a previous call of this webhook's recover, as it was returned, to continue."`
	Limit  int       `json:"limit,omitempty" minimum:"1" maximum:"10000" default:"1000"`
}

type recoverOut struct {
	Body inspect.RecoverResult
}

func (s *Server) registerDeliveries() {
	if s.cfg.Inspector == nil {
		return
	}
	api := s.humaAPI
	tags := []string{"Deliveries"}
	huma.Register(api, huma.Operation{
		OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: "/v1/webhooks/{id}/deliveries",
		Summary: "Recent delivery attempts of a webhook", Description: "Newest first; the last 100 attempts. A failed attempt's errorClass says why it failed, from a closed set (see the Record schema); network details such as addresses are never shown.",
		Tags: tags, Errors: []int{401, 404},
	}, func(ctx context.Context, in *struct {
		ID    string `path:"id" maxLength:"64"`
		Limit int    `query:"limit" minimum:"1" maximum:"100" default:"50"`
	}) (*attemptsOut, error) {
		if _, err := s.store.Get(ctx, companyOf(ctx), in.ID); err != nil {
			return nil, s.fail(ctx, err)
		}
		recs, err := s.cfg.Inspector.Recent(ctx, companyOf(ctx), in.ID, max(in.Limit, 1))
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		out := &attemptsOut{}
		out.Body.Data = public(recs)
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-delivery", Method: http.MethodGet, Path: "/v1/deliveries/{id}",
		Summary: "One delivery with its attempts", Tags: tags, Errors: []int{401, 404},
	}, func(ctx context.Context, in *idPath) (*deliveryOut, error) {
		recs, err := s.cfg.Inspector.Delivery(ctx, companyOf(ctx), in.ID)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		out := &deliveryOut{}
		out.Body.ID, out.Body.Attempts = in.ID, public(recs)
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "redeliver", Method: http.MethodPost, Path: "/v1/deliveries/{id}/redeliver",
		Summary: "Send a dead-lettered delivery again", Description: "The delivery keeps its id (webhook-id) and starts again at attempt 1.",
		Tags: tags, DefaultStatus: http.StatusAccepted, Errors: []int{401, 404},
	}, func(ctx context.Context, in *idPath) (*redeliverOut, error) {
		if err := s.cfg.Inspector.Redeliver(ctx, companyOf(ctx), in.ID); err != nil {
			return nil, s.fail(ctx, err)
		}
		out := &redeliverOut{}
		out.Body.DeliveryID = in.ID
		return out, nil
	})

	huma.Register(api, huma.Operation{
		OperationID: "recover-webhook", Method: http.MethodPost, Path: "/v1/webhooks/{id}/recover",
		Summary: "Requeue every dead-lettered delivery of a webhook since a time", Description: "Bounded: at most limit per call; continue with nextCursor.",
		Tags: tags, DefaultStatus: http.StatusAccepted, Errors: []int{400, 401, 404},
	}, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body RecoverBody
	}) (*recoverOut, error) {
		if _, err := s.store.Get(ctx, companyOf(ctx), in.ID); err != nil {
			return nil, s.fail(ctx, err)
		}
		if in.Body.Since.After(time.Now()) {
			return nil, huma.Error400BadRequest("since is in the future", &huma.ErrorDetail{Location: "body.since", Message: "must not be in the future", Value: in.Body.Since})
		}
		res, err := s.cfg.Inspector.Recover(ctx, companyOf(ctx), in.ID, in.Body.Since, in.Body.Cursor, defaultLimit(in.Body.Limit, 1000))
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return &recoverOut{Body: res}, nil
	})
}

// public is recs as customers see them: an error class in words, never
// the network error of an older record (attempt.Record.Public).
func public(recs []attempt.Record) []attempt.Record {
	out := make([]attempt.Record, len(recs))
	for i, r := range recs {
		out[i] = r.Public()
	}
	return out
}

func defaultLimit(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// replayParked requeues what was parked while w was disabled.
func (s *Server) replayParked(ctx context.Context, w *webhook.Webhook, since time.Time) (inspect.RecoverResult, error) {
	if s.cfg.Inspector == nil {
		return inspect.RecoverResult{}, errors.New("replay needs the delivery inspector")
	}
	// A little before: the DEAD timestamp comes from the server clock.
	return s.cfg.Inspector.Recover(ctx, w.CompanyID, w.ID, since.Add(-5*time.Second), "", 10000)
}
