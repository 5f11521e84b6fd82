package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/ratelimit"
)

// The public endpoints' defaults (package ratelimit explains them).
const (
	DefaultPublicRatePerMinute = ratelimit.DefaultPerMinute
	DefaultPublicBurst         = ratelimit.DefaultBurst
	DefaultPublicRateLimit     = ratelimit.DefaultLimit
)

// rateLimit refuses requests from a client that has used up its allowance
// on the public endpoints, with 429 rate-limited and Retry-After, before
// the body is read or anything is hashed or sent.
func (s *Server) rateLimit(route string, next http.Handler) http.Handler {
	if s.limiter == nil {
		return next
	}
	refused := s.metrics.rateLimited.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wait := s.limiter.Allow(r)
		if wait <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		refused.Inc()
		s.writeError(w, r, rateLimited(wait))
	})
}

// rateLimited is the 429 of a client that must wait.
func rateLimited(wait time.Duration) error {
	return &canopy.Error{
		Kind: canopy.KindTooManyRequests, Code: canopy.CodeRateLimited, RetryAfter: wait,
		Message: fmt.Sprintf("too many requests from this address; try again in %d s", int(math.Ceil(wait.Seconds()))),
	}
}
