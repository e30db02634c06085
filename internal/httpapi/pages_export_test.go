package httpapi

import "net/http"

// ObserveForTest puts h behind the server's outermost middleware (logs,
// metrics, panic recovery), so a test can make a handler fail.
func (s *Server) ObserveForTest(h http.Handler) http.Handler { return s.observe(h) }
