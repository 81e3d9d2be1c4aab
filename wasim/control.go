package wasim

import "net/http"

// controlRoutes adds the operator API used when the simulator runs in its
// own process (see RemoteControl).
func (s *Server) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_wasim/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
}
