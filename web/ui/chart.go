package ui

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"gateway/unify/sqlstore"
)

// series is one colour of a stacked chart: a key of the bucket (a status or
// a channel), its label and its CSS class.
type series struct {
	Key, Label, Class string
}

// Stacked bottom to top: what went well first, failures on top where they
// catch the eye.
var statusSeries = []series{
	{"read", "read", "s-read"},
	{"delivered", "delivered", "s-delivered"},
	{"sent", "sent", "s-sent"},
	{"sending", "sending", "s-sending"},
	{"switching", "switching", "s-switching"},
	{"accepted", "accepted", "s-accepted"},
	{"failed", "failed", "s-failed"},
}

var channelSeries = []series{
	{"rcs", "RCS", "c-rcs"},
	{"mms", "MMS", "c-mms"},
	{"sms", "SMS", "c-sms"},
	{"", "no channel yet", "c-none"},
}

// chartView is a server-rendered SVG bar chart: 60 one-minute bars, each a
// stack of series.
type chartView struct {
	ID      string
	Title   string
	Desc    string
	Width   int
	Height  int
	PlotTop float64
	PlotBot float64
	PlotL   float64
	PlotR   float64
	Bars    []barRect
	YTicks  []tick
	XTicks  []tick
	Legend  []legendItem
	Empty   bool
}

type barRect struct {
	X, Y, W, H float64
	Class      string
	Label      string // tooltip
}

type tick struct {
	Pos    float64
	Label  string
	Anchor string // text-anchor of an x label, so the ends stay inside
}

type legendItem struct {
	Class, Label string
	Count        int
}

const (
	chartW      = 720
	chartH      = 220
	chartLeft   = 44.0
	chartRight  = 8.0
	chartTop    = 10.0
	chartBottom = 24.0
	chartMins   = 60
)

// buildChart lays out the chart of the 60 minutes from start. key picks the
// series a bucket belongs to; buckets of another key are counted in none.
func buildChart(id, title string, start time.Time, buckets []sqlstore.TrafficBucket, ss []series, key func(sqlstore.TrafficBucket) string) chartView {
	v := chartView{ID: id, Title: title, Width: chartW, Height: chartH,
		PlotTop: chartTop, PlotBot: chartH - chartBottom, PlotL: chartLeft, PlotR: chartW - chartRight}
	var counts [chartMins]map[string]int
	totals := map[string]int{}
	peak := 0
	for _, b := range buckets {
		i := int(b.Minute.Sub(start) / time.Minute)
		if i < 0 || i >= chartMins {
			continue
		}
		if counts[i] == nil {
			counts[i] = map[string]int{}
		}
		counts[i][key(b)] += b.Count
		totals[key(b)] += b.Count
	}
	for i := range counts {
		sum := 0
		for _, s := range ss {
			sum += counts[i][s.Key]
		}
		peak = max(peak, sum)
	}
	yMax := niceCeil(peak)
	plotH := v.PlotBot - v.PlotTop
	slot := (v.PlotR - v.PlotL) / chartMins
	barW := slot * 0.8
	for i := range counts {
		y := v.PlotBot
		minute := start.Add(time.Duration(i) * time.Minute)
		for _, s := range ss {
			n := counts[i][s.Key]
			if n == 0 {
				continue
			}
			hgt := float64(n) / float64(yMax) * plotH
			y -= hgt
			v.Bars = append(v.Bars, barRect{X: round1(v.PlotL + float64(i)*slot + (slot-barW)/2), Y: round1(y), W: round1(barW), H: round1(hgt),
				Class: s.Class, Label: fmt.Sprintf("%s UTC: %d %s", minute.Format("15:04"), n, s.Label)})
		}
	}
	for _, n := range []int{0, yMax / 2, yMax} {
		if n == 0 && len(v.YTicks) > 0 {
			continue // yMax is 1: no middle line
		}
		v.YTicks = append(v.YTicks, tick{Pos: round1(v.PlotBot - float64(n)/float64(yMax)*plotH), Label: fmt.Sprint(n)})
	}
	for i := 0; i <= chartMins; i += 15 {
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case chartMins:
			anchor = "end"
		}
		v.XTicks = append(v.XTicks, tick{Pos: round1(v.PlotL + float64(i)*slot), Label: start.Add(time.Duration(i) * time.Minute).Format("15:04"), Anchor: anchor})
	}
	var parts []string
	total := 0
	for _, s := range ss {
		v.Legend = append(v.Legend, legendItem{Class: s.Class, Label: s.Label, Count: totals[s.Key]})
		if totals[s.Key] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", totals[s.Key], s.Label))
		}
		total += totals[s.Key]
	}
	v.Empty = total == 0
	if v.Empty {
		v.Desc = "No messages in the last hour."
	} else {
		v.Desc = fmt.Sprintf("%d messages in the last hour, peak %d in a minute: %s.", total, peak, strings.Join(parts, ", "))
	}
	return v
}

// niceCeil rounds a peak up to 1, 2 or 5 times a power of ten, so the axis
// reads well; at least 1.
func niceCeil(n int) int {
	if n <= 1 {
		return 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }

// funcs are the templates' helpers.
func (h *handler) funcs() template.FuncMap {
	return template.FuncMap{
		"fmtTime":     fmtTime,
		"fmtDuration": formatDuration,
		"fieldErr": func(errs map[string]string, field string) string {
			return errs[field]
		},
		"fid": fieldID,
		"stepField": func(i int, name string) string {
			return fmt.Sprintf("steps[%d].%s", i, name)
		},
		"add":   func(a, b int) int { return a + b },
		"upper": strings.ToUpper,
		"since": func(t, now time.Time) string {
			if t.IsZero() {
				return ""
			}
			return now.Sub(t).Truncate(time.Second).String()
		},
		"pct": func(a, b float64) float64 {
			if b <= 0 {
				return 0
			}
			return min(100, a/b*100)
		},
		"statusClass": func(s any) string { return "st-" + strings.ReplaceAll(fmt.Sprint(s), "_", "-") },
		"fmtFloat":    func(f float64) string { return fmt.Sprintf("%.0f", f) },
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// fieldID turns a field path ("steps[1].timeout") into an element id.
func fieldID(field string) string {
	r := strings.NewReplacer("[", "-", "]", "", ".", "-")
	return "f-" + r.Replace(field)
}
