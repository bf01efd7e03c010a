// Package problem writes RFC 9457 problem details for handlers that do not go
// through the API framework (the ingest endpoint). The shape is the one the
// management API returns, so clients parse one error format. Clip bounds
// what any error response, the API's too, shows of a rejected value.
package problem

import (
	"encoding/json"
	"net/http"
)

// Detail names one field at fault.
type Detail struct {
	Location string `json:"location,omitempty"` // e.g. "body/0/companyId"
	Message  string `json:"message"`
}

// Problem is an RFC 9457 problem details document.
type Problem struct {
	Type   string   `json:"type,omitempty"`
	Title  string   `json:"title"`
	Status int      `json:"status"`
	Detail string   `json:"detail,omitempty"`
	Errors []Detail `json:"errors,omitempty"`
}

// Write sends p with status p.Status as application/problem+json.
func Write(w http.ResponseWriter, p Problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
