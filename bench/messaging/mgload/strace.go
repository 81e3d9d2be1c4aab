package main

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
)

// straceSum adds up what an strace of meowgate wrote to each file of the
// database: bytes, write calls, WAL frames and commits (a WAL frame header
// with a non-zero "database size after commit" field ends a transaction),
// and fsyncs.
func straceSum(trace, fdsFile, markFile, pagesFile string, n int) map[string]any {
	pageOwner := map[uint32]string{}
	if b, err := os.ReadFile(pagesFile); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			no, name, ok := strings.Cut(line, "|")
			if v, err := strconv.ParseUint(no, 10, 32); ok && err == nil {
				pageOwner[uint32(v)] = name
			}
		}
	}
	framesOf := map[string]int64{}
	fdPath := map[string]string{}
	if b, err := os.ReadFile(fdsFile); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				fdPath[f[0]] = f[len(f)-1]
			}
		}
	}
	var from float64
	if b, err := os.ReadFile(markFile); err == nil {
		from, _ = strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	}
	f, err := os.Open(trace)
	if err != nil {
		fail("%v", err)
	}
	defer f.Close()
	type acc struct {
		Bytes, Calls, Frames, Commits, Syncs int64
	}
	per := map[string]*acc{}
	get := func(fd string) *acc {
		p := fdPath[fd]
		switch {
		case strings.HasSuffix(p, "-wal"):
			p = "wal"
		case strings.HasSuffix(p, "-shm"):
			p = "shm"
		case strings.HasSuffix(p, ".db"):
			p = "db"
		default:
			p = "other"
		}
		if per[p] == nil {
			per[p] = &acc{}
		}
		return per[p]
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		// "PID TIME syscall(fd, "buf"..., len, off) = ret"
		fields := strings.SplitN(line, " ", 3)
		if len(fields) < 3 {
			continue
		}
		if from > 0 {
			if t, err := strconv.ParseFloat(fields[1], 64); err == nil && t < from {
				continue
			}
		}
		call := strings.TrimSpace(fields[2])
		name, rest, ok := strings.Cut(call, "(")
		if !ok {
			continue
		}
		fd := rest[:strings.IndexAny(rest+")", ",)")]
		switch name {
		case "pwrite64", "write":
			i := strings.LastIndex(rest, "= ")
			if i < 0 {
				continue
			}
			ret, err := strconv.ParseInt(strings.TrimSpace(rest[i+2:]), 10, 64)
			if err != nil || ret < 0 {
				continue
			}
			a := get(fd)
			a.Bytes += ret
			a.Calls++
			if ret == 24 && fdPath[fd] != "" && strings.HasSuffix(fdPath[fd], "-wal") {
				a.Frames++
				// Frame header: page number (bytes 0..3), database size
				// after commit (4..7, non-zero only in a commit's last frame).
				if h := hexBytes(rest); len(h) >= 8 {
					if h[4]|h[5]|h[6]|h[7] != 0 {
						a.Commits++
					}
					pg := uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])
					owner := pageOwner[pg]
					if owner == "" {
						owner = "(free or unknown)"
					}
					framesOf[owner]++
				}
			}
		case "fsync", "fdatasync":
			get(fd).Syncs++
		}
	}
	out := map[string]any{"messages": n}
	for k, a := range per {
		out[k] = a
		out[k+"_bytes_per_msg"] = float64(a.Bytes) / float64(n)
	}
	if w := per["wal"]; w != nil {
		out["commits_per_msg"] = float64(w.Commits) / float64(n)
		out["frames_per_msg"] = float64(w.Frames) / float64(n)
		if w.Commits > 0 {
			out["frames_per_commit"] = float64(w.Frames) / float64(w.Commits)
		}
	}
	total := int64(0)
	for k, a := range per {
		if k != "other" {
			total += a.Bytes
		}
	}
	out["file_bytes_per_msg"] = float64(total) / float64(n)
	if len(pageOwner) > 0 {
		perMsg := map[string]float64{}
		for k, v := range framesOf {
			perMsg[k] = math.Round(float64(v)/float64(n)*100) / 100
		}
		out["frames_per_msg_by_btree"] = perMsg
	}
	return out
}

// hexBytes decodes the "\x01\x02…" buffer strace -xx prints.
func hexBytes(s string) []byte {
	i := strings.Index(s, `"`)
	if i < 0 {
		return nil
	}
	s = s[i+1:]
	var out []byte
	for len(s) >= 4 && s[0] == '\\' && s[1] == 'x' {
		v, err := strconv.ParseUint(s[2:4], 16, 8)
		if err != nil {
			break
		}
		out = append(out, byte(v))
		s = s[4:]
	}
	return out
}
