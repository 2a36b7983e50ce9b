package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gateway/cmd/gateway/config"
)

// FuzzParse checks that no input makes Parse panic or break its promises:
// an error is always a non-empty *Problems, and a File comes back whenever
// there is no error. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	contract, err := os.ReadFile(filepath.Join("testdata", "contract.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(contract)
	f.Add([]byte(minimal))
	f.Add([]byte(baseYAML))
	lookup := env(map[string]string{"GATEWAY_API_KEY": "0123456789abcdef", "KEY": contentKey, "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := config.Parse(data, lookup)
		if err == nil {
			if file == nil {
				t.Fatal("no error and no File")
			}
			_ = file.UnifyPolicies()
			_ = file.UnifySenders()
			if err := file.Validate(); err != nil {
				t.Fatalf("Parse accepted what Validate refuses: %v", err)
			}
			return
		}
		var ps *config.Problems
		if !errors.As(err, &ps) || len(*ps) == 0 {
			t.Fatalf("error is not a non-empty *Problems: %T %v", err, err)
		}
		if strings.TrimSpace(err.Error()) == "" {
			t.Fatal("empty error text")
		}
		if file != nil {
			_ = file.UnifyPolicies()
			if file.Validate() == nil {
				t.Fatalf("File returned with problems %v, but it validates", err)
			}
		}
	})
}
