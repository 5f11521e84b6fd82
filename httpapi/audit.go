package httpapi

import (
	"net/http"

	"github.com/canopyhq/canopy/service"
)

func (s *Server) handleAuditEvents(w http.ResponseWriter, r *http.Request) {
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := service.AuditQuery{Action: r.URL.Query().Get("action"), TargetID: r.URL.Query().Get("targetId")}
	page, err := s.svc.ListAuditEvents(r.Context(), caller(r.Context()), q, pr)
	s.respond(w, r, page, err)
}
