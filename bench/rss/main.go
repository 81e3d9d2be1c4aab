// Command rss samples VmRSS of a process from /proc/PID/status and prints
// one JSON line with the samples and their median in KiB.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	pid := flag.Int("pid", 0, "process id")
	samples := flag.Int("samples", 5, "samples")
	interval := flag.Duration("interval", time.Second, "time between samples")
	flag.Parse()
	var v []int
	var hwm int
	for i := range *samples {
		if i > 0 {
			time.Sleep(*interval)
		}
		rss, h, err := read(*pid)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rss:", err)
			os.Exit(1)
		}
		v, hwm = append(v, rss), h
	}
	s := append([]int(nil), v...)
	sort.Ints(s)
	b, _ := json.Marshal(map[string]any{"rss_kib_median": s[len(s)/2], "rss_kib_samples": v, "hwm_kib": hwm})
	fmt.Println(string(b))
}

// read returns VmRSS and VmHWM in KiB.
func read(pid int) (rss, hwm int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			rss, _ = strconv.Atoi(f[0])
		case "VmHWM":
			hwm, _ = strconv.Atoi(f[0])
		}
	}
	return rss, hwm, nil
}
