package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/canopyhq/canopy"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok", "version": s.version})
}

// handleReadyz reports ready only when the database answers.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.svc.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "err", err.Error())
		s.writeProblem(w, r, http.StatusServiceUnavailable, canopy.CodeUnavailable, "the database does not answer", nil)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ready"})
}

// queryInt reads an optional integer query parameter within [lo, hi]; 0
// when absent.
func queryInt(r *http.Request, name string, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, canopy.BadParam(name, "out-of-range", "must be a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
