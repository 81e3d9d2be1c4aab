// Command httpfloor is the HTTP stack's ceiling for bench/run.sh: a bare
// net/http server that answers every request with a fixed JSON body, with
// or without meowgate's default server timeouts. wrk against it, in the same
// run as against meowgate, shows what the API's own code costs.
package main

import (
	"flag"
	"log"
	"net/http"
	"strings"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9002", "address")
	size := flag.Int("body", 780, "response body size in bytes")
	timeouts := flag.Bool("timeouts", true, "set meowgate's default server timeouts (5s/30s/60s/120s)")
	flag.Parse()
	body := []byte(`{"pad":"` + strings.Repeat("x", max(0, *size-11)) + `"}` + "\n")
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})}
	if *timeouts {
		srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = 5*time.Second, 30*time.Second, 60*time.Second, 120*time.Second
	}
	log.Fatal(srv.ListenAndServe())
}
