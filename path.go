package canopy

import "strings"

// Path is an account's materialised position in the tree: the ids from the
// platform root down to the account itself, each followed by a slash
// ("/acc_R/acc_C/"). Every id has the same length, so the subtree of an
// account is exactly the range of paths that start with its own path, which
// both databases serve from one ordinary index.
type Path string

// RootPath returns the path of a root account.
func RootPath(id string) Path { return Path("/" + id + "/") }

// Child returns the path of a child with the given id.
func (p Path) Child(id string) Path { return p + Path(id) + "/" }

// IDs returns the ids on the path, root first, the account itself last.
func (p Path) IDs() []string {
	s := strings.Trim(string(p), "/")
	if s == "" {
		return nil
	}
	return strings.Split(s, "/")
}

// Depth is the number of levels below the root (the root has depth 0).
func (p Path) Depth() int { return strings.Count(string(p), "/") - 2 }

// Contains reports whether id is on the path, that is whether the account
// at p is id itself or one of its descendants.
func (p Path) Contains(id string) bool {
	if id == "" {
		return false
	}
	i := strings.Index(string(p), "/"+id+"/")
	return i >= 0
}

// SubtreeEnd returns the smallest path that sorts after every path of the
// subtree rooted at p. It replaces the final slash with '0', the next byte;
// ids never contain a slash and all have one length, so no other account's
// path falls between p and SubtreeEnd.
func (p Path) SubtreeEnd() Path {
	return p[:len(p)-1] + "0"
}

// Below returns the part of p below the account with the given id
// ("/acc_X/acc_Y/" below acc_W in "/acc_W/acc_X/acc_Y/"), used to build
// cursors that do not reveal ancestors. It is empty when p is not below id.
func (p Path) Below(id string) string {
	marker := "/" + id + "/"
	i := strings.Index(string(p), marker)
	if i < 0 {
		return ""
	}
	return string(p[i+len(marker)-1:])
}
