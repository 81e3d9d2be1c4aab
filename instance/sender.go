package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/meowgate/meowgate/event"
	"github.com/meowgate/meowgate/internal/pause"
	"github.com/meowgate/meowgate/store"
)

const (
	maxAttempts    = 5
	typingPerRune  = 50 * time.Millisecond
	typingMin      = 500 * time.Millisecond
	typingMax      = 8 * time.Second
	typingRenew    = 20 * time.Second
	presenceRenew  = 5 * time.Minute
	claimRetryWait = time.Second
)

// sender works an instance's queue while its client is logged in: one
// message at a time, in order, paced by the instance's settings. Its
// goroutine runs only while there is something to send; a timer or a poke
// starts it again, so an idle instance costs no stack.
type sender struct {
	inst   *instance
	cli    *whatsmeow.Client
	calls  *sync.WaitGroup // the client's, see goCall
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}

	mu       sync.Mutex
	running  bool
	stopped  bool
	due      *time.Timer     // wakes the sender for a scheduled message
	renew    *time.Timer     // renews the presence for always_online
	renewDue bool            // the presence renewal is due
	onWA     map[string]bool // recipients known to be on WhatsApp (or not)
	presence string          // last presence sent

	last time.Time // WhatsApp's ack of the last send; owned by the running goroutine
}

// startSender is called on the actor when the client logs in.
func (i *instance) startSender(cli *whatsmeow.Client) {
	i.stopSender()
	ctx, cancel := context.WithCancel(i.m.ctx)
	s := &sender{inst: i, cli: cli, calls: i.calls, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), onWA: map[string]bool{}}
	i.sender = s
	s.mu.Lock()
	s.renew = time.AfterFunc(presenceRenew, s.renewPresence)
	s.mu.Unlock()
	s.poke() // the presence at login, and what was queued meanwhile
}

// stopSender ends the sender after its current send, without waiting for
// it: that send may wait for WhatsApp's answer (see waCtx); settle waits.
func (i *instance) stopSender() {
	if i.sender == nil {
		return
	}
	s := i.sender
	i.sender = nil
	s.cancel()
	s.mu.Lock()
	s.stopped = true
	if s.due != nil {
		s.due.Stop()
	}
	s.renew.Stop()
	s.mu.Unlock()
}

// queueChanged wakes the sender and refreshes the counts shown in the API.
func (i *instance) queueChanged() {
	if i.sender != nil {
		i.sender.poke()
	}
	i.countsChanged()
}

// poke makes the sender look at the queue and the presence again, starting
// its goroutine if it is idle.
func (s *sender) poke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	if s.running {
		select {
		case s.wake <- struct{}{}:
		default:
		}
		return
	}
	s.running = true
	s.inst.m.track(s.calls, s.run)
}

func (s *sender) renewPresence() {
	s.mu.Lock()
	s.renewDue = true
	if !s.stopped {
		s.renew.Reset(presenceRenew)
	}
	s.mu.Unlock()
	s.poke()
}

// idle ends the goroutine unless a poke came in meanwhile, and sets the
// timer for the next scheduled message.
func (s *sender) idle(next time.Time) (stay bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.wake:
		return true
	default:
	}
	s.running = false
	if s.due != nil {
		s.due.Stop()
		s.due = nil
	}
	if !next.IsZero() && !s.stopped {
		s.due = time.AfterFunc(time.Until(next)+5*time.Millisecond, s.poke)
	}
	return false
}

func (s *sender) run() {
	i := s.inst
	ctx := s.ctx
	idled := false
	var claimed *store.Message // claimed with the previous send's ack
	defer func() {
		if claimed != nil { // stopped before sending it
			bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := i.m.store.UnclaimMessage(bg, i.id, claimed.ID); err != nil {
				i.log.Error("cannot put a claimed message back", "id", claimed.ID, "err", err)
			}
			cancel()
		}
		if !idled { // stopped: idle has not handed the queue over already
			s.mu.Lock()
			s.running = false
			s.mu.Unlock()
		}
	}()
	for ctx.Err() == nil {
		s.mu.Lock()
		renew := s.renewDue
		s.renewDue = false
		s.mu.Unlock()
		s.applyPresence(renew)

		set := i.snapshot().info.Settings
		msg := claimed
		claimed = nil
		if msg == nil {
			if !s.last.IsZero() {
				delay := time.Duration(set.SendDelayMS) * time.Millisecond
				if set.SendJitterMS > 0 {
					delay += time.Duration(rand.Int64N(set.SendJitterMS+1)) * time.Millisecond
				}
				if !pause.Sleep(ctx, time.Until(s.last.Add(delay))) {
					return
				}
			}
			var next time.Time
			var err error
			msg, next, err = i.m.store.ClaimMessage(ctx, i.id)
			if err != nil {
				if ctx.Err() == nil {
					i.log.Error("cannot read the queue", "err", err)
				}
				pause.Sleep(ctx, claimRetryWait)
				continue
			}
			if msg == nil {
				i.post(func() { i.countsChanged() })
				if !s.idle(next) {
					idled = true
					return
				}
				continue
			}
		}
		// The pause runs from WhatsApp's ack of this send (or its failure), not
		// from the end of our bookkeeping, so the spacing the recipient sees
		// is the configured one. Without a pause the next message is claimed
		// in the transaction that records this one as sent (not with
		// mark_read_on_reply, whose WhatsApp call comes after that
		// transaction and could hold the claimed message up).
		chain := set.SendDelayMS == 0 && set.SendJitterMS == 0 && !set.MarkReadOnReply
		s.last, claimed = s.send(msg, chain)
		i.post(func() { i.countsChanged() })
	}
}

// applyPresence keeps the presence that always_online asks for: available,
// or unavailable so the phone keeps getting notifications.
func (s *sender) applyPresence(renew bool) {
	want := string(types.PresenceUnavailable)
	if s.inst.snapshot().info.Settings.AlwaysOnline {
		want = string(types.PresenceAvailable)
	}
	s.mu.Lock()
	same := s.presence == want
	s.mu.Unlock()
	if same && !(renew && want == string(types.PresenceAvailable)) {
		return
	}
	// A detached context: cancelling whatsmeow mid-write races with the
	// disconnect that follows a stop.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if err := s.cli.SendPresence(pctx, types.Presence(want)); err != nil {
		s.inst.log.Debug("cannot send presence", "err", err)
		return
	}
	s.mu.Lock()
	s.presence = want
	s.mu.Unlock()
}

// waCtx is the context for a call into whatsmeow: detached from the
// sender's own, because whatsmeow closes its response channel when a
// request's context ends while its reader may still deliver to it (a data
// race inside the library). A stopped sender lets the call finish instead.
func (s *sender) waCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(s.ctx), 60*time.Second)
}

// errRetry marks failures worth another attempt (connection trouble).
var errRetry = errors.New("retry")

func (s *sender) send(msg *store.Message, chain bool) (done time.Time, next *store.Message) {
	i := s.inst
	ctx := s.ctx
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	i.flight.begin(msg.ID)
	resp, err := s.deliver(msg)
	done = time.Now() // WhatsApp's ack, or the failure: the pause runs from here
	retry := false
	switch {
	case err == nil:
		next = s.recordSent(bg, msg, resp, chain && ctx.Err() == nil)
	case errors.Is(err, errRetry) && msg.Attempts < maxAttempts:
		i.log.Info("send interrupted; message stays queued", "id", msg.ID, "attempt", msg.Attempts, "err", err)
		if rerr := i.m.store.RequeueMessage(bg, i.id, msg.ID, err.Error()); rerr != nil {
			i.log.Error("cannot requeue", "id", msg.ID, "err", rerr)
		}
		// A stopped sender's requeue must wake the next one.
		i.post(i.queueChanged)
		retry = true
	case s.restricted(bg, msg, err):
		// Held as a first contact: queued again, nothing failed.
	default:
		i.log.Warn("message failed", "id", msg.ID, "to", msg.Recipient, "err", err)
		text := strings.TrimPrefix(err.Error(), errRetry.Error()+": ")
		text = strings.TrimPrefix(text, errPermanent.Error()+": ")
		if ferr := i.m.store.MessageFailed(bg, i.id, msg.ID, text); ferr != nil {
			i.log.Error("cannot record failure", "id", msg.ID, "err", ferr)
		} else if event.IsMedia(msg.Type) {
			i.m.removeMedia(i.m.mediaPath(i.id, msg.ID)) // ended unsent: nobody needs the file
		}
	}
	// The outcome is recorded: receipts that came meanwhile follow it, on
	// the actor, which applies all receipts in their order.
	if i.flight.end(msg.ID) {
		i.post(func() { i.releaseReceipts(msg.ID) })
	}
	if err == nil && i.snapshot().info.Settings.MarkReadOnReply {
		if chat, perr := types.ParseJID(msg.Chat); perr == nil {
			s.markChatRead(bg, chat)
		}
	}
	if retry {
		// Let the connection settle before the next try.
		pause.Sleep(ctx, time.Duration(msg.Attempts)*time.Second)
	}
	return done, next
}

func retryable(err error) error { return fmt.Errorf("%w: %v", errRetry, err) }

// deliver hands one claimed message to WhatsApp with its fixed id and
// returns WhatsApp's ack.
func (s *sender) deliver(msg *store.Message) (whatsmeow.SendResponse, error) {
	var none whatsmeow.SendResponse
	i := s.inst
	ctx := s.ctx
	jid, err := types.ParseJID(msg.Chat)
	if err != nil {
		return none, fmt.Errorf("invalid recipient %q", msg.Chat)
	}
	if jid.Server == types.DefaultUserServer {
		on, err := s.onWhatsApp(jid)
		if err != nil {
			return none, retryable(err)
		}
		if !on {
			return none, fmt.Errorf("+%s is not on WhatsApp", jid.User)
		}
	}
	set := i.snapshot().info.Settings
	var d time.Duration
	if ms := typingOf(msg); ms > 0 {
		d = time.Duration(ms) * time.Millisecond
	} else if set.TypingSimulation {
		d = time.Duration(utf8.RuneCountInString(msg.Text)) * typingPerRune
		d = max(typingMin, min(d, typingMax))
	}
	for d > 0 {
		// WhatsApp drops "typing…" after about 25 s: long waits renew it.
		step := min(d, typingRenew)
		d -= step
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := s.cli.SendChatPresence(pctx, jid, types.ChatPresenceComposing, "")
		if err == nil && !pause.Sleep(ctx, step) {
			err = ctx.Err()
		}
		if err == nil && d == 0 {
			err = s.cli.SendChatPresence(pctx, jid, types.ChatPresencePaused, "")
		}
		cancel()
		if err != nil {
			return none, retryable(err)
		}
	}
	content, err := s.build(msg, jid)
	if err != nil {
		return none, err
	}
	wctx, wcancel := s.waCtx()
	defer wcancel()
	resp, err := s.cli.SendMessage(wctx, jid, content, whatsmeow.SendRequestExtra{ID: msg.ID})
	switch {
	case errors.Is(err, whatsmeow.ErrGroupNotFound):
		return none, fmt.Errorf("%w: the group %s does not exist", errPermanent, jid)
	case errors.Is(err, whatsmeow.ErrNotInGroup):
		return none, fmt.Errorf("%w: this instance is not in the group %s", errPermanent, jid)
	}
	if err != nil {
		if errors.Is(err, whatsmeow.ErrServerReturnedError) {
			return none, fmt.Errorf("WhatsApp refused the message (%w)", err)
		}
		return none, retryable(err)
	}
	return resp, nil
}

// recordSent records WhatsApp's ack of msg, with the receipts that overtook
// it, in one transaction; with claimNext it claims the next message there
// too and returns it.
func (s *sender) recordSent(ctx context.Context, msg *store.Message, resp whatsmeow.SendResponse, claimNext bool) *store.Message {
	i := s.inst
	msg.Status, msg.SentAt, msg.Error = event.StatusSent, resp.Timestamp.UTC(), ""
	data, _ := json.Marshal(viewMessage(i.name(), msg))
	// Receipts that came before this point are recorded with the ack; later
	// ones wait for releaseReceipts.
	early := i.flight.ack(msg.ID)
	next, err := i.m.store.MessageSent(ctx, i.id, msg.ID, resp.Timestamp, data, early, claimNext)
	if err != nil {
		i.log.Error("cannot record sent message", "id", msg.ID, "err", err)
		i.flight.unrecorded(msg.ID, early)
	}
	return next
}

// onWhatsApp asks WhatsApp once per recipient whether the number exists.
func (s *sender) onWhatsApp(jid types.JID) (bool, error) {
	s.mu.Lock()
	on, known := s.onWA[jid.User]
	s.mu.Unlock()
	if known {
		return on, nil
	}
	wctx, wcancel := s.waCtx()
	defer wcancel()
	res, err := s.cli.IsOnWhatsApp(wctx, []string{"+" + jid.User})
	if err != nil {
		return false, err
	}
	on = len(res) > 0 && res[0].IsIn
	s.mu.Lock()
	s.onWA[jid.User] = on
	s.mu.Unlock()
	return on, nil
}

// markChatRead marks the chat's unread incoming messages read, as a person
// answering in the chat would.
func (s *sender) markChatRead(ctx context.Context, chat types.JID) {
	i := s.inst
	unread, err := i.m.store.UnreadIncoming(ctx, i.id, chat.String())
	if err != nil || len(unread) == 0 {
		return
	}
	bySender := map[string][]string{}
	for _, m := range unread {
		bySender[m.Sender] = append(bySender[m.Sender], m.ID)
	}
	for from, ids := range bySender {
		sender, _ := types.ParseJID(from)
		if err := s.cli.MarkRead(ctx, ids, time.Now(), chat, sender); err != nil {
			i.log.Debug("cannot mark read", "err", err)
			continue
		}
		_ = i.m.store.MarkIncomingRead(ctx, i.id, ids)
	}
}

// typingOf is the typing time a message asked for (SendParams.TypingMS).
func typingOf(msg *store.Message) int64 {
	var c struct {
		TypingMS int64 `json:"typing_ms"`
	}
	if len(msg.Content) > 0 {
		_ = json.Unmarshal(msg.Content, &c) // build reports a broken row
	}
	return c.TypingMS
}
