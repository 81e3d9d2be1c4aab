package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/store"
)

// Limits on what is kept of an answer.
const (
	maxResponseRead = 64 << 10 // bytes of a response body read at most
	maxSnippet      = 512      // bytes of body or error text recorded
)

// Sign returns the X-Meowgate-Signature value for body at time t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// outcome is what one attempt came to.
type outcome struct {
	status     int    // HTTP status; 0 without a response
	err        string // "" when delivered
	response   string // body snippet
	retryable  bool
	gone       bool          // 410: also disable the webhook
	retryAfter time.Duration // from Retry-After on 429/503; 0 = none
}

// attempt POSTs the head delivery once and records the outcome.
func (r *runner) attempt(ctx context.Context, cfg instance.Webhook, d store.WebhookDelivery, ev store.Event) error {
	w := r.w
	name := w.m.NameOf(r.id)
	if name == "" {
		name = r.id
	}
	target := cfg.URL
	var body []byte // the body of every POST
	if cfg.Format == instance.FormatEvolution {
		var ok bool
		if target, body, ok = r.evolution(ctx, cfg, name, ev); !ok {
			return r.skip(ctx, cfg, d, ev)
		}
	} else {
		if cfg.IncludeMedia {
			ev = r.withMedia(ctx, ev)
		}
		body = ev.Envelope(name).AppendJSON(nil)
	}

	start := time.Now()
	o := r.post(ctx, cfg, target, ev, body)
	if ctx.Err() != nil {
		if o.status == 0 {
			return ctx.Err() // cut short by Close: made again after the next Start
		}
		// The receiver answered just before Close: record it, so a
		// delivered event is not sent again after the restart.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}

	a := store.WebhookAttempt{At: start, URL: instance.MaskURL(target), StatusCode: o.status, Error: o.err, Response: o.response}
	switch {
	case o.err == "":
		a.Status = store.DeliveryDelivered
	case !o.retryable:
		a.Status = store.DeliveryDead
	default:
		opened := d.FirstAttemptAt
		if opened.IsZero() {
			opened = start
		}
		deadline := opened.Add(w.opts.RetryWindow)
		now := time.Now()
		if !now.Before(deadline) {
			a.Status = store.DeliveryDead
			a.Error = truncate(a.Error + fmt.Sprintf(" (gave up: retried for %s)", w.opts.RetryWindow))
			break
		}
		a.Status = store.DeliveryFailed
		a.NextAttemptAt = now.Add(w.backoff(now.Sub(opened), o.retryAfter))
		if a.NextAttemptAt.After(deadline) {
			a.NextAttemptAt = deadline // one last try as the window closes
		}
	}
	got, err := w.store.RecordWebhookAttempt(ctx, d.ID, a)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil // changed under us; the next step reads it again
		}
		return err
	}
	if w.opts.Observe != nil {
		w.opts.Observe(r.id, got.Status)
	}
	log := w.log.With("instance", name, "delivery", d.ID, "event", ev.ID, "type", ev.Type, "attempts", got.Attempts)
	switch got.Status {
	case store.DeliveryDelivered:
		log.Debug("webhook: delivered", "status", o.status, "duration", time.Since(start))
	case store.DeliveryFailed:
		log.Warn("webhook: attempt failed, will retry", "err", a.Error, "next", got.NextAttemptAt)
	case store.DeliveryDead:
		log.Warn("webhook: delivery dead", "err", a.Error)
	}
	if o.gone {
		reason := fmt.Sprintf("the receiver answered 410 Gone to delivery %d", ev.ID)
		if err := w.m.DisableWebhook(ctx, r.id, cfg.URL, reason); err != nil {
			return fmt.Errorf("webhook: disable after 410: %w", err)
		}
		log.Warn("webhook: disabled: the receiver answered 410 Gone", "url", instance.MaskURL(cfg.URL))
	}
	return nil
}

// skip records a queued delivery that has no body in the webhook's
// format as delivered without a POST (its format changed after it was
// queued), so the deliveries after it go on in order.
func (r *runner) skip(ctx context.Context, cfg instance.Webhook, d store.WebhookDelivery, ev store.Event) error {
	a := store.WebhookAttempt{At: time.Now(), URL: instance.MaskURL(cfg.URL), Status: store.DeliveryDelivered,
		Response: "not sent: the event has no Evolution API counterpart"}
	if _, err := r.w.store.RecordWebhookAttempt(ctx, d.ID, a); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	r.w.log.Debug("webhook: skipped, no Evolution API counterpart", "instance", r.id, "delivery", d.ID, "event", ev.ID, "type", ev.Type)
	return nil
}

// post sends one request to target (the webhook's URL, or a URL derived
// from it) and classifies the answer.
func (r *runner) post(ctx context.Context, cfg instance.Webhook, target string, ev store.Event, body []byte) outcome {
	w := r.w
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	// Checked at every attempt, not only when set: a name may resolve to
	// this host later, or the URL was stored before the check existed.
	if err := w.m.CheckWebhookTarget(ctx, target); err != nil {
		return outcome{err: truncate(err.Error())} // never retried: it would loop
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return outcome{err: truncate("bad webhook URL: " + maskedError(err, target))} // not retryable
	}
	for k, v := range cfg.Headers { // ours below win over custom ones
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.opts.UserAgent)
	req.Header.Set("X-Meowgate-Event", ev.Type)
	req.Header.Set("X-Meowgate-Delivery", strconv.FormatInt(ev.ID, 10))
	if cfg.Secret != "" {
		req.Header.Set("X-Meowgate-Signature", Sign(cfg.Secret, time.Now(), body))
	} else {
		req.Header.Del("X-Meowgate-Signature")
	}

	resp, err := w.client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			return outcome{err: fmt.Sprintf("timeout after %s", w.opts.Timeout), retryable: true}
		}
		return outcome{err: truncate(maskedError(err, target)), retryable: true}
	}
	defer resp.Body.Close()
	buf, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	o := outcome{status: resp.StatusCode, response: truncate(string(buf))}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return o // delivered, even if the body was cut short: the status counts
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		o.retryable = true
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			o.retryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	case code == http.StatusGone:
		o.gone = true
	}
	msg := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	if o.response != "" {
		msg += ": " + o.response
	} else if rerr != nil {
		msg += " (reading body: " + rerr.Error() + ")"
	}
	o.err = truncate(msg)
	return o
}

// backoff is the delay after a failed attempt, elapsed after the retry
// window opened: elapsed + base, so quick attempts wait base, 2·base,
// 4·base, … (each delay doubles the time since the window opened), capped
// at MaxBackoff. A Retry-After, when given, is used instead (same cap, at
// least base).
func (w *Worker) backoff(elapsed, retryAfter time.Duration) time.Duration {
	d := elapsed + w.opts.BackoffBase
	if retryAfter > 0 {
		d = max(retryAfter, w.opts.BackoffBase)
	}
	return min(d, w.opts.MaxBackoff)
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 1<<31)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// truncate cuts s to maxSnippet bytes on a rune boundary and makes it valid
// UTF-8, for the database and the API.
func truncate(s string) string {
	if len(s) > maxSnippet {
		cut := maxSnippet
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// maskedError is err's text with the URL's credentials masked: it is
// recorded as the delivery's last_error, which the API shows.
func maskedError(err error, rawURL string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = instance.MaskURL(rawURL)
	}
	return err.Error()
}
