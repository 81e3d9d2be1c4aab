package metrics

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
)

// states are the instance states in the order meowgate_instances lists them.
var states = []string{event.StateCreated, event.StateStarting, event.StateScanQR, event.StateConnected,
	event.StateDisconnected, event.StateFailed, event.StateLoggedOut}

// deliveryStatuses are the webhook delivery statuses counted, each always
// listed; delivered ones are history, not state, and are not counted.
var deliveryStatuses = []string{store.DeliveryPending, store.DeliveryFailed, store.DeliveryDead}

// writeState writes what is read at scrape time: instances, queues,
// webhook backlogs, the database files and the build.
func (m *Metrics) writeState(ctx context.Context, b *bytes.Buffer, list []*instance.Info) {
	counts := map[string]int{}
	for _, in := range list {
		counts[in.State]++
	}
	family(b, "meowgate_instances", "gauge", "Instances by state.")
	for _, s := range states {
		fmt.Fprintf(b, "meowgate_instances{state=%q} %d\n", s, counts[s])
	}

	list = slices.Clone(list)
	slices.SortFunc(list, func(a, c *instance.Info) int { return strings.Compare(a.Name, c.Name) })
	family(b, "meowgate_instance_connected", "gauge", "1 while the instance is connected to WhatsApp, else 0.")
	for _, in := range list {
		up := 0
		if in.State == event.StateConnected {
			up = 1
		}
		fmt.Fprintf(b, "meowgate_instance_connected{name=%q} %d\n", in.Name, up)
	}

	stats, err := m.opts.Store.Stats(ctx)
	if err != nil {
		m.log.Warn("metrics: cannot read queue and webhook stats", "err", err)
	} else {
		m.writeStats(b, list, stats, time.Now())
	}

	sp := m.opts.Instances.Space()
	full := 0
	if sp.Full {
		full = 1
	}
	family(b, "meowgate_storage_free_bytes", "gauge", "Free bytes on the database's filesystem.")
	fmt.Fprintf(b, "meowgate_storage_free_bytes %d\n", sp.Free)
	family(b, "meowgate_storage_min_free_bytes", "gauge", "The free-space watermark below which new work is refused.")
	fmt.Fprintf(b, "meowgate_storage_min_free_bytes %d\n", sp.MinFree)
	family(b, "meowgate_storage_full", "gauge", "1 while new work is refused for lack of disk space.")
	fmt.Fprintf(b, "meowgate_storage_full %d\n", full)

	path := m.opts.Store.Path()
	family(b, "meowgate_database_size_bytes", "gauge", "Size of the SQLite database file.")
	fmt.Fprintf(b, "meowgate_database_size_bytes %d\n", fileSize(path))
	family(b, "meowgate_database_wal_size_bytes", "gauge", "Size of the SQLite write-ahead log (-wal file).")
	fmt.Fprintf(b, "meowgate_database_wal_size_bytes %d\n", fileSize(path+"-wal"))

	family(b, "meowgate_build_info", "gauge", "Build information.")
	fmt.Fprintf(b, "meowgate_build_info{version=%q} 1\n", m.opts.Version)
}

// writeStats writes the per-instance queue and webhook gauges; every
// instance gets every series, zero when it has nothing waiting.
func (m *Metrics) writeStats(b *bytes.Buffer, list []*instance.Info, stats map[string]*store.InstanceStats, now time.Time) {
	none := &store.InstanceStats{}
	of := func(in *instance.Info) *store.InstanceStats {
		if st := stats[in.ID]; st != nil {
			return st
		}
		return none
	}
	age := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return max(0, now.Sub(t).Seconds())
	}
	family(b, "meowgate_queue_depth", "gauge", "Outgoing messages waiting in the instance's send queue.")
	for _, in := range list {
		fmt.Fprintf(b, "meowgate_queue_depth{name=%q} %d\n", in.Name, of(in).Queued)
	}
	family(b, "meowgate_queue_oldest_age_seconds", "gauge", "How long the oldest queued message has been due; 0 when the queue is empty.")
	for _, in := range list {
		fmt.Fprintf(b, "meowgate_queue_oldest_age_seconds{name=%q} %.3f\n", in.Name, age(of(in).OldestQueued))
	}
	family(b, "meowgate_webhook_deliveries", "gauge", "Webhook deliveries not delivered, by status: pending, failed (retrying) and dead (given up, until retried by hand).")
	for _, in := range list {
		for _, s := range deliveryStatuses {
			fmt.Fprintf(b, "meowgate_webhook_deliveries{name=%q,status=%q} %d\n", in.Name, s, of(in).Deliveries[s])
		}
	}
	family(b, "meowgate_webhook_backlog", "gauge", "Webhook deliveries still to be made (pending or failed and retrying).")
	for _, in := range list {
		st := of(in)
		fmt.Fprintf(b, "meowgate_webhook_backlog{name=%q} %d\n", in.Name, st.Deliveries[store.DeliveryPending]+st.Deliveries[store.DeliveryFailed])
	}
	family(b, "meowgate_webhook_oldest_pending_age_seconds", "gauge", "Age of the oldest webhook delivery still to be made; 0 when none.")
	for _, in := range list {
		fmt.Fprintf(b, "meowgate_webhook_oldest_pending_age_seconds{name=%q} %.3f\n", in.Name, age(of(in).OldestOpen))
	}
}

// family writes the HELP and TYPE lines of a metric family.
func family(b *bytes.Buffer, name, typ, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
