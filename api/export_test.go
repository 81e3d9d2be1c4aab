package api

// RouteTable lists the (method, pattern) pairs the handler registers, so the
// tests can check that their own list of routes is complete. It exists only
// in test builds.
func RouteTable() [][2]string {
	h := &handler{}
	var out [][2]string
	for _, rt := range h.routes() {
		out = append(out, [2]string{rt.method, rt.pattern})
	}
	return out
}
