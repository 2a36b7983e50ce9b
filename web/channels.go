package web

import (
	"context"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"gateway/unify"
	"gateway/unify/dispatch"
)

// Previewer renders a message on every step of its policy (the core).
type Previewer interface {
	Preview(ctx context.Context, m *unify.Message, p *unify.Policy) (*dispatch.Preview, error)
}

// Capability is the RCS capability of a number as GET /v1/capabilities
// reports it.
type Capability struct {
	Phone      string    `json:"phone"`
	RCS        bool      `json:"rcs"`
	Features   []string  `json:"features"`
	CheckedAt  time.Time `json:"checked_at"`
	AgeSeconds float64   `json:"age_seconds"`
	Cached     bool      `json:"cached"`
}

// CapabilityFunc checks a number's RCS capability for a sender (the RCS
// channel's cache).
type CapabilityFunc func(ctx context.Context, sender, phone string) (Capability, error)

// CallbackFunc handles a carrier's callback (RBM events, MM7 reports): it
// returns the HTTP status, content type and body to answer with.
type CallbackFunc func(ctx context.Context, carrier string, h http.Header, body []byte) (status int, contentType string, resp []byte)

// WebLinks serves the web fallback pages (the core).
type WebLinks interface {
	WebLinkMessage(ctx context.Context, token string) (*unify.Message, error)
	WebReply(ctx context.Context, token string, index int) error
}

// ChannelRoutes are the routes that need the channels: previews,
// capabilities, carrier callbacks and web fallback pages. Nil members are
// not mounted.
type ChannelRoutes struct {
	Previews      Previewer
	Capabilities  CapabilityFunc
	DefaultSender string // sender whose RBM agent answers capability checks without ?from=
	RBMCallback   CallbackFunc
	MM7Callback   CallbackFunc
	WebLinks      WebLinks
}

// maxCallbackBytes bounds a carrier callback body; MM7 DeliverReq with media
// is the largest.
const maxCallbackBytes = 12 << 20

// MountChannels adds the channel routes to the server.
func (s *Server) MountChannels(r ChannelRoutes) {
	if r.Previews != nil {
		s.api.POST("/previews", func(c echo.Context) error {
			m, err := BindMessage(c)
			if err != nil {
				return err
			}
			p, err := r.Previews.Preview(c.Request().Context(), m, nil)
			if err != nil {
				return err
			}
			return writeJSON(c, http.StatusOK, echo.MIMEApplicationJSON, p)
		})
	}
	if r.Capabilities != nil {
		s.api.GET("/capabilities/:phone", func(c echo.Context) error {
			phone := c.Param("phone")
			if !unify.LooksE164(phone) {
				return unify.Invalid(unify.FieldError{Field: "phone", Message: "must be an E.164 number such as +33612345678"})
			}
			sender := c.QueryParam("from")
			if sender == "" {
				sender = r.DefaultSender
			}
			capa, err := r.Capabilities(c.Request().Context(), sender, phone)
			if err != nil {
				return err
			}
			return writeJSON(c, http.StatusOK, echo.MIMEApplicationJSON, capa)
		})
	}
	callback := func(fn CallbackFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxCallbackBytes+1))
			if err != nil {
				return c.NoContent(http.StatusBadRequest)
			}
			if len(body) > maxCallbackBytes {
				return c.NoContent(http.StatusRequestEntityTooLarge)
			}
			status, ctype, resp := fn(c.Request().Context(), c.Param("carrier"), c.Request().Header, body)
			if len(resp) == 0 {
				return c.NoContent(status)
			}
			return c.Blob(status, ctype, resp)
		}
	}
	if r.RBMCallback != nil {
		s.e.POST("/webhooks/rbm/:carrier", callback(r.RBMCallback))
	}
	if r.MM7Callback != nil {
		s.e.POST("/webhooks/mm7/:carrier", callback(r.MM7Callback))
	}
	if r.WebLinks != nil {
		s.e.GET("/m/:token", func(c echo.Context) error { return s.webLinkPage(c, r.WebLinks, "") })
		s.e.POST("/m/:token", func(c echo.Context) error {
			idx, err := strconv.Atoi(c.FormValue("suggestion"))
			if err != nil {
				return c.NoContent(http.StatusBadRequest)
			}
			if err := r.WebLinks.WebReply(c.Request().Context(), c.Param("token"), idx); err != nil {
				return err
			}
			return s.webLinkPage(c, r.WebLinks, "Thanks, your answer was sent.")
		})
	}
}

// webLinkPage shows a message's full content on a phone's browser: the
// card or carousel with its image, text and buttons. Reply suggestions are
// forms posting back to the page; actions are plain links.
func (s *Server) webLinkPage(c echo.Context, links WebLinks, notice string) error {
	m, err := links.WebLinkMessage(c.Request().Context(), c.Param("token"))
	if err != nil {
		if unify.CodeOf(err) == unify.CodeNotFound {
			return c.HTML(http.StatusNotFound, "<!doctype html><title>Link expired</title><p>This link does not exist or has expired.</p>")
		}
		return err
	}
	type button struct {
		Index int
		Text  string
		Href  string
	}
	type card struct {
		Title, Description, Image string
	}
	view := struct {
		Notice  string
		Text    string
		Cards   []card
		Buttons []button
	}{Notice: notice, Text: m.Content.Text}
	add := func(cd *unify.Card) {
		cv := card{Title: cd.Title, Description: cd.Description}
		if cd.Media != nil {
			cv.Image = cd.Media.URL
		}
		view.Cards = append(view.Cards, cv)
	}
	switch {
	case m.Content.Card != nil:
		add(m.Content.Card)
	case m.Content.Carousel != nil:
		for i := range m.Content.Carousel.Cards {
			add(&m.Content.Carousel.Cards[i])
		}
	case m.Content.Media != nil:
		view.Cards = append(view.Cards, card{Image: m.Content.Media.URL})
	}
	for i, sg := range m.Content.AllSuggestions() {
		b := button{Index: i, Text: sg.Text}
		switch sg.Type {
		case unify.SuggestOpenURL:
			b.Href = sg.URL
		case unify.SuggestDial:
			b.Href = "tel:" + sg.Phone
		case unify.SuggestViewLocation:
			if sg.Lat != nil && sg.Lng != nil {
				b.Href = "https://maps.google.com/?q=" + strconv.FormatFloat(*sg.Lat, 'f', -1, 64) + "," + strconv.FormatFloat(*sg.Lng, 'f', -1, 64)
			}
		}
		view.Buttons = append(view.Buttons, b)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; img-src https: http:; style-src 'unsafe-inline'; form-action 'self'")
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return webLinkTemplate.Execute(c.Response(), view)
}

var webLinkTemplate = template.Must(template.New("m").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Message</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:1rem;background:#f3f4f6;color:#111}
.card{background:#fff;border-radius:12px;margin:0 0 1rem;overflow:hidden;box-shadow:0 1px 3px #0002}
.card img{width:100%;display:block}.card div{padding:.75rem 1rem}
h1{font-size:1.1rem;margin:0 0 .25rem}p{margin:.25rem 0}
.chips{display:flex;flex-wrap:wrap;gap:.5rem}
.chips button,.chips a{border:1px solid #1a73e8;color:#1a73e8;background:#fff;border-radius:18px;padding:.5rem 1rem;font-size:1rem;text-decoration:none}
.notice{background:#e6f4ea;padding:.75rem 1rem;border-radius:8px;margin-bottom:1rem}
</style></head><body>
{{if .Notice}}<p class="notice" role="status">{{.Notice}}</p>{{end}}
{{if .Text}}<p>{{.Text}}</p>{{end}}
{{range .Cards}}<div class="card">{{if .Image}}<img src="{{.Image}}" alt="">{{end}}<div>{{if .Title}}<h1>{{.Title}}</h1>{{end}}{{if .Description}}<p>{{.Description}}</p>{{end}}</div></div>{{end}}
{{if .Buttons}}<form method="post" class="chips">
{{range .Buttons}}{{if .Href}}<a href="{{.Href}}">{{.Text}}</a>{{else}}<button type="submit" name="suggestion" value="{{.Index}}">{{.Text}}</button>{{end}}{{end}}
</form>{{end}}
</body></html>`))
