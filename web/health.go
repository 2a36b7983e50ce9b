package web

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// DefaultReadyTimeout bounds one /readyz probe unless Config says otherwise;
// a checker still running then counts as failed ("timeout"), so a hung
// dependency cannot hang the probe (and the orchestrator's probe timeout is
// commonly a few seconds).
const DefaultReadyTimeout = 3 * time.Second

// Readiness is the body of /readyz.
type Readiness struct {
	Status string        `json:"status"` // "ok" or "unavailable"
	Checks []CheckResult `json:"checks"`
}

// CheckResult is one checker's verdict: "ok", "fail" or "timeout". The
// checker's error is logged, not shown.
type CheckResult struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

func (s *Server) healthz(c echo.Context) error {
	return writeJSON(c, http.StatusOK, echo.MIMEApplicationJSON, map[string]string{"status": "ok"})
}

// readyz runs every checker concurrently and answers 503 when any fails, so
// a load balancer stops sending traffic while the store or a carrier link is
// down.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.readyTTL)
	defer cancel()
	type result struct {
		i   int
		err error
	}
	// Buffered so that a checker finishing after the deadline does not block
	// forever: the probe does not wait for one that ignores ctx.
	results := make(chan result, len(s.checkers))
	out := Readiness{Status: "ok", Checks: make([]CheckResult, len(s.checkers))}
	causes := make([]error, len(s.checkers))
	for i, ch := range s.checkers {
		out.Checks[i] = CheckResult{Name: ch.Name(), Status: "timeout"}
		causes[i] = context.DeadlineExceeded
		go func() { results <- result{i, ch.Check(ctx)} }()
	}
wait:
	for range s.checkers {
		select {
		case r := <-results:
			causes[r.i] = r.err
			switch {
			case r.err == nil:
				out.Checks[r.i].Status = "ok"
			case !errors.Is(r.err, context.DeadlineExceeded):
				out.Checks[r.i].Status = "fail"
			}
		case <-ctx.Done():
			break wait
		}
	}
	status := http.StatusOK
	for i, r := range out.Checks {
		if r.Status == "ok" {
			continue
		}
		out.Status, status = "unavailable", http.StatusServiceUnavailable
		s.log.LogAttrs(ctx, slog.LevelWarn, "readiness check failed", slog.String("request_id", RequestID(c)),
			slog.String("check", r.Name), slog.String("status", r.Status), slog.Any("err", causes[i]))
	}
	return writeJSON(c, status, echo.MIMEApplicationJSON, out)
}

// openAPI is the hand-written description of the API; openapi_test.go checks
// real traffic against it.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document served at /openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI)
}
