package sms_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy/sms"
)

// The worked example of Twilio's request-validation documentation (and
// its SDKs' tests): this URL, these parameters and the token 12345 sign
// as RSOYDt4T1cUTdK1PDd93/VVr8B8= — checked independently with
//
//	printf '%s' 'https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDE\
//	Caller+14158675309Digits1234From+14158675309To+18005551212' |
//	  openssl dgst -sha1 -hmac 12345 -binary | openssl base64
const (
	docURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
	docToken = "12345"
	docSig   = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
)

func docParams() url.Values {
	return url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675309"}, "Digits": {"1234"},
		"From": {"+14158675309"}, "To": {"+18005551212"}}
}

// TestSignature: the provider's example signs as documented, and any
// change to the body, the URL, the token or the signature is refused.
func TestSignature(t *testing.T) {
	require.Equal(t, docSig, sms.Signature(docToken, docURL, docParams()))
	tampered := func(edit func(v url.Values)) url.Values {
		v := docParams()
		edit(v)
		return v
	}
	for _, tc := range []struct {
		name      string
		token     string
		url       string
		params    url.Values
		signature string
		valid     bool
	}{
		{"the documented request", docToken, docURL, docParams(), docSig, true},
		{"a changed parameter", docToken, docURL, tampered(func(v url.Values) { v.Set("Digits", "1235") }), docSig, false},
		{"an added parameter", docToken, docURL, tampered(func(v url.Values) { v.Set("Body", "STOP") }), docSig, false},
		{"a removed parameter", docToken, docURL, tampered(func(v url.Values) { v.Del("Caller") }), docSig, false},
		{"a value moved to another name", docToken, docURL, tampered(func(v url.Values) { v.Set("To", "+14158675309"); v.Set("From", "+18005551212") }), docSig, false},
		{"another URL", docToken, "https://mycompany.com/myapp.php?foo=1&bar=3", docParams(), docSig, false},
		{"another scheme", docToken, "http://mycompany.com/myapp.php?foo=1&bar=2", docParams(), docSig, false},
		{"another token", "12346", docURL, docParams(), docSig, false},
		{"no token configured", "", docURL, docParams(), docSig, false},
		{"no signature", docToken, docURL, docParams(), "", false},
		{"one character off", docToken, docURL, docParams(), "RSOYDt4T1cUTdK1PDd93/VVr8B8A", false},
		{"a prefix of it", docToken, docURL, docParams(), docSig[:20], false},
		{"lower-cased", docToken, docURL, docParams(), "rsoydt4t1cutdk1pdd93/vvr8b8=", false},
	} {
		require.Equal(t, tc.valid, sms.ValidSignature(tc.token, tc.url, tc.params, tc.signature), tc.name)
	}
	// Repeated names sign each value, in order, whatever order they came in.
	a := url.Values{"Media": {"b", "a"}, "Body": {"x"}}
	b := url.Values{"Body": {"x"}, "Media": {"a", "b"}}
	require.Equal(t, sms.Signature("t", "https://x", a), sms.Signature("t", "https://x", b))
}

// TestSignatureComparedInConstantTime: ValidSignature compares with
// hmac.Equal, whose time does not depend on where the signatures differ,
// and with no == or bytes.Equal that would stop at the first difference. A
// timing measurement would be too noisy to fail reliably; the source says
// it exactly.
func TestSignatureComparedInConstantTime(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "signature.go", nil, 0)
	require.NoError(t, err)
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if d, ok := d.(*ast.FuncDecl); ok && d.Name.Name == "ValidSignature" {
			fn = d
		}
	}
	require.NotNil(t, fn)
	usesHMACEqual, comparesOtherwise := false, false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok {
				usesHMACEqual = usesHMACEqual || (x.Name == "hmac" && n.Sel.Name == "Equal")
				comparesOtherwise = comparesOtherwise || (x.Name == "bytes" && n.Sel.Name == "Equal") || (x.Name == "strings" && n.Sel.Name == "EqualFold")
			}
		case *ast.BinaryExpr:
			if n.Op == token.EQL || n.Op == token.NEQ {
				if lit, ok := n.Y.(*ast.BasicLit); !ok || lit.Value != `""` {
					comparesOtherwise = true
				}
			}
		}
		return true
	})
	require.True(t, usesHMACEqual, "ValidSignature compares with hmac.Equal")
	require.False(t, comparesOtherwise, "and with nothing that stops at the first difference")
}

// FuzzValidSignature checks the webhook signature on any token, URL and
// parameters: a request carrying its own signature is valid (with a
// token), one whose signature differs in any byte is not, and without a
// token or a signature nothing is.
func FuzzValidSignature(f *testing.F) {
	f.Add(docToken, docURL, "From", "+14158675309", "Body", "U57709#1#2", 0)
	f.Add("", docURL, "From", "+1", "Body", "x", 3)
	f.Add("t", "", "", "", "", "", 27)
	f.Add("tok\x00en", "https://h.example/p?q=\xff", "Body", "\xed\xa0\x80", "Body", "two values", 5)
	f.Fuzz(func(t *testing.T, token, fullURL, k1, v1, k2, v2 string, flip int) {
		params := url.Values{}
		params.Add(k1, v1)
		params.Add(k2, v2)
		sig := sms.Signature(token, fullURL, params)
		if got := sms.ValidSignature(token, fullURL, params, sig); got != (token != "") {
			t.Fatalf("own signature valid = %v with token %q", got, token)
		}
		if sms.ValidSignature(token, fullURL, params, "") {
			t.Fatal("an empty signature is valid")
		}
		b := []byte(sig)
		i := (flip%len(b) + len(b)) % len(b)
		b[i] ^= 1
		if sms.ValidSignature(token, fullURL, params, string(b)) {
			t.Fatalf("signature %q with byte %d changed is still valid", sig, i)
		}
	})
}
