package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/bluehq/webhooks/internal/signing"
	"github.com/bluehq/webhooks/internal/webhook"
)

// DecodeBody checks a JSON request body against the schema this API checks
// it with (the schema of into's type: CreateBody, PatchBody, RotateBody,
// RecoverBody) and then decodes it into into, as a request to the API
// would be: the portal's forms are refused where the API would refuse the
// same body, with a 400 problem whose errors name each field (body.name).
func (s *Server) DecodeBody(raw []byte, into any) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return huma.Error400BadRequest("the body is not JSON: " + err.Error())
	}
	schemas := s.humaAPI.OpenAPI().Components.Schemas
	schema := schemas.Schema(reflect.TypeOf(into).Elem(), true, "")
	pb := huma.NewPathBuffer(make([]byte, 0, 64), 0)
	pb.Push("body")
	res := &huma.ValidateResult{}
	huma.Validate(schemas, schema, pb, huma.ModeWriteToServer, v, res)
	if len(res.Errors) > 0 {
		return huma.NewError(http.StatusBadRequest, "validation failed", res.Errors...)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return huma.Error400BadRequest("the body does not decode: " + err.Error())
	}
	return nil
}

// CheckFilter checks a filter expression as create and update do: nil, or a
// 400 problem naming body.filter that says what is wrong and where.
func (s *Server) CheckFilter(ctx context.Context, expr string) error {
	if err := s.cfg.Rules.ValidateFilter(expr); err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// SecretIsStandard reports whether a webhook's current secret has the
// Standard Webhooks form (whsec_ and base64), which the verifying libraries
// take as it is; any other secret they must be given as raw bytes. The
// secret itself is not returned.
func (s *Server) SecretIsStandard(ctx context.Context, companyID, id string) (bool, error) {
	w, err := s.store.Get(ctx, companyID, id)
	if err != nil {
		return false, s.fail(ctx, err)
	}
	secrets, err := s.store.OpenSecrets(w, time.Now())
	if err != nil {
		return false, s.fail(ctx, err)
	}
	if len(secrets) == 0 {
		return true, nil
	}
	return string(signing.Key(secrets[0])) != secrets[0], nil
}

// Limits are the ceilings of a webhook's rateLimit and maxConcurrency.
func (s *Server) Limits() webhook.Limits { return s.cfg.Rules.Limits }
