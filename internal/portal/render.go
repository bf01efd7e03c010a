package portal

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// page is what every template gets: the layout's part and the page's Data.
type page struct {
	Title     string
	Company   string // "": no session (the layout shows no navigation)
	CSRF      string
	ReturnURL string
	Nav       string // the navigation entry that is current
	Flash     string // a confirmation, announced politely
	Alert     string // a failure, announced at once
	Data      any
}

func (p *Portal) pageFor(s *Session, title string) *page {
	return &page{Title: title, Company: s.CompanyID, CSRF: s.CSRF, ReturnURL: s.ReturnURL}
}

// pages are the parsed templates: each page file with the shared layout
// and parts.
type pages struct {
	byName map[string]*template.Template
}

// shared are parsed with every page.
var shared = []string{"templates/layout.html", "templates/parts.html"}

func loadPages() (*pages, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pg := &pages{byName: map[string]*template.Template{}}
	for _, f := range files {
		if f == shared[0] || f == shared[1] {
			continue
		}
		t, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, append(shared[:2:2], f)...)
		if err != nil {
			return nil, fmt.Errorf("portal: template %s: %w", f, err)
		}
		pg.byName[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return pg, nil
}

func (p *Portal) render(w http.ResponseWriter, r *http.Request, name string, pg *page) {
	p.renderStatus(w, r, http.StatusOK, name, pg)
}

// renderStatus renders the page into memory first, so that a template
// failure is a clean 500 rather than half a page.
func (p *Portal) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, pg *page) {
	t := p.pages.byName[name]
	var buf bytes.Buffer
	if t == nil {
		p.log.ErrorContext(r.Context(), "portal: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", pg); err != nil {
		p.log.ErrorContext(r.Context(), "portal: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// staticVersions are the content hashes that version the assets' URLs.
var staticVersions = func() map[string]string {
	out := map[string]string{}
	entries, _ := fs.ReadDir(staticFS, "static")
	for _, e := range entries {
		b, _ := fs.ReadFile(staticFS, "static/"+e.Name())
		sum := sha256.Sum256(b)
		out[e.Name()] = hex.EncodeToString(sum[:6])
	}
	return out
}()

// staticHandler serves the embedded assets; a URL carries its content's
// hash, so a browser may keep it for a year.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		v, ok := staticVersions[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") == v {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		files.ServeHTTP(w, r2)
	})
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"static": func(name string) string { return "/portal/static/" + name + "?v=" + staticVersions[name] },
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"ago": ago,
	"outcome": func(o string) string {
		if label, ok := outcomeLabels[o]; ok {
			return label
		}
		return o
	},
	"ms": func(v float64) string {
		if v >= 1000 {
			return strconv.FormatFloat(v/1000, 'f', 2, 64) + " s"
		}
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	},
	"pct":  func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + " %" },
	"num":  thousands,
	"join": strings.Join,
	// short is a delivery id without its webhook id, which the page names.
	"short": func(id string) string {
		if i := strings.Index(id, "_wh_"); i > 0 {
			return id[:i]
		}
		return id
	},
	"pretty": func(raw json.RawMessage) string {
		var out bytes.Buffer
		if json.Indent(&out, raw, "", "  ") != nil {
			return string(raw)
		}
		return out.String()
	},
	"contains": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
	"ferr": func(field string, errs map[string][]string) any {
		if msgs := errs[field]; len(msgs) > 0 {
			return struct {
				ID   string
				Msgs []string
			}{field, msgs}
		}
		return nil
	},
	"fieldLabel": func(field string) string {
		if label, ok := fieldLabels[field]; ok {
			return label
		}
		return field
	},
	"deref": func(v any) any {
		switch x := v.(type) {
		case *float64:
			if x != nil {
				return *x
			}
		case *int:
			if x != nil {
				return *x
			}
		}
		return nil
	},
}

// fieldLabels name the form's fields as their labels do.
var fieldLabels = map[string]string{
	"name": "Name", "url": "Payload URL", "secret": "Signing secret", "events": "Events", "projectIds": "Projects",
	"filter": "Filter", "rateLimit": "Rate limit", "maxConcurrency": "Concurrency", "enabled": "Enabled",
}

// outcomeLabels name the outcomes of an attempt for people.
var outcomeLabels = map[string]string{
	attempt.Delivered: "Delivered",
	attempt.Retry:     "Failed, retrying",
	attempt.Dead:      "Failed",
	attempt.Parked:    "Parked",
	attempt.Deferred:  "Deferred",
	attempt.Dropped:   "Dropped",
}

// outcomeOrder is the order filters and legends list the outcomes in.
var outcomeOrder = []string{attempt.Delivered, attempt.Retry, attempt.Dead, attempt.Parked, attempt.Deferred}

func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	switch {
	case d < 0:
		return "in " + (-d).Round(time.Second).String()
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h ago"
	default:
		return strconv.Itoa(int(d.Hours()/24)) + " days ago"
	}
}

// thousands writes n with thin separators: 12,345.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
