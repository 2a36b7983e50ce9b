package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gateway/unify"
)

// maxSteps bounds the steps a form may hold; a policy has at most one step
// per channel anyway.
const maxSteps = 6

// policyForm is the editor's state as typed: strings, so that a bad value is
// shown back as the operator wrote it.
type policyForm struct {
	Name            string
	Steps           []stepForm
	MaxSegments     string
	NumberReplies   bool
	WebLink         bool
	MaxSize         string
	OnRevokeFailure string
}

type stepForm struct {
	Channel string
	Timeout string
}

// editorView is what the policy editor template gets.
type editorView struct {
	IsNew     bool
	Action    string
	Form      policyForm
	Errors    map[string]string
	ErrorList []fieldMsg // every error, in form order, for the summary
	FormError string
	Focus     string // the field to focus after a step operation
	Sample    sampleForm
	Senders   []string
	Preview   previewView
}

type fieldMsg struct{ Field, Message string }

func formFromPolicy(p unify.Policy) policyForm {
	f := policyForm{Name: p.Name, NumberReplies: p.SMS.NumberReplies, WebLink: p.SMS.WebLink, OnRevokeFailure: string(p.OnRevokeFailure)}
	for _, s := range p.Steps {
		f.Steps = append(f.Steps, stepForm{Channel: string(s.Channel), Timeout: formatDuration(s.Timeout)})
	}
	if p.SMS.MaxSegments != 0 {
		f.MaxSegments = strconv.Itoa(p.SMS.MaxSegments)
	}
	if p.MMS.MaxSize != 0 {
		f.MaxSize = strconv.Itoa(p.MMS.MaxSize)
	}
	return f
}

// readPolicyForm reads the editor's fields. Field names are the policy's
// JSON paths, so errors from Policy.Validate and from the store land next
// to the input they are about.
func readPolicyForm(v url.Values) policyForm {
	f := policyForm{
		Name:            strings.TrimSpace(v.Get("name")),
		MaxSegments:     strings.TrimSpace(v.Get("sms.max_segments")),
		NumberReplies:   v.Get("sms.number_replies") != "",
		WebLink:         v.Get("sms.web_link") != "",
		MaxSize:         strings.TrimSpace(v.Get("mms.max_size")),
		OnRevokeFailure: v.Get("on_revoke_failure"),
	}
	for i := 0; i < maxSteps; i++ {
		ch, ok := v[fmt.Sprintf("steps[%d].channel", i)]
		if !ok {
			break
		}
		f.Steps = append(f.Steps, stepForm{Channel: first(ch), Timeout: strings.TrimSpace(v.Get(fmt.Sprintf("steps[%d].timeout", i)))})
	}
	return f
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// policy turns the form into a policy, with an error for every field that
// does not parse. Fields that parse are validated by Policy.Validate.
func (f policyForm) policy() (unify.Policy, map[string]string) {
	errs := map[string]string{}
	p := unify.Policy{Name: f.Name, SMS: unify.SMSOptions{NumberReplies: f.NumberReplies, WebLink: f.WebLink},
		OnRevokeFailure: unify.RevokeFailure(f.OnRevokeFailure)}
	for i, s := range f.Steps {
		step := unify.Step{Channel: unify.ChannelKind(s.Channel)}
		if s.Timeout != "" {
			d, err := time.ParseDuration(s.Timeout)
			if err != nil {
				errs[fmt.Sprintf("steps[%d].timeout", i)] = "must be a duration such as 30s, 10m or 1h30m"
			}
			step.Timeout = d
		}
		p.Steps = append(p.Steps, step)
	}
	num := func(field, s string, dst *int) {
		if s == "" {
			return
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			errs[field] = "must be a whole number"
			return
		}
		*dst = n
	}
	num("sms.max_segments", f.MaxSegments, &p.SMS.MaxSegments)
	num("mms.max_size", f.MaxSize, &p.MMS.MaxSize)
	for _, fe := range p.Validate("") {
		if _, ok := errs[fe.Field]; !ok {
			errs[fe.Field] = fe.Message
		}
	}
	return p, errs
}

// applyOp carries out a step operation of the editor ("add", "remove:1",
// "up:2", "down:0") and returns the field to focus next. Without JavaScript
// these buttons are how steps are added and reordered; the page comes back
// with nothing saved.
func (f *policyForm) applyOp(op string) (focus string, ok bool) {
	verb, arg, _ := strings.Cut(op, ":")
	i, err := strconv.Atoi(arg)
	inRange := err == nil && i >= 0 && i < len(f.Steps)
	switch {
	case verb == "add" && len(f.Steps) < maxSteps:
		used := map[string]bool{}
		for _, s := range f.Steps {
			used[s.Channel] = true
		}
		next := "sms"
		for _, ch := range []string{"rcs", "mms", "sms"} {
			if !used[ch] {
				next = ch
				break
			}
		}
		f.Steps = append(f.Steps, stepForm{Channel: next})
		return fmt.Sprintf("steps[%d].channel", len(f.Steps)-1), true
	case verb == "remove" && inRange:
		f.Steps = append(f.Steps[:i], f.Steps[i+1:]...)
		if len(f.Steps) == 0 {
			return "add-step", true
		}
		return fmt.Sprintf("steps[%d].channel", min(i, len(f.Steps)-1)), true
	case verb == "up" && inRange && i > 0:
		f.Steps[i-1], f.Steps[i] = f.Steps[i], f.Steps[i-1]
		return fmt.Sprintf("steps[%d].channel", i-1), true
	case verb == "down" && inRange && i < len(f.Steps)-1:
		f.Steps[i+1], f.Steps[i] = f.Steps[i], f.Steps[i+1]
		return fmt.Sprintf("steps[%d].channel", i+1), true
	}
	return "", false
}

// errorList orders field errors as the form shows its fields.
func (f policyForm) errorList(errs map[string]string) []fieldMsg {
	order := []string{"name", "steps"}
	for i := range f.Steps {
		order = append(order, fmt.Sprintf("steps[%d].channel", i), fmt.Sprintf("steps[%d].timeout", i), fmt.Sprintf("steps[%d]", i))
	}
	order = append(order, "sms.max_segments", "sms.number_replies", "sms.web_link", "mms.max_size", "on_revoke_failure")
	var out []fieldMsg
	seen := map[string]bool{}
	for _, k := range order {
		if m, ok := errs[k]; ok {
			out = append(out, fieldMsg{k, m})
			seen[k] = true
		}
	}
	for k, m := range errs {
		if !seen[k] {
			out = append(out, fieldMsg{k, m})
		}
	}
	return out
}

type policyRow struct {
	Name    string
	Steps   string
	Options []string
}

func (h *handler) policiesPage(c echo.Context) error {
	return h.renderPolicies(c, http.StatusOK, "")
}

func (h *handler) renderPolicies(c echo.Context, status int, problem string) error {
	list, err := h.cfg.Policies.List(c.Request().Context())
	if err != nil {
		return h.fail(c, err)
	}
	rows := make([]policyRow, 0, len(list))
	for _, p := range list {
		rows = append(rows, policyRow{Name: p.Name, Steps: stepsSummary(p.Steps), Options: optionsSummary(p)})
	}
	return h.render(c, status, "policies", "Policies", struct {
		Policies []policyRow
		Problem  string
	}{rows, problem})
}

func stepsSummary(steps []unify.Step) string {
	parts := make([]string, 0, len(steps))
	for _, s := range steps {
		label := strings.ToUpper(string(s.Channel))
		if s.Timeout > 0 {
			label += " " + formatDuration(s.Timeout)
		}
		parts = append(parts, label)
	}
	return strings.Join(parts, " → ")
}

func optionsSummary(p unify.Policy) []string {
	var out []string
	if p.SMS.MaxSegments > 0 {
		out = append(out, fmt.Sprintf("SMS ≤ %d segments", p.SMS.MaxSegments))
	}
	if p.SMS.NumberReplies {
		out = append(out, "numbered replies")
	}
	if p.SMS.WebLink {
		out = append(out, "web link")
	}
	if p.MMS.MaxSize > 0 {
		out = append(out, "MMS ≤ "+formatBytes(p.MMS.MaxSize))
	}
	if p.OnRevokeFailure != "" {
		out = append(out, "revoke failed: "+strings.ReplaceAll(string(p.OnRevokeFailure), "_", " "))
	}
	return out
}

func (h *handler) newPolicyPage(c echo.Context) error {
	f := policyForm{Steps: []stepForm{{Channel: "rcs", Timeout: "60s"}}, NumberReplies: true}
	return h.renderEditor(c, http.StatusOK, true, f, nil, "", "")
}

func (h *handler) editPolicyPage(c echo.Context) error {
	name, err := url.PathUnescape(c.Param("name"))
	if err != nil {
		return h.fail(c, unify.Errorf(unify.CodeNotFound, "no policy %q", c.Param("name")))
	}
	p, err := h.cfg.Policies.Get(c.Request().Context(), name)
	if err != nil {
		return h.fail(c, err)
	}
	return h.renderEditor(c, http.StatusOK, false, formFromPolicy(p), nil, "", "")
}

func (h *handler) submitPolicy(c echo.Context) error {
	isNew := c.Param("name") == ""
	values, err := c.FormParams()
	if err != nil {
		return h.fail(c, err)
	}
	f := readPolicyForm(values)
	if !isNew {
		// The name is the policy's key: editing keeps it, whatever the form says.
		name, err := url.PathUnescape(c.Param("name"))
		if err != nil {
			return h.fail(c, err)
		}
		f.Name = name
	}
	if op := values.Get("op"); op != "" && op != "save" {
		focus, _ := f.applyOp(op)
		return h.renderEditor(c, http.StatusOK, isNew, f, nil, "", focus)
	}
	p, errs := f.policy()
	if len(errs) > 0 {
		return h.renderEditor(c, http.StatusUnprocessableEntity, isNew, f, errs, "", "")
	}
	err = h.cfg.Policies.Save(c.Request().Context(), p, isNew)
	var ue *unify.Error
	switch {
	case err == nil:
		verb := "saved"
		if isNew {
			verb = "created"
		}
		return c.Redirect(http.StatusSeeOther, "/ui/policies?"+url.Values{"done": {verb}, "policy": {p.Name}}.Encode())
	case errors.As(err, &ue) && ue.Code == unify.CodeInvalid:
		errs = map[string]string{}
		for _, fe := range ue.Fields {
			if _, ok := errs[fe.Field]; !ok {
				errs[fe.Field] = fe.Message
			}
		}
		return h.renderEditor(c, http.StatusUnprocessableEntity, isNew, f, errs, "", "")
	case errors.As(err, &ue) && ue.Code == unify.CodeConflict && isNew:
		return h.renderEditor(c, http.StatusConflict, isNew, f, map[string]string{"name": "is taken by another policy"}, "", "")
	case errors.As(err, &ue) && (ue.Code == unify.CodeConflict || ue.Code == unify.CodeNotFound):
		return h.renderEditor(c, http.StatusConflict, isNew, f, nil, ue.Message, "")
	}
	return h.fail(c, err)
}

func (h *handler) deletePolicy(c echo.Context) error {
	name, err := url.PathUnescape(c.Param("name"))
	if err != nil {
		return h.fail(c, err)
	}
	err = h.cfg.Policies.Delete(c.Request().Context(), name)
	var ue *unify.Error
	switch {
	case err == nil:
		return c.Redirect(http.StatusSeeOther, "/ui/policies?"+url.Values{"done": {"deleted"}, "policy": {name}}.Encode())
	case errors.As(err, &ue) && (ue.Code == unify.CodeConflict || ue.Code == unify.CodeNotFound):
		return h.renderPolicies(c, http.StatusConflict, fmt.Sprintf("Policy %s was not deleted: %s.", name, ue.Message))
	}
	return h.fail(c, err)
}

func (h *handler) renderEditor(c echo.Context, status int, isNew bool, f policyForm, errs map[string]string, formErr, focus string) error {
	v := editorView{IsNew: isNew, Form: f, Errors: errs, ErrorList: f.errorList(errs), FormError: formErr, Focus: focus, Senders: h.cfg.Senders}
	if isNew {
		v.Action = "/ui/policies/new"
	} else {
		v.Action = "/ui/policies/edit/" + url.PathEscape(f.Name)
	}
	if _, posted := c.Request().PostForm["sample.content"]; posted {
		v.Sample = readSample(c)
	} else {
		v.Sample = h.defaultSample(c)
	}
	p, _ := f.policy()
	v.Preview = h.previewFor(c, p, v.Sample)
	title := "New policy"
	if !isNew {
		title = "Policy " + f.Name
	}
	return h.render(c, status, "policy", title, v)
}

// formatDuration writes a timeout as an operator types it: 30s, 10m, 1h30m.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func formatBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%d B", n)
}
