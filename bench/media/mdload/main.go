// Command mdload drives a running meowgate through its HTTP API for the
// media benchmarks (bench/media/run.sh; instances are created and linked
// with bench/messaging/mgload). Each subcommand prints one JSON line:
//
//	mdload mp4 -dir D -mib 64
//	    write a valid MP4 of that size, print its path
//	mdload video -url U -name N -to C -file F -pid P
//	    POST one video as a multipart upload (streamed from the file) and
//	    wait for message.sent; the enqueue (staging) time, the time to sent,
//	    and meowgate's RSS growth (VmRSS sampled every 5 ms, and VmHWM
//	    reset before the POST)
//	mdload incoming -url U -name N -wasim A -phone P -dir D -n 200
//	    contacts send n images through the simulator's control API; the
//	    time until all n files are in the instance's media directory
//	mdload io -url U -name N -to C -kind image|text -n 200 [-mark F]
//	    POST n small images (base64) or texts, wait until all are read
//	    (receipts applied), then -settle
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meowgate/meowgate/bench/media/internal/feed"
	"github.com/meowgate/meowgate/client"
)

var (
	base string
	key  = os.Getenv("MEOWGATE_API_ADMIN_KEY")
	mg   *client.Client
	ctx  = context.Background()
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: mdload video|incoming|io [flags]")
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	fs.StringVar(&base, "url", "http://127.0.0.1:8080", "meowgate base URL")
	name := fs.String("name", "bench", "instance (linked, connected)")
	to := fs.String("to", "+4917100000001", "recipient")
	timeout := fs.Duration("timeout", 8*time.Minute, "give up after this long")
	var out map[string]any
	switch cmd {
	case "video":
		file := fs.String("file", "", "the MP4 file")
		pid := fs.Int("pid", 0, "meowgate's pid")
		parse(fs, args, *timeout)
		out = video(*name, *to, *file, strconv.Itoa(*pid))
	case "incoming":
		addr := fs.String("wasim", "127.0.0.1:7070", "simulator address")
		phone := fs.String("phone", "", "the instance's phone")
		from := fs.String("from", "+491710", "contacts' number prefix")
		dir := fs.String("dir", "", "meowgate's media directory ([media] dir)")
		n := fs.Int("n", 200, "images")
		size := fs.Int("size", 200<<10, "image size in bytes (about)")
		c := fs.Int("c", 4, "contacts sending at once")
		parse(fs, args, *timeout)
		out = incoming(*name, *addr, *phone, *from, *dir, *n, *size, *c)
	case "io":
		kind := fs.String("kind", "text", "image or text")
		n := fs.Int("n", 200, "messages")
		size := fs.Int("size", 8<<10, "image size in bytes (about)")
		mark := fs.String("mark", "", "write the time (unix seconds) here as the first POST starts")
		settle := fs.Duration("settle", 2*time.Second, "wait this long after the last read receipt")
		parse(fs, args, *timeout)
		out = ioRun(*name, *to, *kind, *n, *size, *mark, *settle)
	case "mp4":
		dir := fs.String("dir", os.TempDir(), "directory of the file")
		mib := fs.Int("mib", 64, "size of the mdat payload in MiB")
		parse(fs, args, *timeout)
		path, err := feed.MP4File(*dir, *mib<<20)
		if err != nil {
			fail("%v", err)
		}
		fmt.Println(path)
		return
	default:
		fail("unknown command %q", cmd)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func parse(fs *flag.FlagSet, args []string, timeout time.Duration) {
	_ = fs.Parse(args)
	mg = client.New(base, key)
	time.AfterFunc(timeout, func() { fail("%s: timed out after %v", fs.Name(), timeout) })
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "mdload: "+f+"\n", a...)
	os.Exit(1)
}

func messagesURL(name string) string {
	return base + "/v1/instances/" + url.PathEscape(name) + "/messages"
}

// postVideo streams the file as the last part of a multipart body.
func postVideo(name, to, path string) string {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for _, kv := range [][2]string{{"to", to}, {"type", "video"}, {"caption", "bench video"}} {
				if err := mw.WriteField(kv[0], kv[1]); err != nil {
					return err
				}
			}
			h := make(map[string][]string)
			h["Content-Disposition"] = []string{`form-data; name="file"; filename="bench.mp4"`}
			h["Content-Type"] = []string{"video/mp4"}
			part, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(part, f); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, messagesURL(name), pr)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("POST video: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusAccepted {
		fail("POST video: HTTP %d: %.300s", res.StatusCode, body)
	}
	var m struct {
		Message client.Message `json:"message"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		fail("POST video: %v", err)
	}
	return m.Message.ID
}

// waitStatus polls a message until its status is one of want (every 10
// ms; the time comes from the message's own history).
func waitStatus(name, id string, want ...string) *client.Message {
	for {
		m, err := mg.Message(ctx, name, id)
		if err != nil {
			fail("GET message %s: %v", id, err)
		}
		for _, w := range want {
			if m.Status == w {
				return m
			}
		}
		if m.Status == "failed" {
			fail("message %s failed: %s", id, m.Error)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func video(name, to, path, pid string) map[string]any {
	st, err := os.Stat(path)
	if err != nil {
		fail("%v", err)
	}
	rss0, _ := feed.RSS(pid)
	if err := feed.ResetHWM(pid); err != nil {
		fail("reset VmHWM of %s: %v", pid, err)
	}
	s := feed.Sample(pid)
	start := time.Now()
	id := postVideo(name, to, path)
	accepted := time.Since(start)
	peakEnq := s.PeakNow()
	m := waitStatus(name, id, "sent", "delivered", "read")
	peak := s.Stop()
	_, hwm := feed.RSS(pid)
	sentAt := time.Now()
	for _, h := range m.StatusHistory {
		if h.Status == "sent" {
			sentAt = h.At
		}
	}
	total := sentAt.Sub(start)
	return map[string]any{
		"bytes": st.Size(), "id": id,
		"enqueue_ms": accepted.Milliseconds(), "send_ms": total.Milliseconds(), "after_202_ms": (total - accepted).Milliseconds(),
		"rss_before_kib": rss0, "rss_peak_enqueue_kib": peakEnq, "rss_peak_kib": peak, "hwm_kib": hwm,
		"rss_growth_kib": max(peak, hwm) - rss0,
	}
}

// incoming counts the instance's media files (temporary .dl-* files do
// not count) until n are there.
func incoming(name, addr, phone, from, dir string, n, size, c int) map[string]any {
	in, err := mg.Instance(ctx, name)
	if err != nil {
		fail("GET instance: %v", err)
	}
	idir := filepath.Join(dir, in.ID)
	img := feed.JPEG(size)
	count := func() int {
		ents, _ := os.ReadDir(idir)
		k := 0
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), ".") {
				k++
			}
		}
		return k
	}
	before := count()
	var sendTook time.Duration
	var first time.Time
	var sendErr error
	started := make(chan struct{})
	go func() {
		var err error
		first = time.Now()
		close(started)
		_, sendTook, err = feed.Send(ctx, addr, from, phone, img, n, c)
		sendErr = err
	}()
	<-started
	var last time.Time
	for {
		if k := count(); k-before >= n {
			last = time.Now()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if sendErr != nil {
		fail("%v", sendErr)
	}
	took := last.Sub(first)
	return map[string]any{
		"n": n, "image_bytes": len(img), "ms": took.Milliseconds(), "imgs_per_s": float64(n) / took.Seconds(),
		"send_ms": sendTook.Milliseconds(),
	}
}

// ioRun posts n messages of one kind and waits until all are read.
func ioRun(name, to, kind string, n, size int, mark string, settle time.Duration) map[string]any {
	var body func(i int) map[string]any
	switch kind {
	case "image":
		b64 := base64.StdEncoding.EncodeToString(feed.JPEG(size))
		body = func(i int) map[string]any {
			return map[string]any{"to": to, "type": "image", "base64": b64, "mimetype": "image/jpeg", "caption": fmt.Sprintf("bench image %06d", i)}
		}
	case "text":
		body = func(i int) map[string]any {
			return map[string]any{"to": to, "text": fmt.Sprintf("bench text %06d from the send queue", i)}
		}
	default:
		fail("-kind: image or text")
	}
	if mark != "" {
		if err := os.WriteFile(mark, []byte(fmt.Sprintf("%.6f\n", float64(time.Now().UnixNano())/1e9)), 0o644); err != nil {
			fail("%v", err)
		}
	}
	start := time.Now()
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				var out struct {
					Message client.Message `json:"message"`
				}
				if _, err := mg.Do(ctx, http.MethodPost, "/v1/instances/"+url.PathEscape(name)+"/messages", body(i), &out); err != nil {
					fail("POST %s %d: %v", kind, i, err)
				}
				ids[i] = out.Message.ID
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		waitStatus(name, id, "read")
	}
	took := time.Since(start)
	time.Sleep(settle)
	return map[string]any{"kind": kind, "n": n, "ms": took.Milliseconds()}
}
