package store

import "strings"

// formsPrefix starts an announcement that names changed forms.
const formsPrefix = "forms:"

// maxAuthChange keeps announcements within PostgreSQL's 8,000-byte
// NOTIFY payload; a longer list is announced as "everything".
const maxAuthChange = 7900

// AuthChange is the payload announcing a change (see
// Tx.NotifyAuthChange): "" for everything, else the forms named.
func AuthChange(forms []string) string {
	if len(forms) == 0 {
		return ""
	}
	p := formsPrefix + strings.Join(forms, ",")
	if len(p) > maxAuthChange {
		return ""
	}
	return p
}

// ParseAuthChange reads an announcement: the forms it names, or all when
// it means everything (as does anything it does not recognise).
func ParseAuthChange(payload string) (forms []string, all bool) {
	rest, ok := strings.CutPrefix(payload, formsPrefix)
	if !ok || rest == "" {
		return nil, true
	}
	return strings.Split(rest, ","), false
}
