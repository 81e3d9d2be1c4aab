package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/meowgate/meowgate/instance"
	"github.com/meowgate/meowgate/wasim"
)

// sandboxCreateGroup has a simulated contact create a WhatsApp group; an
// instance's number may be among the participants, whose linked device
// then learns of the group as WhatsApp tells it.
func (h *handler) sandboxCreateGroup(w http.ResponseWriter, r *http.Request, _ *caller) error {
	var p struct {
		Owner        string   `json:"owner"`
		Subject      string   `json:"subject"`
		Participants []string `json:"participants"`
		Addressing   string   `json:"addressing"`
	}
	if err := h.decode(w, r, &p, false); err != nil {
		return err
	}
	fields := map[string]string{}
	if !instance.ValidPhone(p.Owner) {
		fields["owner"] = "must be an E.164 number such as +4915123456789"
	}
	if p.Subject == "" {
		fields["subject"] = "is required"
	} else if len([]rune(p.Subject)) > 100 {
		fields["subject"] = "at most 100 characters"
	}
	if len(p.Participants) == 0 {
		fields["participants"] = "at least one participant is required"
	}
	for i, ph := range p.Participants {
		if !instance.ValidPhone(ph) {
			fields[fmt.Sprintf("participants[%d]", i)] = "must be an E.164 number"
		}
	}
	if p.Addressing != "" && p.Addressing != "pn" && p.Addressing != "lid" {
		fields["addressing"] = "must be pn or lid"
	}
	if len(fields) > 0 {
		return invalidFields("some fields are invalid", fields)
	}
	ctx, cancel := withTimeout(r, 30*time.Second)
	defer cancel()
	jid, err := h.opts.Sandbox.CreateGroup(ctx, wasim.GroupSpec{Owner: p.Owner, Subject: p.Subject, Participants: p.Participants, Addressing: p.Addressing})
	var se *wasim.SpecError
	switch {
	case errors.As(err, &se):
		return invalidFields(se.Error(), map[string]string{se.Field: se.Msg})
	case err != nil:
		return simError(err)
	}
	writeJSON(w, http.StatusCreated, map[string]string{"jid": jid.String()})
	return nil
}
