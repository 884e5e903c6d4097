// Package api holds the HTTP contract, api/openapi.yaml, embedded so the
// server can serve it and tests can check responses against it.
package api

import _ "embed"

// Spec is the OpenAPI 3.1 document describing every endpoint.
//
//go:embed openapi.yaml
var Spec []byte
