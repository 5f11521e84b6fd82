package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/service"
)

// TestDecodingErrorsNameTheFullPath: a body that does not decode names the
// field the way validation errors do — users[1].rol, not rol.
func TestDecodingErrorsNameTheFullPath(t *testing.T) {
	tests := []struct {
		body, field, code string
	}{
		{`{"account": {"name": 5}}`, "account.name", "wrong-type"},
		{`{"account": {"name": {"a": 1}}}`, "account.name", "wrong-type"},
		{`{"users": [{"email": "a@b.c"}, {"email": "b@c.d", "role": 7}]}`, "users[1].role", "wrong-type"},
		{`{"users": [{"email": "a@b.c"}, {"email": "b@c.d", "rol": "x"}]}`, "users[1].rol", "unknown-field"},
		{`{"account": {"name": "x", "metadata": {"k": 5}}}`, "account.metadata.k", "wrong-type"},
		{`{"users": {"x": 1}}`, "users", "wrong-type"},
		{`{"masterUser": {"email": "a@b.c", "Nmae": "x"}}`, "masterUser.Nmae", "unknown-field"},
		{`{"account": {"name": "x"}, "colour": 1}`, "colour", "unknown-field"},
		{`{"externalReferences": [{"type": "crm", "value": "1", "metadata": {"k": "v"}, "note": ""}]}`, "externalReferences[0].note", "unknown-field"},
		{`[1]`, "body", "wrong-type"},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			var in service.CreateChildInput
			err := decodeJSON([]byte(tc.body), &in)
			var e *canopy.Error
			require.ErrorAs(t, err, &e)
			require.Len(t, e.Fields, 1, "%v", err)
			require.Equal(t, tc.field, e.Fields[0].Field)
			require.Equal(t, tc.code, e.Fields[0].Code)
		})
	}
}
