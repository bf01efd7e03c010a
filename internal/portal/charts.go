package portal

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/bluehq/webhooks/internal/inspect"
)

// statsView is a webhook's last 24 h as the page shows it: the totals, two
// charts drawn as inline SVG on the server (no script, no chart library),
// and the same numbers as a table for those who do not see the charts.
type statsView struct {
	Total    inspect.Hour
	Rate     float64
	HasRate  bool
	P50, P99 string // "" when no attempt
	Hours    []hourView
	Outcomes template.HTML
	Latency  template.HTML
}

type hourView struct {
	Label                          string // "14:00"
	Delivered, Retry, Dead, Parked int
	P50, P99                       string
}

func newStatsView(s inspect.Stats) statsView {
	v := statsView{Total: s.Total()}
	v.Rate, v.HasRate = s.SuccessRate()
	v.P50, v.P99 = quantile(v.Total, 0.5), quantile(v.Total, 0.99)
	for _, h := range s.Hours {
		v.Hours = append(v.Hours, hourView{
			Label: h.Start.UTC().Format("15:04"), Delivered: h.Delivered, Retry: h.Retry, Dead: h.Dead, Parked: h.Parked,
			P50: quantile(h, 0.5), P99: quantile(h, 0.99),
		})
	}
	v.Outcomes = outcomeChart(s)
	v.Latency = latencyChart(s)
	return v
}

func quantile(h inspect.Hour, q float64) string {
	ms, ok := h.Latency(q)
	if !ok {
		return ""
	}
	return formatMs(ms)
}

func formatMs(ms float64) string {
	switch {
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + " s"
	case ms >= 10:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	default:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	}
}

// The drawing area of both charts, in SVG units; the SVG scales to its
// container.
const (
	chartW, chartH    = 720.0, 200.0
	padLeft, padRight = 58.0, 8.0
	padTop, padBottom = 10.0, 26.0
	plotW             = chartW - padLeft - padRight
	plotH             = chartH - padTop - padBottom
)

// outcomeChart draws the attempts of each hour as a bar stacked by outcome.
func outcomeChart(s inspect.Stats) template.HTML {
	peak := 1
	for _, h := range s.Hours {
		peak = max(peak, h.Delivered+h.Retry+h.Dead+h.Parked)
	}
	top := niceCeil(float64(peak))
	var b strings.Builder
	t := s.Total()
	desc := fmt.Sprintf("Attempts per hour over the last 24 hours: %s delivered, %s failed and retried, %s failed for good, %s parked.",
		thousands(t.Delivered), thousands(t.Retry), thousands(t.Dead), thousands(t.Parked))
	startChart(&b, "chart-outcomes", "Deliveries by outcome", desc)
	axes(&b, s, top, func(v float64) string {
		if v == math.Trunc(v) {
			return thousands(int(v))
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	})
	n := float64(max(len(s.Hours), 1))
	slot := plotW / n
	for i, h := range s.Hours {
		x := padLeft + float64(i)*slot + slot*0.15
		y := padTop + plotH
		for _, part := range []struct {
			class string
			n     int
		}{{"delivered", h.Delivered}, {"retry", h.Retry}, {"dead", h.Dead}, {"parked", h.Parked}} {
			if part.n == 0 {
				continue
			}
			height := plotH * float64(part.n) / top
			y -= height
			fmt.Fprintf(&b, `<rect class="bar-%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"></rect>`, part.class, x, y, slot*0.7, height)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers and fixed text only
}

// latencyChart draws p50 and p99 of each hour's attempts as two lines,
// broken where an hour had none.
func latencyChart(s inspect.Stats) template.HTML {
	peak := 1.0
	for _, h := range s.Hours {
		if ms, ok := h.Latency(0.99); ok {
			peak = math.Max(peak, ms)
		}
	}
	top := niceCeil(peak)
	var b strings.Builder
	t := s.Total()
	desc := "No attempts in the last 24 hours."
	if p50, ok := t.Latency(0.5); ok {
		p99, _ := t.Latency(0.99)
		desc = fmt.Sprintf("Latency of attempts per hour over the last 24 hours; over the whole period p50 %s and p99 %s.", formatMs(p50), formatMs(p99))
	}
	startChart(&b, "chart-latency", "Latency, p50 and p99", desc)
	axes(&b, s, top, formatMs)
	slot := plotW / float64(max(len(s.Hours), 1))
	for _, line := range []struct {
		class string
		q     float64
	}{{"p99", 0.99}, {"p50", 0.5}} {
		var pts []string
		flush := func() {
			if len(pts) == 1 {
				xy := strings.Split(pts[0], ",")
				fmt.Fprintf(&b, `<circle class="line-%s" cx="%s" cy="%s" r="3"></circle>`, line.class, xy[0], xy[1])
			} else if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline class="line-%s" points="%s"></polyline>`, line.class, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i, h := range s.Hours {
			ms, ok := h.Latency(line.q)
			if !ok {
				flush()
				continue
			}
			x := padLeft + (float64(i)+0.5)*slot
			y := padTop + plotH - plotH*math.Min(ms, top)/top
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		flush()
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// startChart starts a chart: an image with a title and a description.
func startChart(b *strings.Builder, id, title, desc string) {
	fmt.Fprintf(b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="%s-title %s-desc" focusable="false">`, chartW, chartH, id, id)
	fmt.Fprintf(b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, template.HTMLEscapeString(title), id, template.HTMLEscapeString(desc))
}

// axes draws the horizontal grid with its values and the hours below.
func axes(b *strings.Builder, s inspect.Stats, top float64, label func(float64) string) {
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		y := padTop + plotH - plotH*float64(i)/4
		fmt.Fprintf(b, `<line class="grid" x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f"></line>`, padLeft, y, chartW-padRight, y)
		fmt.Fprintf(b, `<text class="tick" x="%.0f" y="%.1f" text-anchor="end">%s</text>`, padLeft-6, y+4, template.HTMLEscapeString(label(v)))
	}
	slot := plotW / float64(max(len(s.Hours), 1))
	for i, h := range s.Hours {
		if i%6 != 0 {
			continue
		}
		x := padLeft + (float64(i)+0.5)*slot
		fmt.Fprintf(b, `<text class="tick" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, x, chartH-8, h.Start.UTC().Format("15:04"))
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
