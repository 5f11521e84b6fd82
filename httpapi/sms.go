package httpapi

import (
	"context"
	"net/http"

	"github.com/canopyhq/canopy/service"
)

// handleShareBySMS queues an SMS share of a form: 202, the messages are
// sent by the SMS worker afterwards.
func (s *Server) handleShareBySMS(w http.ResponseWriter, r *http.Request) {
	id, ok := s.formParam(w, r)
	if !ok {
		return
	}
	var in service.SMSInput
	raw, err := s.decode(w, r, &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.write(w, r, writeSpec{status: http.StatusAccepted}, raw, func(ctx context.Context) (any, error) {
		return s.svc.ShareFormBySMS(ctx, caller(ctx), id, in)
	})
}
