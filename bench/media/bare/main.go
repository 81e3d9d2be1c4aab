// Command bare is the baseline of meowgate's media benchmarks
// (bench/media/run.sh): one plain whatsmeow.Client over its own modernc
// SQLite file, linked to a wasim simulator running in another process.
//
//	bare -mode video -file F -to C      UploadReader + SendMessage of one
//	                                    video, timed, with this process's
//	                                    RSS growth
//	bare -mode incoming -n 200 …        contacts send n images through the
//	                                    simulator's control API; each is
//	                                    downloaded (DownloadToFile, 4 at
//	                                    once, as meowgate does) into -dir
//
// It prints one JSON line with its figures.
package main

import (
	"github.com/meowgate/meowgate/bench/internal/barelink"

	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
	_ "modernc.org/sqlite"

	"github.com/meowgate/meowgate/bench/media/internal/feed"
)

func main() {
	addr := flag.String("wasim", "127.0.0.1:7070", "simulator address")
	dbPath := flag.String("db", "bare.db", "SQLite file for the device store (created)")
	phone := flag.String("phone", "+4915900000001", "phone number of the linked account")
	mode := flag.String("mode", "video", "video or incoming")
	to := flag.String("to", "+4917900000001", "video: the contact that receives it")
	file := flag.String("file", "", "video: the MP4 file")
	n := flag.Int("n", 200, "incoming: images")
	size := flag.Int("size", 200<<10, "incoming: image size in bytes (about)")
	c := flag.Int("c", 4, "incoming: contacts sending at once")
	from := flag.String("from", "+491790", "incoming: contacts' number prefix")
	dir := flag.String("dir", "bare-media", "incoming: download directory")
	fsync := flag.Bool("fsync", true, "incoming: fsync each file before renaming it into place (as meowgate does)")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	time.AfterFunc(*timeout, func() { check(fmt.Errorf("%s: timed out after %v", *mode, *timeout)) })
	cli, linkTook, err := barelink.Link(ctx, *addr, *dbPath, *phone)
	check(err)
	linkMS := linkTook.Milliseconds()
	defer cli.Disconnect()
	var out map[string]any
	switch *mode {
	case "video":
		out = video(ctx, cli, *file, *to)
	case "incoming":
		out = incoming(ctx, cli, *addr, *phone, *from, *dir, *n, *size, *c, *fsync)
	default:
		check(fmt.Errorf("unknown -mode %q", *mode))
	}
	out["link_ms"] = linkMS
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// video uploads the file as meowgate's sender does (UploadReader through a
// temporary file beside it) and sends it, waiting for the server's ack.
func video(ctx context.Context, cli *whatsmeow.Client, path, to string) map[string]any {
	st, err := os.Stat(path)
	check(err)
	jid := types.NewJID(to[1:], types.DefaultUserServer)
	rss0, _ := feed.RSS("self")
	check(feed.ResetHWM("self"))
	s := feed.Sample("self")
	start := time.Now()
	f, err := os.Open(path)
	check(err)
	defer f.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".upload-*")
	check(err)
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	up, err := cli.UploadReader(ctx, f, tmp, whatsmeow.MediaVideo)
	check(err)
	uploaded := time.Since(start)
	_, err = cli.SendMessage(ctx, jid, &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		MediaKeyTimestamp: proto.Int64(time.Now().Unix()), FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256,
		FileLength: proto.Uint64(up.FileLength), Mimetype: proto.String("video/mp4"), Seconds: proto.Uint32(5),
		Width: proto.Uint32(640), Height: proto.Uint32(360),
	}})
	check(err)
	took := time.Since(start)
	peak := s.Stop()
	_, hwm := feed.RSS("self")
	return map[string]any{
		"bytes": st.Size(), "upload_ms": uploaded.Milliseconds(), "send_ms": took.Milliseconds(),
		"rss_before_kib": rss0, "rss_peak_kib": max(peak, hwm), "rss_growth_kib": max(peak, hwm) - rss0,
	}
}

// incoming has contacts send n images and downloads each as it arrives.
func incoming(ctx context.Context, cli *whatsmeow.Client, addr, phone, from, dir string, n, size, c int, fsync bool) map[string]any {
	check(os.MkdirAll(dir, 0o700))
	img := feed.JPEG(size)
	jobs := make(chan *waE2E.ImageMessage, n)
	var seen atomic.Int64
	cli.AddEventHandler(func(evt any) {
		if e, ok := evt.(*events.Message); ok && e.Message.GetImageMessage() != nil && seen.Add(1) <= int64(n) {
			jobs <- e.Message.GetImageMessage()
		}
	})
	var done atomic.Int64
	var last atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range 4 { // meowgate's maxDownloads
		wg.Go(func() {
			for im := range jobs {
				if err := download(ctx, cli, im, dir, fsync); err != nil {
					errs <- err
				}
				last.Store(time.Now().UnixNano())
				if done.Add(1) == int64(n) {
					close(jobs)
				}
			}
		})
	}
	first, sendTook, err := feed.Send(ctx, addr, from, phone, img, n, c)
	check(err)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed == 0 {
			fmt.Fprintln(os.Stderr, "bare: download:", err)
		}
		failed++
	}
	took := time.Duration(last.Load() - first.UnixNano())
	return map[string]any{
		"n": n, "image_bytes": len(img), "ms": took.Milliseconds(), "imgs_per_s": float64(n) / took.Seconds(),
		"send_ms": sendTook.Milliseconds(), "failed": failed, "fsync": fsync,
	}
}

func download(ctx context.Context, cli *whatsmeow.Client, im *waE2E.ImageMessage, dir string, fsync bool) error {
	tmp, err := os.CreateTemp(dir, ".dl-*")
	if err != nil {
		return err
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	if err := cli.DownloadToFile(ctx, im, tmp); err != nil {
		return err
	}
	if fsync {
		if err := tmp.Sync(); err != nil {
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, fmt.Sprintf("%x", im.GetFileEncSHA256())))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
}
