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
		recs, err := s.RecentAttempts(ctx, companyOf(ctx), in.ID, in.Limit)
		out := &attemptsOut{}
		out.Body.Data = recs
		return out, err
	})

	huma.Register(api, huma.Operation{
		OperationID: "get-delivery", Method: http.MethodGet, Path: "/v1/deliveries/{id}",
		Summary: "One delivery with its attempts", Tags: tags, Errors: []int{401, 404},
	}, func(ctx context.Context, in *idPath) (*deliveryOut, error) {
		recs, err := s.Delivery(ctx, companyOf(ctx), in.ID)
		out := &deliveryOut{}
		out.Body.ID, out.Body.Attempts = in.ID, recs
		return out, err
	})

	huma.Register(api, huma.Operation{
		OperationID: "redeliver", Method: http.MethodPost, Path: "/v1/deliveries/{id}/redeliver",
		Summary: "Send a dead-lettered delivery again", Description: "The delivery keeps its id (webhook-id) and starts again at attempt 1.",
		Tags: tags, DefaultStatus: http.StatusAccepted, Errors: []int{401, 404},
	}, func(ctx context.Context, in *idPath) (*redeliverOut, error) {
		out := &redeliverOut{}
		out.Body.DeliveryID = in.ID
		return out, s.Redeliver(ctx, companyOf(ctx), in.ID)
	})

	huma.Register(api, huma.Operation{
		OperationID: "recover-webhook", Method: http.MethodPost, Path: "/v1/webhooks/{id}/recover",
		Summary: "Requeue every dead-lettered delivery of a webhook since a time", Description: "Bounded: at most limit per call; continue with nextCursor.",
		Tags: tags, DefaultStatus: http.StatusAccepted, Errors: []int{400, 401, 404},
	}, func(ctx context.Context, in *struct {
		ID   string `path:"id" maxLength:"64"`
		Body RecoverBody
	}) (*recoverOut, error) {
		res, err := s.Recover(ctx, companyOf(ctx), in.ID, in.Body)
		return &recoverOut{Body: res}, err
	})
}

// The operations on deliveries, for the handlers above and the portal. Each
// acts for companyID only and returns its errors as problem details.

// RecentAttempts returns up to n (1 to 100) of a webhook's latest attempts,
// newest first.
func (s *Server) RecentAttempts(ctx context.Context, companyID, webhookID string, n int) ([]attempt.Record, error) {
	if _, err := s.store.Get(ctx, companyID, webhookID); err != nil {
		return nil, s.fail(ctx, err)
	}
	recs, err := s.cfg.Inspector.Recent(ctx, companyID, webhookID, min(max(n, 1), 100))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return public(recs), nil
}

// Delivery returns every attempt of one delivery, oldest first.
func (s *Server) Delivery(ctx context.Context, companyID, deliveryID string) ([]attempt.Record, error) {
	recs, err := s.cfg.Inspector.Delivery(ctx, companyID, deliveryID)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return public(recs), nil
}

// Redeliver sends a dead-lettered or parked delivery again.
func (s *Server) Redeliver(ctx context.Context, companyID, deliveryID string) error {
	if err := s.cfg.Inspector.Redeliver(ctx, companyID, deliveryID); err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// Recover requeues a webhook's dead letters since b.Since, at most b.Limit
// (default 1000) per call; the result's NextCursor continues.
func (s *Server) Recover(ctx context.Context, companyID, webhookID string, b RecoverBody) (inspect.RecoverResult, error) {
	if _, err := s.store.Get(ctx, companyID, webhookID); err != nil {
		return inspect.RecoverResult{}, s.fail(ctx, err)
	}
	if b.Since.After(time.Now()) {
		return inspect.RecoverResult{}, huma.Error400BadRequest("since is in the future", &huma.ErrorDetail{Location: "body.since", Message: "must not be in the future", Value: b.Since})
	}
	res, err := s.cfg.Inspector.Recover(ctx, companyID, webhookID, b.Since, b.Cursor, defaultLimit(b.Limit, 1000))
	if err != nil {
		return inspect.RecoverResult{}, s.fail(ctx, err)
	}
	return res, nil
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
