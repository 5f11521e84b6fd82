package httpapi

import (
	"slices"
	"testing"

	"github.com/canopyhq/canopy"
)

// TestDocumentedEventTypesAreTheEventTypes keeps the document's EventType
// enum equal to canopy.EventTypes, so a generated client knows every type
// a webhook may bring and none that never comes.
func TestDocumentedEventTypesAreTheEventTypes(t *testing.T) {
	t.Parallel()
	var documented []string
	for _, v := range at(contractOrFatal(t).doc, "components", "schemas", "EventType", "enum").([]any) {
		documented = append(documented, v.(string))
	}
	slices.Sort(documented)
	if !slices.Equal(documented, canopy.EventTypes) {
		t.Errorf("openapi.yaml EventType enum:\n  %v\ncanopy.EventTypes:\n  %v", documented, canopy.EventTypes)
	}
}
