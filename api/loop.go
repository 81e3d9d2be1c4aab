package api

import "net/http"

// errWebhookLoop refuses a request made by a meowgate webhook delivery: a
// webhook pointed at a meowgate API (this one behind a proxy, or another
// meowgate whose webhook points back) would make events that make more
// deliveries, without end. A 4xx other than 408/429 is what makes the
// sending worker give the delivery up at once instead of retrying.
var errWebhookLoop = errorf(http.StatusBadRequest, codeWebhookLoop,
	"this request is a meowgate webhook delivery (it carries X-Meowgate-* headers); a webhook must not point at a meowgate API")

// deliveryHeaders are set on every webhook delivery and on nothing else.
var deliveryHeaders = []string{"X-Meowgate-Delivery", "X-Meowgate-Event", "X-Meowgate-Signature"}

// refuseDeliveries answers errWebhookLoop, before any authentication, to a
// request carrying meowgate's own delivery headers.
func (h *handler) refuseDeliveries(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range deliveryHeaders {
			if _, ok := r.Header[k]; ok {
				h.writeError(w, r, errWebhookLoop)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
