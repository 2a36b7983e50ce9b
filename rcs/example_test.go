package rcs_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"gateway/rcs"
	"gateway/unify"
)

// A Client sends a unified message as an RBM agent message. Here a local
// server stands in for RBM; in production BaseURL is left empty and
// CredentialsFile names the service-account key.
func ExampleClient() {
	rbm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(r.Method, r.URL.Path)
		fmt.Println("messageId:", r.URL.Query().Get("messageId"))
		fmt.Println(string(body))
		_, _ = io.WriteString(w, "{}")
	}))
	defer rbm.Close()

	client, err := rcs.NewClient(rcs.ClientConfig{Carrier: "sim-fr", BaseURL: rbm.URL, Token: "static-token"})
	if err != nil {
		fmt.Println(err)
		return
	}
	content := unify.Content{Text: "Your order shipped", Suggestions: []unify.Suggestion{
		{Type: unify.SuggestReply, Text: "Track", Postback: "track_1001"},
	}}
	if errs := rcs.CheckLimits(&content); errs != nil {
		fmt.Println(errs)
		return
	}
	// The attempt id is the messageId: a retry with it is not delivered twice.
	err = client.SendMessage(context.Background(), "+33612345678", "acme_agent",
		"6f1c0a1e-5d8b-4c0e-9a41-2f3b7c9d0e11", rcs.Convert(&content))
	fmt.Println("error:", err)
	// Output:
	// POST /v1/phones/+33612345678/agentMessages
	// messageId: 6f1c0a1e-5d8b-4c0e-9a41-2f3b7c9d0e11
	// {"contentMessage":{"text":"Your order shipped","suggestions":[{"reply":{"text":"Track","postbackData":"track_1001"}}]}}
	// error: <nil>
}
