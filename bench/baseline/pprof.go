//go:build benchpprof

package main

import (
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
)

// With -tags benchpprof the baseline serves net/http/pprof (heap profile,
// MemStats, goroutines) on -pprof, for investigating its memory. The
// benchmark never uses this build: net/http/pprof alone adds about 2 MiB
// of RSS to a program this small.
var pprofAddr = flag.String("pprof", "", "serve net/http/pprof on this loopback address")

func startPprof() {
	if *pprofAddr != "" {
		go func() { fmt.Fprintln(os.Stderr, "baseline: pprof:", http.ListenAndServe(*pprofAddr, nil)) }()
	}
}
