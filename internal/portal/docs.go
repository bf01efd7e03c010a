package portal

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// docsData is the API reference page, drawn from the OpenAPI document on
// the server: no script, no CDN, so it shows offline too.
type docsData struct {
	Title, Version, Description string
	Groups                      []docsGroup
	Schemas                     []docsSchema
}

type docsGroup struct {
	Tag        string
	Operations []docsOperation
}

type docsOperation struct {
	ID, Method, Path, Summary, Description string
	Public                                 bool
	Params                                 []docsField
	Body                                   string // schema name of the request body
	Responses                              []docsResponse
}

type docsResponse struct {
	Status, Description, Schema string
}

type docsSchema struct {
	Name, Description string
	Fields            []docsField
}

type docsField struct {
	Name, Type, Ref, Description, Rules string
	Required                            bool
}

// RegisterDocs serves the API reference at /docs.
func (p *Portal) RegisterDocs(mux *http.ServeMux) {
	var once sync.Once
	var html []byte
	mux.Handle("GET /docs", securityHeaders(p.cfg.FrameAncestors, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { // the document is complete once the process serves
			rec := &bufferWriter{header: http.Header{}}
			p.render(rec, r, "docs", &page{Title: "API reference", Data: docsOf(p.cfg.API.API().OpenAPI())})
			html = rec.buf.Bytes()
		})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(html)
	})))
}

// bufferWriter keeps a rendered page.
type bufferWriter struct {
	header http.Header
	buf    bytes.Buffer
}

func (b *bufferWriter) Header() http.Header         { return b.header }
func (b *bufferWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bufferWriter) WriteHeader(int)             {}

func docsOf(o *huma.OpenAPI) docsData {
	d := docsData{Title: o.Info.Title, Version: o.Info.Version, Description: o.Info.Description}
	byTag := map[string]*docsGroup{}
	var tags []string
	paths := make([]string, 0, len(o.Paths))
	for path := range o.Paths {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	for _, path := range paths {
		item := o.Paths[path]
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
			if m.op == nil || m.op.Hidden {
				continue
			}
			tag := "Other"
			if len(m.op.Tags) > 0 {
				tag = m.op.Tags[0]
			}
			g := byTag[tag]
			if g == nil {
				g = &docsGroup{Tag: tag}
				byTag[tag] = g
				tags = append(tags, tag)
			}
			g.Operations = append(g.Operations, operationOf(m.method, path, m.op))
		}
	}
	for _, t := range tags {
		d.Groups = append(d.Groups, *byTag[t])
	}
	schemas := o.Components.Schemas.Map()
	names := make([]string, 0, len(schemas))
	for name := range schemas {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := schemas[name]
		d.Schemas = append(d.Schemas, docsSchema{Name: name, Description: s.Description, Fields: fieldsOf(s)})
	}
	return d
}

func operationOf(method, path string, op *huma.Operation) docsOperation {
	out := docsOperation{
		ID: op.OperationID, Method: method, Path: path, Summary: op.Summary, Description: op.Description,
		Public: len(op.Security) == 1 && len(op.Security[0]) == 0,
	}
	for _, p := range op.Parameters {
		f := docsField{Name: p.Name + " (" + p.In + ")", Description: p.Description, Required: p.Required}
		if p.Schema != nil {
			f.Type, f.Ref = typeOf(p.Schema)
			f.Rules = rulesOf(p.Schema)
		}
		out.Params = append(out.Params, f)
	}
	if op.RequestBody != nil {
		for _, mt := range op.RequestBody.Content {
			if mt.Schema != nil {
				_, out.Body = typeOf(mt.Schema)
			}
		}
	}
	codes := make([]string, 0, len(op.Responses))
	for code := range op.Responses {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		resp := op.Responses[code]
		r := docsResponse{Status: code, Description: resp.Description}
		for _, mt := range resp.Content {
			if mt.Schema != nil {
				_, r.Schema = typeOf(mt.Schema)
			}
		}
		out.Responses = append(out.Responses, r)
	}
	return out
}

func fieldsOf(s *huma.Schema) []docsField {
	names := make([]string, 0, len(s.Properties))
	for name := range s.Properties {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []docsField
	for _, name := range names {
		p := s.Properties[name]
		f := docsField{Name: name, Description: p.Description, Required: slices.Contains(s.Required, name), Rules: rulesOf(p)}
		f.Type, f.Ref = typeOf(p)
		out = append(out, f)
	}
	return out
}

// typeOf names a schema's type and, for a reference to a component, the
// component.
func typeOf(s *huma.Schema) (typ, ref string) {
	if s.Ref != "" {
		name := s.Ref[strings.LastIndex(s.Ref, "/")+1:]
		return name, name
	}
	typ = s.Type
	if typ == "array" && s.Items != nil {
		item, r := typeOf(s.Items)
		typ, ref = "array of "+item, r
	}
	if s.Format != "" {
		typ += " (" + s.Format + ")"
	}
	if s.Nullable {
		typ += " or null"
	}
	if typ == "" {
		typ = "any"
	}
	return typ, ref
}

// rulesOf states a schema's bounds.
func rulesOf(s *huma.Schema) string {
	var r []string
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	if s.Minimum != nil {
		r = append(r, "at least "+num(*s.Minimum))
	}
	if s.Maximum != nil {
		r = append(r, "at most "+num(*s.Maximum))
	}
	if s.MinLength != nil {
		r = append(r, fmt.Sprintf("%d characters or more", *s.MinLength))
	}
	if s.MaxLength != nil {
		r = append(r, fmt.Sprintf("up to %d characters", *s.MaxLength))
	}
	if s.MaxItems != nil {
		r = append(r, fmt.Sprintf("up to %d items", *s.MaxItems))
	}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = fmt.Sprint(v)
		}
		r = append(r, "one of "+strings.Join(vals, ", "))
	}
	if s.Default != nil {
		r = append(r, fmt.Sprint("default ", s.Default))
	}
	return strings.Join(r, "; ")
}
