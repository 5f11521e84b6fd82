package sms

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// SignatureHeader carries a provider's signature of a webhook request.
const SignatureHeader = "X-Twilio-Signature"

// Signature is what a Twilio-compatible provider sends in
// X-Twilio-Signature with a webhook request to fullURL (scheme, host, path
// and query, as the provider was told to call it) carrying the form
// parameters params: the base64 of the HMAC-SHA1, keyed with the account's
// auth token, of the URL followed by each parameter's name and value, by
// name in byte order (a repeated name's values in byte order too).
func Signature(authToken, fullURL string, params url.Values) string {
	var b strings.Builder
	b.WriteString(fullURL)
	for _, name := range slices.Sorted(maps.Keys(params)) {
		values := slices.Clone(params[name])
		slices.Sort(values)
		for _, v := range values {
			b.WriteString(name)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidSignature reports whether signature is the provider's signature of
// a request to fullURL with params, comparing in constant time. Without an
// auth token nothing is valid.
func ValidSignature(authToken, fullURL string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	return hmac.Equal([]byte(Signature(authToken, fullURL, params)), []byte(signature))
}
