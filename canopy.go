// Package canopy holds Canopy's domain: accounts arranged in one tree, their
// users, keys, workflows, configurations and external references, and the
// rules that need no I/O. Storage (package store) and HTTP (package httpapi)
// sit at the edges; the business operations live in package service.
package canopy

import "time"

// DefaultMaxDepth is how many levels may hang below the platform root when
// the operator does not configure a limit.
const DefaultMaxDepth = 8

// Now returns the current time as Canopy stores it: UTC, microsecond
// precision, so that a value survives a round trip through either database.
func Now(clock func() time.Time) time.Time {
	return Timestamp(clock())
}

// Timestamp normalises t to UTC with microsecond precision.
func Timestamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}
