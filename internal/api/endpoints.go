package api

import (
	"net/http"

	"github.com/modelgate/modelgate/internal/config"
)

// checkEndpoints refuses a run whose config names an address the server
// would call (candidate.endpoint, deploy.target.upstream) outside the
// operator's --allow-endpoint list: a caller's token never chooses where
// the server sends requests, whatever its role.
func (s *Server) checkEndpoints(cfg *config.Pipeline) error {
	fields := []struct{ name, url string }{
		{"candidate.endpoint", cfg.Candidate.Endpoint},
		{"deploy.target.upstream", cfg.Deploy.Target.Upstream},
	}
	for _, f := range fields {
		if f.url == "" {
			continue
		}
		if err := s.o.Endpoints.Check(f.url); err != nil {
			return errorf(http.StatusForbidden, "endpoint_not_allowed", f.name+": "+err.Error())
		}
	}
	return nil
}
