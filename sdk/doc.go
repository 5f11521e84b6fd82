// Package sdk is the Go client of Canopy's HTTP API.
//
// client.gen.go is generated from the API's contract, httpapi/openapi.yaml,
// by oapi-codegen (the version go.mod pins with its tool directive):
// every operation, request and response type. The hand-written rest wraps
// it where that helps: an API key and the acting account (X-Customer-Id)
// given once, idempotency keys on every POST, typed problem errors, and
// pagination as iter.Seq2. TestGeneratedClientIsCurrent fails when the
// document changes and client.gen.go was not made again.
package sdk

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../httpapi/openapi.yaml
