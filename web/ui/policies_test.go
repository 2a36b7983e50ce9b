package ui_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/unify"
)

func TestPolicyForm(t *testing.T) {
	t.Parallel()
	base := func(kv ...string) url.Values {
		v := url.Values{"op": {"save"}, "name": {"promo"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		want   *unify.Policy     // saved
		errors map[string]string // field → message shown next to it
	}{
		{
			name: "rcs 30s then sms",
			form: base("steps[0].channel", "rcs", "steps[0].timeout", "30s", "steps[1].channel", "sms", "steps[1].timeout", ""),
			want: &unify.Policy{Name: "promo", Steps: []unify.Step{{Channel: unify.ChannelRCS, Timeout: 30 * time.Second}, {Channel: unify.ChannelSMS}}},
		},
		{
			name: "every option",
			form: base("steps[0].channel", "rcs", "steps[0].timeout", "1m30s", "steps[1].channel", "mms", "steps[1].timeout", "10m",
				"steps[2].channel", "sms", "sms.max_segments", "3", "sms.number_replies", "on", "sms.web_link", "on",
				"mms.max_size", "614400", "on_revoke_failure", "send_anyway"),
			want: &unify.Policy{Name: "promo",
				Steps: []unify.Step{{Channel: unify.ChannelRCS, Timeout: 90 * time.Second}, {Channel: unify.ChannelMMS, Timeout: 10 * time.Minute}, {Channel: unify.ChannelSMS}},
				SMS:   unify.SMSOptions{MaxSegments: 3, NumberReplies: true, WebLink: true}, MMS: unify.MMSOptions{MaxSize: 614400},
				OnRevokeFailure: unify.RevokeSendAnyway},
		},
		{
			name:   "timeout that is no duration",
			form:   base("steps[0].channel", "rcs", "steps[0].timeout", "soon", "steps[1].channel", "sms"),
			errors: map[string]string{"steps[0].timeout": "must be a duration such as 30s, 10m or 1h30m"},
		},
		{
			name:   "negative timeout",
			form:   base("steps[0].channel", "rcs", "steps[0].timeout", "-5s"),
			errors: map[string]string{"steps[0].timeout": "must not be negative"},
		},
		{
			name:   "channel twice",
			form:   base("steps[0].channel", "sms", "steps[1].channel", "sms"),
			errors: map[string]string{"steps[1].channel": "appears twice in the policy"},
		},
		{
			name:   "unknown channel",
			form:   base("steps[0].channel", "fax"),
			errors: map[string]string{"steps[0].channel": "must be one of rcs, mms, sms"},
		},
		{
			name:   "no steps",
			form:   base(),
			errors: map[string]string{"steps": "must hold at least one step"},
		},
		{
			name: "bad numbers",
			form: base("steps[0].channel", "sms", "sms.max_segments", "lots", "mms.max_size", "-1"),
			errors: map[string]string{
				"sms.max_segments": "must be a whole number",
				"mms.max_size":     "must not be negative",
			},
		},
		{
			name:   "too many segments",
			form:   base("steps[0].channel", "sms", "sms.max_segments", "300"),
			errors: map[string]string{"sms.max_segments": "must be between 0 and 255"},
		},
		{
			name:   "no name",
			form:   base("name", "", "steps[0].channel", "sms"),
			errors: map[string]string{"name": "must not be empty"},
		},
		{
			name:   "name taken",
			form:   base("name", "otp", "steps[0].channel", "sms"),
			errors: map[string]string{"name": "is taken by another policy"},
		},
		{
			name:   "refused by the store",
			form:   base("name", "reserved", "steps[0].channel", "sms"),
			errors: map[string]string{"name": "is reserved by the gateway"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			c := b.client(t)
			tc.form.Set("csrf", c.signIn())
			before, _ := b.policies.get(tc.form.Get("name"))
			res := c.post("/ui/policies/new", tc.form)
			if tc.want != nil {
				require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
				require.Equal(t, "/ui/policies?done=created&policy=promo", res.Header.Get("Location"))
				got, ok := b.policies.get("promo")
				require.True(t, ok)
				require.Equal(t, *tc.want, got)
				list := c.get(res.Header.Get("Location"))
				require.Contains(t, list.Body, "Policy promo created.")
				return
			}
			require.Contains(t, []int{http.StatusUnprocessableEntity, http.StatusConflict}, res.StatusCode)
			require.Contains(t, res.Body, "Nothing was saved")
			for field, msg := range tc.errors {
				id := fieldID(field)
				// The message sits next to its field, which points at it.
				require.Contains(t, res.Body, `<p class="err" id="`+id+`-err">`+html.EscapeString(msg)+`</p>`, field)
				if strings.HasPrefix(field, "steps[") || field == "name" || strings.Contains(field, ".") {
					require.Regexp(t, `id="`+regexp.QuoteMeta(id)+`"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="`+regexp.QuoteMeta(id)+`"`, res.Body, field)
				}
			}
			after, _ := b.policies.get(tc.form.Get("name"))
			require.Equal(t, before, after, "nothing saved")
			require.Zero(t, b.policies.saveCount())
			// What was typed is shown back as typed.
			if v := tc.form.Get("steps[0].timeout"); v != "" {
				require.Contains(t, res.Body, `value="`+html.EscapeString(v)+`"`)
			}
		})
	}
}

// fieldID mirrors the UI's element ids for field paths.
func fieldID(field string) string {
	return "f-" + strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(field)
}

var stepRe = regexp.MustCompile(`<option value="(\w+)" selected>`)

// stepChannels lists the channels of the steps as the editor shows them.
func stepChannels(page string) []string {
	steps := page[:strings.Index(page, `id="add-step"`)]
	var out []string
	for _, m := range stepRe.FindAllStringSubmatch(steps, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestPolicyStepOperations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	token := c.signIn()
	form := func(op string, chans ...string) url.Values {
		v := url.Values{"csrf": {token}, "name": {"promo"}, "op": {op}}
		for i, ch := range chans {
			v.Set(fieldPath(i, "channel"), ch)
			v.Set(fieldPath(i, "timeout"), "1m")
		}
		return v
	}
	for _, tc := range []struct {
		op    string
		in    []string
		want  []string
		focus string
	}{
		{"add", []string{"rcs"}, []string{"rcs", "mms"}, "f-steps-1-channel"},
		{"add", []string{"rcs", "mms"}, []string{"rcs", "mms", "sms"}, "f-steps-2-channel"},
		{"add", nil, []string{"rcs"}, "f-steps-0-channel"},
		{"remove:0", []string{"rcs", "sms"}, []string{"sms"}, "f-steps-0-channel"},
		{"remove:1", []string{"rcs", "sms"}, []string{"rcs"}, "f-steps-0-channel"},
		{"remove:0", []string{"sms"}, nil, "add-step"},
		{"up:1", []string{"rcs", "sms"}, []string{"sms", "rcs"}, "f-steps-0-channel"},
		{"down:0", []string{"rcs", "mms", "sms"}, []string{"mms", "rcs", "sms"}, "f-steps-1-channel"},
		{"up:0", []string{"rcs", "sms"}, []string{"rcs", "sms"}, ""},
		{"down:1", []string{"rcs", "sms"}, []string{"rcs", "sms"}, ""},
		{"remove:7", []string{"rcs"}, []string{"rcs"}, ""},
	} {
		res := c.post("/ui/policies/new", form(tc.op, tc.in...))
		require.Equal(t, http.StatusOK, res.StatusCode, "%s %v", tc.op, tc.in)
		require.Equal(t, tc.want, stepChannels(res.Body), "%s %v", tc.op, tc.in)
		require.NotContains(t, res.Body, "Nothing was saved", "an operation is not a save")
		if tc.focus != "" {
			require.Regexp(t, `id="`+tc.focus+`"[^>]* autofocus`, res.Body, "%s %v", tc.op, tc.in)
		} else {
			require.NotContains(t, res.Body, "autofocus")
		}
	}
	require.Zero(t, b.policies.saveCount())
}

func fieldPath(i int, name string) string {
	return "steps[" + string(rune('0'+i)) + "]." + name
}

func TestPolicyEdit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	token := c.signIn()

	page := c.get("/ui/policies/edit/default")
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Equal(t, []string{"rcs", "mms", "sms"}, stepChannels(page.Body))
	require.Contains(t, page.Body, `name="steps[0].timeout" value="1m"`)
	require.Contains(t, page.Body, `name="steps[1].timeout" value="10m"`)
	require.Contains(t, page.Body, `id="f-name" name="name" value="default" autocomplete="off" spellcheck="false" readonly`)

	// The name in the URL wins over a tampered form field.
	res := c.post("/ui/policies/edit/default", url.Values{"csrf": {token}, "op": {"save"}, "name": {"other"},
		"steps[0].channel": {"rcs"}, "steps[0].timeout": {"45s"}, "steps[1].channel": {"sms"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.Body)
	require.Equal(t, "/ui/policies?done=saved&policy=default", res.Header.Get("Location"))
	got, _ := b.policies.get("default")
	require.Equal(t, unify.Policy{Name: "default", Steps: []unify.Step{{Channel: unify.ChannelRCS, Timeout: 45 * time.Second}, {Channel: unify.ChannelSMS}}}, got)
	_, other := b.policies.get("other")
	require.False(t, other)

	require.Equal(t, http.StatusNotFound, c.get("/ui/policies/edit/nope").StatusCode)
	res = c.post("/ui/policies/edit/nope", url.Values{"csrf": {token}, "op": {"save"}, "steps[0].channel": {"sms"}})
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Contains(t, res.Body, "no policy")
}

func TestPolicyList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	c.signIn()
	page := c.get("/ui/policies")
	require.Contains(t, page.Body, `<a href="/ui/policies/edit/default">default</a>`)
	require.Contains(t, page.Body, "RCS 1m → MMS 10m → SMS")
	require.Contains(t, page.Body, "numbered replies")
	require.Contains(t, page.Body, "revoke failed: send anyway")
	require.Contains(t, page.Body, `data-confirm="Delete policy otp?"`)
	require.NotContains(t, page.Body, `class="flash"`)
	// A notice comes from a fixed set: a link cannot make the UI say
	// something else.
	require.NotContains(t, c.get("/ui/policies?done=Call+0800+now&policy=x").Body, `class="flash"`)
	require.Contains(t, c.get("/ui/policies?done=deleted&policy=x").Body, `<p class="flash" role="status">Policy x deleted.</p>`)
}

func TestPolicyDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.client(t)
	token := c.signIn()

	res := c.post("/ui/policies/delete/default", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Contains(t, res.Body, "Policy default was not deleted: used as default by sender acme.")
	_, ok := b.policies.get("default")
	require.True(t, ok, "a policy in use stays")

	res = c.post("/ui/policies/delete/otp", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	_, ok = b.policies.get("otp")
	require.False(t, ok)
	require.Contains(t, c.get(res.Header.Get("Location")).Body, "Policy otp deleted.")
}
