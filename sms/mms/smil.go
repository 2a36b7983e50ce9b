package mms

import "strings"

// smilCID is the Content-ID of the SMIL part, the start of the content.
const smilCID = "smil"

// smilSlide names the parts one <par> shows.
type smilSlide struct {
	mediaTag string // img, video, audio; "" for a text-only slide
	mediaCID string
	textCID  string
}

// buildSMIL writes the presentation: one <par> per slide, a picture or video
// in the Image region above its text in the Text region (mm7.md §9). When no
// slide shows a picture the text has the whole screen.
func buildSMIL(slides []smilSlide) string {
	visual := false
	for _, s := range slides {
		visual = visual || s.mediaTag == "img" || s.mediaTag == "video"
	}
	var b strings.Builder
	b.WriteString("<smil>\n  <head>\n    <layout>\n")
	b.WriteString(`      <root-layout width="100%" height="100%"/>` + "\n")
	if visual {
		b.WriteString(`      <region id="Image" left="0" top="0" width="100%" height="70%" fit="meet"/>` + "\n")
		b.WriteString(`      <region id="Text" left="0" top="70%" width="100%" height="30%" fit="scroll"/>` + "\n")
	} else {
		b.WriteString(`      <region id="Text" left="0" top="0" width="100%" height="100%" fit="scroll"/>` + "\n")
	}
	b.WriteString("    </layout>\n  </head>\n  <body>\n")
	for _, s := range slides {
		// A slide with video or audio lasts as long as its media (a <par>
		// without dur ends with its longest child); others show for a
		// fixed time.
		if s.mediaTag == "video" || s.mediaTag == "audio" {
			b.WriteString("    <par>\n")
		} else {
			b.WriteString(`    <par dur="` + slideDuration + `">` + "\n")
		}
		switch s.mediaTag {
		case "img", "video":
			b.WriteString(`      <` + s.mediaTag + ` src="cid:` + attr(s.mediaCID) + `" region="Image"/>` + "\n")
		case "audio":
			b.WriteString(`      <audio src="cid:` + attr(s.mediaCID) + `"/>` + "\n")
		}
		if s.textCID != "" {
			b.WriteString(`      <text src="cid:` + attr(s.textCID) + `" region="Text"/>` + "\n")
		}
		b.WriteString("    </par>\n")
	}
	b.WriteString("  </body>\n</smil>\n")
	return b.String()
}
