package canopy

import "regexp"

// MaxWorkflows bounds how many workflows one account may have.
const MaxWorkflows = 100

var workflowPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidateWorkflows checks a list of workflow names: well formed and none
// named twice.
func ValidateWorkflows(v *Validator, field string, names []string) {
	if len(names) > MaxWorkflows {
		v.Add(field, "too-many", "must have at most %d workflows", MaxWorkflows)
		return
	}
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		f := field + "[" + itoa(i) + "]"
		switch {
		case !workflowPattern.MatchString(n):
			v.Add(f, "invalid-workflow", "must be 1-64 characters of lowercase letters, digits, '.', '_' and '-'")
		case seen[n]:
			v.Add(f, "duplicate", "workflow %q is listed twice", n)
		}
		seen[n] = true
	}
}
