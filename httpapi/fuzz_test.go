package httpapi

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// writeBodies makes a value of every write body's type, by route; the
// request bodies decodeJSON decodes. TestEveryWriteBodyIsFuzzed keeps it
// equal to the routes openapi.yaml gives a JSON request body.
var writeBodies = map[string]func() any{
	"POST /v1/accounts":           func() any { return new(service.CreateChildInput) },
	"PATCH /v1/accounts/{id}":     func() any { return new(service.AccountPatch) },
	"POST /v1/accounts/{id}/move": func() any { return new(moveRequest) },
	// Actions that take an empty object at most (optionalEmptyBody).
	"POST /v1/accounts/{id}/suspend":                          func() any { return new(struct{}) },
	"POST /v1/accounts/{id}/reactivate":                       func() any { return new(struct{}) },
	"POST /v1/accounts/{id}/users/{userId}/disable":           func() any { return new(struct{}) },
	"POST /v1/accounts/{id}/users/{userId}/enable":            func() any { return new(struct{}) },
	"POST /v1/accounts/{id}/users/{userId}/resend-invitation": func() any { return new(struct{}) },
	"POST /v1/invitations/{invitationId}/accept":              func() any { return new(struct{}) },
	"POST /v1/invitations/{invitationId}/decline":             func() any { return new(struct{}) },
	"POST /v1/invitations/{invitationId}/cancel":              func() any { return new(struct{}) },
	"POST /v1/invitations/{invitationId}/resend":              func() any { return new(struct{}) },
	"POST /v1/me/memberships/{userId}/accept":                 func() any { return new(struct{}) },
	"POST /v1/me/memberships/{userId}/decline":                func() any { return new(struct{}) },
	"POST /v1/auth/confirm-email":                             func() any { return new(service.ConfirmEmailInput) },
	"PUT /v1/accounts/{id}/workflows":                         func() any { return new(workflowsRequest) },
	"POST /v1/accounts/{id}/api-keys":                         func() any { return new(createKeyRequest) },
	"POST /v1/accounts/{id}/users":                            func() any { return new(service.CreateUserInput) },
	"PATCH /v1/accounts/{id}/users/{userId}":                  func() any { return new(service.UserPatch) },
	"POST /v1/auth/login":                                     func() any { return new(service.LoginInput) },
	"POST /v1/auth/set-password":                              func() any { return new(service.SetPasswordInput) },
	"POST /v1/auth/password-reset":                            func() any { return new(passwordResetRequest) },
	"POST /v1/invitations":                                    func() any { return new(service.InvitationInput) },
	"POST /v1/contacts":                                       func() any { return new(service.ContactInput) },
	"PATCH /v1/contacts/{contactId}":                          func() any { return new(service.ContactPatch) },
	"POST /v1/signup":                                         func() any { return new(service.SignupInput) },
	"POST /v1/forms":                                          func() any { return new(service.FormInput) },
	"PATCH /v1/forms/{formId}":                                func() any { return new(service.FormPatch) },
	"PUT /v1/forms/{formId}/example":                          func() any { return new(exampleRequest) },
	"POST /v1/forms/{formId}/copy":                            func() any { return new(copyRequest) },
	"PUT /v1/forms/{formId}/shares/{accountId}":               func() any { return new(shareRequest) },
	"POST /v1/forms/{formId}/records":                         func() any { return new(service.RecordInput) },
	"PATCH /v1/forms/{formId}/records/{recordId}":             func() any { return new(service.RecordInput) },
	"PATCH /v1/forms/{formId}/sms":                            func() any { return new(service.SMSSettingsPatch) },
	"POST /v1/forms/{formId}/sms/collectors":                  func() any { return new(service.CollectorsInput) },
	"POST /v1/forms/{formId}/links":                           func() any { return new(service.LinkInput) },
	"PATCH /v1/accounts/{id}/link":                            func() any { return new(service.LinkPatch) },
	"POST /v1/accounts/{id}/credits/grants":                   func() any { return new(service.GrantInput) },
	"POST /v1/accounts/{id}/credits/transfers":                func() any { return new(service.GrantInput) },
	"PUT /v1/accounts/{id}/credits/limits":                    func() any { return new(service.LimitInput) },
	"POST /v1/usage":                                          func() any { return new(service.UsageInput) },
	"POST /v1/webhook-endpoints":                              func() any { return new(service.WebhookEndpointInput) },
	"PATCH /v1/webhook-endpoints/{endpointId}":                func() any { return new(service.WebhookEndpointInput) },
	"POST /v1/webhook-endpoints/{endpointId}/rotate-secret":   func() any { return new(rotateSecretRequest) },
}

// rawBodies are the write bodies that are not JSON to decode: configuration
// payloads, stored as they come (checked by canopy.ValidateConfigValue),
// and the SMS provider's form post (checked by canopy.ValidateFormValues).
var rawBodies = []string{"PUT /v1/accounts/{id}/configurations/{namespace}", "POST /v1/sms/inbound"}

func TestEveryWriteBodyIsFuzzed(t *testing.T) {
	c := contractOrFatal(t)
	for path, item := range obj(c.doc["paths"]) {
		for method, op := range obj(item) {
			if _, ok := obj(op)["requestBody"]; !ok {
				continue
			}
			key := strings.ToUpper(method) + " " + path
			if _, ok := writeBodies[key]; !ok && !slices.Contains(rawBodies, key) {
				t.Errorf("%s takes a body that FuzzDecodeWriteBodies does not decode: add it to writeBodies", key)
			}
		}
	}
}

// FuzzDecodeWriteBodies decodes each input as every write body. Whatever
// the bytes, decoding never panics and never fails in a way the client
// is not told about (every error is a 400 or 422 problem); and a body it
// accepts holds only text Canopy stores — valid UTF-8 without NUL — in
// every string, map key included, so nothing a client can send reaches
// the service as something else.
func FuzzDecodeWriteBodies(f *testing.F) {
	for _, seed := range []string{
		`{"account":{"name":"Acme","email":"ops@acme.example","metadata":{"k":"v"}},"users":[{"email":"u@x.example"}],` +
			`"configurations":{"ns":{"a":[1,"b"]}},"externalReferences":[{"type":"crm","value":"C-1"}]}`,
		`{"name":"F","questions":[{"id":"q","label":"L","type":"choice","options":["a","b"]}]}`,
		`{"answers":{"q":"a","n":1e3,"loc":{"lat":1,"lng":2}}}`,
		`{"login":"ada@example.com","password":"violet tractor hums quietly 4821"}`,
		`{"type":"message","quantity":1,"reference":"caf\u00e9 \ud83d\ude00"}`,
		`{"name":"a\u0000b"}`, `{"name":"\ud800"}`, `{"name":"x\udc00y"}`, "{\"name\":\"\xff\xfe\"}",
		"{\"name\":\"\xc0\xaf\"}", "{\"name\":\"\xed\xa0\x80\"}", `{"\u0000":1}`, `{"answers":{"q":"\ud800\u0041"}}`,
		`[]`, `null`, `{"a":`, `"str"`, `{"quantity":1e400}`, `{"quantity":-9223372036854775809}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for route, make := range writeBodies {
			v := make()
			err := decodeJSON(raw, v)
			if err != nil {
				k := canopy.ErrorKind(err)
				if k != canopy.KindBadRequest && k != canopy.KindInvalid {
					t.Fatalf("%s: %q: decoding failed with kind %d: %v", route, raw, k, err)
				}
				continue
			}
			var replaced int
			if path, bad := badText(reflect.ValueOf(v), "", &replaced); bad != "" {
				t.Fatalf("%s: %q was accepted, but %s holds %q", route, raw, path, bad)
			}
			// encoding/json turns invalid UTF-8 and lone surrogates into
			// U+FFFD; every U+FFFD accepted must be one the client sent.
			sent := strings.Count(strings.ToLower(string(raw)), `\ufffd`) + strings.Count(string(raw), string(utf8.RuneError))
			if replaced > sent {
				t.Fatalf("%s: %q was accepted with %d U+FFFD where the client sent %d: bytes were replaced", route, raw, replaced, sent)
			}
		}
	})
}

// badText finds a string in v that is not text Canopy stores (raw JSON
// included), returning its path and value; it counts the U+FFFD in the
// decoded strings into replaced.
func badText(v reflect.Value, path string, replaced *int) (string, string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "", ""
		}
		return badText(v.Elem(), path, replaced)
	case reflect.String:
		s := v.String()
		*replaced += strings.Count(s, string(utf8.RuneError))
		if canopy.TextProblem(s) != "" {
			return path, s
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				continue
			}
			if p, s := badText(v.Field(i), path+"."+v.Type().Field(i).Name, replaced); s != "" {
				return p, s
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 { // raw JSON: its strings, as the walker reads them
			if fe := canopy.JSONTextProblem(v.Bytes(), path); fe != nil {
				return fe.Field, string(v.Bytes())
			}
			return "", ""
		}
		for i := range v.Len() {
			if p, s := badText(v.Index(i), path+"[]", replaced); s != "" {
				return p, s
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if p, s := badText(k, path+"{}", replaced); s != "" {
				return p, s
			}
			if p, s := badText(v.MapIndex(k), path+"."+k.String(), replaced); s != "" {
				return p, s
			}
		}
	}
	return "", ""
}
