package wasim

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"
)

// benchSim is a simulator whose contacts answer at once (newSim adds
// delays that would dominate a round trip).
func benchSim(b *testing.B) *Server {
	b.Helper()
	s, err := New(context.Background(), Options{Log: testLogger(b), NoReadReceipts: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkPairLogin is one new linked device from nothing: a fresh device
// store (SQLite file, plain driver as a deployment would use), Connect, the
// QR scan, pair-success, the 515 restart, login, the first prekey upload
// (812 keys), until events.Connected.
func BenchmarkPairLogin(b *testing.B) {
	sim := benchSim(b)
	dir := b.TempDir()
	i := 0
	for b.Loop() {
		tc, err := newClientDriver(b, sim, "sqlite", filepath.Join(dir, fmt.Sprintf("client%d.db", i)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pairClientE(sim, tc, fmt.Sprintf("+4918%08d", i), waitTimeout); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := tc.settle(); err != nil {
			b.Fatal(err)
		}
		tc.cli.Disconnect()
		tc.db.Close()
		i++
		b.StartTimer()
	}
}

// BenchmarkSendRoundTrip is a linked device sending text to a contact over
// an established Signal session: "ack" until SendMessage returns with the
// server ack, "delivered" until the contact's delivery receipt arrives
// (the contact's phone decrypts the message first).
func BenchmarkSendRoundTrip(b *testing.B) {
	for _, waitDelivered := range []bool{false, true} {
		name := "ack"
		if waitDelivered {
			name = "delivered"
		}
		b.Run(name, func(b *testing.B) {
			sim := benchSim(b)
			tc := newClient(b, sim, "")
			if _, err := pairClientE(sim, tc, "+4918900000001", waitTimeout); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			to := types.NewJID("4918900000002", types.DefaultUserServer)
			msg := &waE2E.Message{Conversation: proto.String("benchmark")}
			send := func() {
				m := tc.mark()
				resp, err := tc.cli.SendMessage(ctx, to, msg)
				if err != nil {
					b.Fatal(err)
				}
				if waitDelivered {
					if _, _, err := awaitEvent(tc, m, waitTimeout, func(r *events.Receipt) bool {
						return r.Type == types.ReceiptTypeDelivered && r.MessageIDs[0] == resp.ID
					}); err != nil {
						b.Fatal(err)
					}
				}
			}
			send() // device list, prekey bundle and session setup happen here, untimed
			for b.Loop() {
				send()
			}
			b.StopTimer()
			if f := sim.DecryptFailures(); f != 0 {
				b.Fatalf("%d decrypt failures", f)
			}
		})
	}
}
