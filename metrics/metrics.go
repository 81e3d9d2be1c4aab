// Package metrics keeps meowgate's Prometheus metrics. Message counters
// and latencies come from the event log, the one record of what happened:
// Run follows it from start-up on, as the SSE stream does. What is state
// (queues, webhook backlogs, instance states, file sizes) is read when
// /metrics is scraped. Everything lives in one metrics.Set owned by a
// Metrics value; nothing is global.
package metrics

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
)

// Instances is what the metrics read of the instance manager.
type Instances interface {
	List() []*instance.Info
	Get(idOrName string) (*instance.Info, error)
	Space() store.Space
}

// Options configure Metrics.
type Options struct {
	Store     *store.Store
	Instances Instances
	Log       *slog.Logger
	Version   string
	// Process adds the Go runtime and process metrics (go_*, process_*).
	Process bool
}

// Metrics counts what the event log says and writes the exposition.
type Metrics struct {
	opts Options
	log  *slog.Logger
	set  *vm.Set

	mu  sync.Mutex
	per map[string]*series // by instance id
	// sentAt holds when each sent message was sent, until its first
	// delivery receipt, for the sent→delivered latency.
	sentAt    map[msgKey]time.Time
	lastSweep time.Time

	stop context.CancelFunc
	done chan struct{}
}

// New returns Metrics for opts; Start starts counting events.
func New(opts Options) *Metrics {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Metrics{opts: opts, log: opts.Log, set: vm.NewSet(), per: map[string]*series{}, sentAt: map[msgKey]time.Time{}}
}

// Latency buckets in seconds: a paced queue sends within seconds, a busy
// or disconnected one within minutes or hours; receipts come in seconds
// from a phone that is online, hours from one that is not.
var buckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// series are one instance's event-derived metrics.
type series struct {
	name                         string
	names                        []string // registered in the set
	sent, failed, expired, recvd *vm.Counter
	reconnects                   *vm.Counter
	sendLatency, deliveryLatency *vm.PrometheusHistogram
	// hookAttempts counts webhook attempts by outcome (delivered, failed,
	// dead): attempts are not events, the worker reports them (WebhookAttempt).
	hookAttempts map[string]*vm.Counter
}

// webhookOutcomes are the outcomes of a webhook attempt.
var webhookOutcomes = []string{store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryDead}

// seriesLocked returns the series of instance id, named name, creating
// them (and dropping those of an older name) as needed.
func (m *Metrics) seriesLocked(id, name string) *series {
	s := m.per[id]
	if s != nil && s.name == name {
		return s
	}
	if s != nil {
		m.dropLocked(id)
	}
	for other, o := range m.per {
		if o.name == name { // deleted (or renamed) and its name reused since
			m.dropLocked(other)
		}
	}
	s = &series{name: name}
	lbl := `{name="` + name + `"}`
	counter := func(n string) *vm.Counter {
		s.names = append(s.names, n+lbl)
		return m.set.NewCounter(n + lbl)
	}
	histogram := func(n string) *vm.PrometheusHistogram {
		s.names = append(s.names, n+lbl)
		return m.set.NewPrometheusHistogramExt(n+lbl, buckets)
	}
	s.sent = counter("meowgate_messages_sent_total")
	s.failed = counter("meowgate_messages_failed_total")
	s.expired = counter("meowgate_messages_expired_total")
	s.recvd = counter("meowgate_messages_received_total")
	s.reconnects = counter("meowgate_instance_reconnects_total")
	s.sendLatency = histogram("meowgate_message_send_latency_seconds")
	s.deliveryLatency = histogram("meowgate_message_delivery_latency_seconds")
	s.hookAttempts = map[string]*vm.Counter{}
	for _, o := range webhookOutcomes {
		n := `meowgate_webhook_attempts_total{name="` + name + `",outcome="` + o + `"}`
		s.names = append(s.names, n)
		s.hookAttempts[o] = m.set.NewCounter(n)
	}
	m.per[id] = s
	return s
}

func (m *Metrics) dropLocked(id string) {
	s := m.per[id]
	if s == nil {
		return
	}
	for _, n := range s.names {
		m.set.UnregisterMetric(n)
	}
	delete(m.per, id)
	for k := range m.sentAt {
		if k.instance == id {
			delete(m.sentAt, k)
		}
	}
}

// reconcile gives every instance its series (zero until something
// happens, so rates and alerts see them) and drops those of deleted or
// renamed instances, which keeps the series bounded by the instances.
func (m *Metrics) reconcile(list []*instance.Info) {
	m.mu.Lock()
	defer m.mu.Unlock()
	live := make(map[string]bool, len(list))
	for _, in := range list {
		live[in.ID] = true
		m.seriesLocked(in.ID, in.Name)
	}
	for id := range m.per {
		if !live[id] {
			m.dropLocked(id)
		}
	}
}

// WritePrometheus writes every metric in the Prometheus text format.
func (m *Metrics) WritePrometheus(w io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list := m.opts.Instances.List()
	m.reconcile(list)
	var b bytes.Buffer
	m.writeState(ctx, &b, list)
	var set bytes.Buffer
	m.set.WritePrometheus(&set)
	annotate(&b, set.Bytes())
	if m.opts.Process {
		vm.WriteProcessMetrics(&b)
	}
	_, _ = w.Write(b.Bytes())
}

// help describes the families kept in the set; the set writes the samples
// grouped by family, annotate adds HELP and TYPE before each group.
var help = map[string][2]string{
	"meowgate_messages_sent_total":              {"counter", "Outgoing messages WhatsApp accepted (server ack), since start."},
	"meowgate_messages_failed_total":            {"counter", "Outgoing messages that failed for good, since start."},
	"meowgate_messages_expired_total":           {"counter", "Outgoing messages dropped from the queue after queue_ttl, since start."},
	"meowgate_messages_received_total":          {"counter", "Incoming messages stored, since start."},
	"meowgate_instance_reconnects_total":        {"counter", "Times the instance lost its WhatsApp connection unasked (not on disconnect, restart, shutdown or logout), since start."},
	"meowgate_message_send_latency_seconds":     {"histogram", "Time from enqueue (or send_at) to WhatsApp's ack of an outgoing message."},
	"meowgate_message_delivery_latency_seconds": {"histogram", "Time from WhatsApp's ack to the first delivery (or read) receipt."},
}

// annotate copies the set's exposition to b with HELP and TYPE lines.
func annotate(b *bytes.Buffer, text []byte) {
	prev := ""
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		fam := familyOf(line)
		if fam != prev {
			if h, ok := help[fam]; ok {
				b.WriteString("# HELP " + fam + " " + h[1] + "\n# TYPE " + fam + " " + h[0] + "\n")
			}
			prev = fam
		}
		b.Write(line)
		b.WriteByte('\n')
	}
}

// familyOf is the metric family of an exposition line: its name without
// labels and without a histogram's _bucket, _sum or _count.
func familyOf(line []byte) string {
	end := bytes.IndexAny(line, "{ ")
	if end < 0 {
		end = len(line)
	}
	name := string(line[:end])
	if _, ok := help[name]; ok {
		return name
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suf); ok {
			if _, ok := help[base]; ok {
				return base
			}
		}
	}
	return name
}

// WebhookAttempt counts one recorded webhook attempt of instance id by its
// outcome (the delivery's new status); the webhook worker calls it.
func (m *Metrics) WebhookAttempt(id, status string) {
	in, err := m.opts.Instances.Get(id)
	if err != nil {
		return // deleted meanwhile
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.seriesLocked(id, in.Name).hookAttempts[status]; c != nil {
		c.Inc()
	}
}
