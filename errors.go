package canopy

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind classifies an application error. The HTTP layer maps each kind to one
// status code; the store and service layers only ever choose a kind.
type Kind int

// The error kinds. KindInternal is the zero value so that an error nobody
// classified is never shown to a client.
const (
	KindInternal Kind = iota
	KindBadRequest
	KindInvalid
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindConflict
	KindTooLarge
	KindPreconditionFailed
	KindUnavailable
	KindTooManyRequests
	KindPaymentRequired
	KindUnsupportedMediaType
)

// Stable error codes. Clients match on these; they never change meaning.
const (
	CodeInternal             = "internal"
	CodeBadRequest           = "bad-request"
	CodeMalformedJSON        = "malformed-json"
	CodeValidation           = "validation-failed"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not-found"
	CodeConflict             = "conflict"
	CodeBodyTooLarge         = "body-too-large"
	CodeInvalidCursor        = "invalid-cursor"
	CodeInvalidID            = "invalid-id"
	CodeCycle                = "cycle"
	CodeDepthLimit           = "depth-limit-exceeded"
	CodeAccountSuspended     = "account-suspended"
	CodeAccountClosed        = "account-closed"
	CodeHasChildren          = "has-children"
	CodeInvalidState         = "invalid-state"
	CodeEmailTaken           = "email-taken"
	CodeUsernameTaken        = "username-taken"
	CodeExternalRefExists    = "external-reference-exists"
	CodeIdempotencyMismatch  = "idempotency-key-reused"
	CodeIdempotencyInFlight  = "idempotency-key-in-flight"
	CodeLastKey              = "last-api-key"
	CodeUnavailable          = "unavailable"
	CodeBusy                 = "busy"
	CodeUnsupportedMediaType = "unsupported-media-type"
	CodeInvalidCredentials   = "invalid-credentials"
	CodeLoginThrottled       = "login-throttled"
	CodeLoginLocked          = "login-locked"
	CodeRateLimited          = "rate-limited"
	CodeInvalidToken         = "invalid-token"
	CodeWeakPassword         = "weak-password"
	CodeUserDisabled         = "user-disabled"
	CodeLastAdmin            = "last-admin"
	CodePlanNotAllowed       = "plan-not-allowed"
	CodeInvitationPending    = "invitation-pending"
	CodeHasUmbrella          = "has-umbrella"
	CodeCreatedLink          = "created-link"
	CodeSignupDisabled       = "signup-disabled"
	CodeContactExists        = "contact-exists"
	CodeVersionMismatch      = "version-mismatch"
	CodeInsufficientCredits  = "insufficient-credits"
	CodeChildLimitExceeded   = "child-limit-exceeded"
	CodeEmailQuota           = "email-quota"
	CodeFormQuota            = "form-quota"
	CodeAlreadyMember        = "already-member"
	CodePersonManaged        = "person-managed"
)

// FieldError names one bad input field. Field is a dotted path into the
// request ("account.name", "users[1].email"); for headers and query
// parameters it is the parameter name.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is the one application error type. Message is safe to show to a
// client; anything that is not an *Error is internal and is logged, never
// shown.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []FieldError
	// RetryAfter, when set, tells the client when to try again.
	RetryAfter time.Duration
	// Shortfall, on a refused debit, says whose credits or cap fell short.
	Shortfall *Shortfall
	// Quota, on a write refused by a plan's limit, names the limit.
	Quota *Quota
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Field, e.Fields[0].Message)
}

// Errorf returns an application error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns the error every invisible or missing resource answers
// with, so that ids cannot be probed.
func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Code: CodeNotFound, Message: what + " not found"}
}

// ErrorKind returns the kind of err, or KindInternal when err is not an
// application error.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// CallerLeft says whether err is no application error but only ctx
// ending — its caller went away, or its deadline passed, before the
// answer: nothing went wrong on our side, so the front ends log it as
// that, not as an internal error.
func CallerLeft(ctx context.Context, err error) bool {
	var e *Error
	cerr := ctx.Err()
	return cerr != nil && err != nil && !errors.As(err, &e) && errors.Is(err, cerr)
}

// ErrorCode returns the stable code of err, or CodeInternal.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Validator collects field errors so that one response names every bad
// field, not just the first.
type Validator struct {
	fields []FieldError
}

// Add records a bad field.
func (v *Validator) Add(field, code, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

// Check records a bad field when ok is false.
func (v *Validator) Check(ok bool, field, code, format string, args ...any) {
	if !ok {
		v.Add(field, code, format, args...)
	}
}

// Err returns a validation error naming every recorded field, or nil.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msg := "the request has invalid fields"
	if len(v.fields) == 1 {
		msg = v.fields[0].Field + ": " + v.fields[0].Message
	}
	return &Error{Kind: KindInvalid, Code: CodeValidation, Message: msg, Fields: v.fields}
}

// InvalidField returns a validation error for one field.
func InvalidField(field, code, format string, args ...any) *Error {
	var v Validator
	v.Add(field, code, format, args...)
	return v.Err().(*Error)
}

// BadParam returns a 400 error for a malformed query parameter, path
// parameter or header; code is both the error's and the field's code.
func BadParam(field, code, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Kind: KindBadRequest, Code: code, Message: field + ": " + msg,
		Fields: []FieldError{{Field: field, Code: code, Message: msg}}}
}

// ConflictField returns a 409 error caused by one field's value, such as an
// email address already in use.
func ConflictField(field, code, format string, args ...any) *Error {
	e := BadParam(field, code, format, args...)
	e.Kind = KindConflict
	return e
}
