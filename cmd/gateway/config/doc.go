// Package config reads the gateway's YAML configuration file (the format is
// in shared/CONTRACT.md, "Configuration") into plain structs: it replaces
// ${VAR} from the environment, applies defaults, and validates, reporting
// every problem with its YAML path ("carriers[0].smpp.tps: must be between 1
// and 100000") and, where known, its line, so that `gateway check-config`
// can print them all at once.
//
// Decoding is strict: an unknown key is a problem, and so is a value of the
// wrong type. Relative file names in a file read by [Load] (rbm
// credentials_file, smpp ca_file, tls cert_file and key_file, and the path of
// a sqlite: database) are taken relative to the directory of the config file,
// not to the working directory, so a config can be moved together with its
// files; [Parse], which has no file, leaves them relative to the working
// directory.
//
// ${NAME} in a value (never in a key or a comment) is replaced by the
// environment variable NAME, and an unset variable is a problem; "$${"
// stands for a literal "${", and a "$" not followed by "{" is kept as is.
// Inside a flow mapping ({key: value}) YAML needs the value quoted:
// {key: "${NAME}"}.
//
// Only cmd/gateway uses this package; other packages own their own Config
// structs and cmd/gateway copies these values into them. It may import
// gopkg.in/yaml.v3, github.com/nyaruka/phonenumbers, gateway/unify and the
// standard library.
package config
