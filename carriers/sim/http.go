package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Handler returns the Sim's HTTP handler: the control API under /control/
// plus whatever was mounted with Handle.
func (s *Sim) Handler() http.Handler { return s.mux }

// Handle mounts another handler on the Sim's HTTP mux (net/http patterns,
// e.g. "POST /v1/phones/{phone}/agentMessages" or "/mm7/"). This is where
// the RBM-compatible API, the MM7 relay and the handset page are attached;
// it is safe to call after Start.
func (s *Sim) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// routes registers the control API. Other simulated services add their own
// routes through Handle (or a routesXxx method called from New).
func (s *Sim) routes() {
	m := s.mux
	m.HandleFunc("POST /control/mo", func(w http.ResponseWriter, r *http.Request) {
		var mo MO
		if !decode(w, r, &mo) {
			return
		}
		if err := s.InjectMO(mo); err != nil {
			writeError(w, statusFor(err), err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST /control/drop", func(w http.ResponseWriter, r *http.Request) {
		s.DropBinds()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST /control/refuse-binds", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Seconds *float64 `json:"seconds"`
		}
		if !decode(w, r, &in) {
			return
		}
		if in.Seconds == nil || *in.Seconds < 0 {
			writeError(w, http.StatusBadRequest, errors.New("seconds: required, >= 0"))
			return
		}
		s.RefuseBinds(time.Duration(*in.Seconds * float64(time.Second)))
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	count := func(f func(int)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var in struct {
				Count *int `json:"count"`
			}
			if !decode(w, r, &in) {
				return
			}
			if in.Count == nil || *in.Count < 0 {
				writeError(w, http.StatusBadRequest, errors.New("count: required, >= 0"))
				return
			}
			f(*in.Count)
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		}
	}
	m.HandleFunc("POST /control/throttle", count(s.Throttle))
	m.HandleFunc("POST /control/queue-full", count(s.QueueFull))
	m.HandleFunc("POST /control/stall", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			On *bool `json:"on"`
		}
		if !decode(w, r, &in) {
			return
		}
		if in.On == nil {
			writeError(w, http.StatusBadRequest, errors.New("on: required"))
			return
		}
		s.Stall(*in.On)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST /control/tps", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			TPS *int `json:"tps"`
		}
		if !decode(w, r, &in) {
			return
		}
		if in.TPS == nil || *in.TPS < 0 {
			writeError(w, http.StatusBadRequest, errors.New("tps: required, >= 0"))
			return
		}
		s.SetTPSLimit(*in.TPS)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST /control/receipts", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Auto *bool `json:"auto"`
		}
		if !decode(w, r, &in) {
			return
		}
		if in.Auto == nil {
			writeError(w, http.StatusBadRequest, errors.New("auto: required"))
			return
		}
		s.SetAutoReceipts(*in.Auto)
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("POST /control/receipt", func(w http.ResponseWriter, r *http.Request) {
		var rc Receipt
		if !decode(w, r, &rc) {
			return
		}
		if err := s.SendReceipt(rc); err != nil {
			writeError(w, statusFor(err), err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	m.HandleFunc("GET /control/submits", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Submits())
	})
	m.HandleFunc("GET /control/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Messages())
	})
	m.HandleFunc("GET /control/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	m.HandleFunc("POST /control/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}

// statusFor maps InjectMO/SendReceipt errors: nobody bound is a conflict
// with the current state (409), anything else is bad input (400).
func statusFor(err error) int {
	if errors.Is(err, errNoReceiver) {
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// decode reads a JSON body strictly (unknown fields and trailing data are
// errors) and answers 400 itself on failure. An empty body is an empty object.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		err = nil
	} else if err == nil && dec.More() {
		err = errors.New("trailing data after JSON value")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("sim: bad JSON body: %w", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
