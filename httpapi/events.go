package httpapi

import (
	"net/http"
	"strings"

	"github.com/canopyhq/canopy/service"
)

func (s *Server) handleListEvents(w http.ResponseWriter, r *http.Request) {
	pr, err := pageRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// type= may repeat, and each may list types separated by commas.
	var types []string
	for _, v := range r.URL.Query()["type"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
	}
	q := service.EventQuery{Types: types, After: r.URL.Query().Get("after")}
	page, err := s.svc.ListEvents(r.Context(), caller(r.Context()), q, pr)
	s.respond(w, r, page, err)
}
