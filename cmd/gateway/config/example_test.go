package config_test

import (
	"errors"
	"fmt"

	"gateway/cmd/gateway/config"
)

// check-config prints every problem, with its line, and exits 2.
func ExampleParse() {
	src := `listen: 127.0.0.1:8080
api_keys:
  - {name: backend, key: "${GATEWAY_API_KEY}"}
senders:
  - {name: acme, sms_source: ACME, default_policy: promo}
carriers:
  - name: sim-fr
    prefixes: ["+33"]
    smpp: {address: "127.0.0.1:2775", system_id: gw, tsp: 10}
privacy: {encryption: "off"}
`
	lookupEnv := func(string) (string, bool) { return "", false }
	_, err := config.Parse([]byte(src), lookupEnv)
	var ps *config.Problems
	if errors.As(err, &ps) {
		for _, p := range *ps {
			fmt.Printf("gateway.yaml:%d: %s\n", p.Line, p)
		}
	}
	// Output:
	// gateway.yaml:3: api_keys[0].key: environment variable GATEWAY_API_KEY is not set
	// gateway.yaml:5: senders[0].default_policy: no policy named "promo"
	// gateway.yaml:9: carriers[0].smpp.tsp: unknown key (did you mean "tps"?)
}
