package sms

import (
	"fmt"
	"strconv"
	"strings"

	"gateway/unify"
)

// RenderText writes content as the text of an SMS. Rich content keeps its
// meaning: a card becomes its title, description and media link, and the
// suggestions become a numbered list (when the policy numbers replies) so
// that answering "2" picks the second one; actions also say what they do
// (the URL, the number to call, a map link, the date).
func RenderText(c *unify.Content, p *unify.Policy) string {
	var b strings.Builder
	line := func(s string) {
		if s == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	switch {
	case c.Card != nil:
		renderCard(line, c.Card)
	case c.Carousel != nil:
		for i := range c.Carousel.Cards {
			renderCard(line, &c.Carousel.Cards[i])
		}
	case c.Location != nil:
		line(c.Location.Label)
		line(mapLink(c.Location.Lat, c.Location.Lng))
	case c.Media != nil:
		line(c.Text)
		line(c.Media.URL)
	default:
		line(c.Text)
	}
	numbered := p == nil || p.SMS.NumberReplies
	all := c.AllSuggestions()
	var replies []string
	for i, s := range all {
		if numbered {
			replies = append(replies, strconv.Itoa(i+1)+" "+suggestionText(s))
		} else if s.Type != unify.SuggestReply {
			line(suggestionText(s))
		}
	}
	if len(replies) > 0 {
		line("Reply " + strings.Join(replies, ", "))
	}
	return b.String()
}

func renderCard(line func(string), c *unify.Card) {
	line(c.Title)
	line(c.Description)
	if c.Media != nil {
		line(c.Media.URL)
	}
}

// suggestionText is how one suggestion reads in an SMS.
func suggestionText(s unify.Suggestion) string {
	switch s.Type {
	case unify.SuggestOpenURL:
		return s.Text + " " + s.URL
	case unify.SuggestDial:
		return s.Text + " " + s.Phone
	case unify.SuggestViewLocation:
		if s.Lat != nil && s.Lng != nil {
			return s.Text + " " + mapLink(*s.Lat, *s.Lng)
		}
	case unify.SuggestCalendar:
		return s.Text + " (" + s.Title + ", " + s.Start + ")"
	}
	return "for " + s.Text
}

func mapLink(lat, lng float64) string {
	return fmt.Sprintf("https://maps.google.com/?q=%s,%s", strconv.FormatFloat(lat, 'f', -1, 64), strconv.FormatFloat(lng, 'f', -1, 64))
}
