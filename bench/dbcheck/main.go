// Command dbcheck measures what the start-up database check costs on an
// existing database (bench/dbcheck.sh makes one): in alternating rounds, a
// plain read of the whole file (the baseline: quick_check reads every page
// too), PRAGMA quick_check, store.Open (which runs it) and, for comparison,
// PRAGMA integrity_check, each once with the file's pages evicted from the
// page cache (posix_fadvise DONTNEED on this file only: a boot) and once
// warm. It prints one JSON line of medians in milliseconds.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite"

	"github.com/meowgate/meowgate/store"
)

func main() {
	db := flag.String("db", "", "database file (meowgate stopped)")
	rounds := flag.Int("rounds", 5, "rounds")
	flag.Parse()
	if *db == "" {
		fail("-db is required")
	}
	ctx := context.Background()
	steps := []struct {
		name string
		run  func() error
	}{
		{"read", func() error { return readAll(*db) }},
		{"quick_check", func() error { return pragma(ctx, *db, "quick_check") }},
		{"open", func() error {
			st, err := store.Open(ctx, *db, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			return st.Close()
		}},
		{"integrity_check", func() error { return pragma(ctx, *db, "integrity_check") }},
	}
	times := map[string][]float64{}
	for range *rounds {
		for _, s := range steps {
			for _, cold := range []bool{true, false} {
				name := s.name + "_warm_ms"
				if cold {
					name = s.name + "_cold_ms"
					if err := evict(*db); err != nil {
						fail("evict: %v", err)
					}
				}
				t0 := time.Now()
				if err := s.run(); err != nil {
					fail("%s: %v", s.name, err)
				}
				times[name] = append(times[name], float64(time.Since(t0).Microseconds())/1000)
			}
		}
	}
	fi, err := os.Stat(*db)
	if err != nil {
		fail("%v", err)
	}
	out := map[string]any{"db_bytes": fi.Size(), "rounds": *rounds}
	for k, v := range times {
		slices.Sort(v)
		out[k] = v[len(v)/2]
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// pragma runs a check the way store.Open's probe does: a query_only
// connection.
func pragma(ctx context.Context, path, check string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA "+check).Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("%s: %s", check, res)
	}
	return nil
}

// evict drops this file's pages (and its -wal's) from the page cache.
func evict(path string) error {
	for _, p := range []string{path, path + "-wal"} {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			return err
		}
		err = f.Sync()
		if err == nil {
			err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "dbcheck: "+format+"\n", args...)
	os.Exit(1)
}
