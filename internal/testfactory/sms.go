package testfactory

import (
	"context"
	"testing"

	"github.com/canopyhq/canopy"
)

// SMSMessage returns the queued text with the given id, as the operator
// lists it.
func (b *Bundle) SMSMessage(t testing.TB, id string) *canopy.SMSMessage {
	t.Helper()
	msgs, err := b.Svc.Operator().ListSMS(context.Background(), "", "", 10_000)
	if err != nil {
		t.Fatalf("list SMS: %v", err)
	}
	for _, m := range msgs {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("no SMS %s", id)
	return nil
}
