package web_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"gateway/web"
)

// kin-openapi v0.153 reads OpenAPI 3.1: the loader keeps the 3.1 keywords
// (const, dependentSchemas, type arrays...) and openapi3filter validates
// bodies of a 3.1 document with its JSON Schema 2020-12 validator, so the
// checks below cover the 3.1-only keywords the document uses.
type apiDoc struct {
	doc    *openapi3.T
	router routers.Router
}

var loadDoc = sync.OnceValues(func() (*apiDoc, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(web.OpenAPI())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, err
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &apiDoc{doc: doc, router: router}, nil
})

func mustDoc(tb testing.TB) *apiDoc {
	tb.Helper()
	d, err := loadDoc()
	require.NoError(tb, err)
	return d
}

var filterOptions = &openapi3filter.Options{
	IncludeResponseStatus: true,
	MultiError:            true,
	AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		scheme, _, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return errors.New("no Bearer credentials")
		}
		return nil
	},
}

// validateRequest checks a request (with its body) against the document.
func validateRequest(tb testing.TB, r *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	tb.Helper()
	d := mustDoc(tb)
	clone := r.Clone(context.Background())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := d.router.FindRoute(clone)
	if err != nil {
		return nil, err
	}
	in := &openapi3filter.RequestValidationInput{Request: clone, PathParams: params, Route: route, Options: filterOptions}
	return in, openapi3filter.ValidateRequest(context.Background(), in)
}

// checkExchange validates the answer always and the request when it was
// accepted (see testBundle.do).
func checkExchange(tb testing.TB, r *http.Request, body []byte, rec *httptest.ResponseRecorder) {
	tb.Helper()
	in, reqErr := validateRequest(tb, r, body)
	if in == nil {
		require.NoError(tb, reqErr, "route of %s %s is not in openapi.json", r.Method, r.URL.Path)
	}
	if rec.Code >= 200 && rec.Code < 300 {
		require.NoError(tb, reqErr, "openapi.json rejects a request the server accepted")
	}
	res := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Options:                filterOptions,
	}
	res.SetBodyBytes(rec.Body.Bytes())
	require.NoError(tb, openapi3filter.ValidateResponse(context.Background(), res),
		"answer %d to %s %s does not match openapi.json: %s", rec.Code, r.Method, r.URL.Path, rec.Body.String())
}

func TestOpenAPIDocumentLoads(t *testing.T) {
	t.Parallel()
	d := mustDoc(t)
	require.True(t, d.doc.IsOpenAPI31OrLater())

	b := setup(t)
	rec := b.do(t, request(http.MethodGet, "/openapi.json", ""))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, web.OpenAPI(), rec.Body.Bytes())
}

// Every route the server answers is described, and every described
// operation is served.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	d := mustDoc(t)
	b := setup(t)
	b.srv.MountChannels(web.ChannelRoutes{Previews: fakePreviewer{}, Capabilities: fakeCapability})
	b.srv.MountSubjects(&fakeEraser{})
	param := regexp.MustCompile(`:([a-z_]+)`)
	served := map[string]bool{}
	for _, rt := range b.srv.Echo().Routes() {
		if rt.Method == "echo_route_not_found" {
			continue
		}
		path := param.ReplaceAllString(rt.Path, "{$1}")
		served[rt.Method+" "+path] = true
		item := d.doc.Paths.Find(path)
		require.NotNil(t, item, "path %s is not in openapi.json", path)
		require.NotNil(t, item.GetOperation(rt.Method), "%s %s is not in openapi.json", rt.Method, path)
	}
	for path, item := range d.doc.Paths.Map() {
		for method := range item.Operations() {
			require.True(t, served[method+" "+path], "openapi.json describes %s %s, which is not served", method, path)
		}
	}
}

// The document is as strict as the server on what its schemas can express:
// requests the server rejects for their shape are rejected by the document
// too. (Rules that need a numbering plan or a clock are the server's alone.)
func TestOpenAPIRejectsWhatTheServerRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range invalidCases() {
		if tc.semantic || tc.header != nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := request(http.MethodPost, "/v1/messages", tc.body)
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			_, err := validateRequest(t, r, []byte(tc.body))
			require.Error(t, err, "openapi.json accepts a request the server rejects")
		})
	}
}
