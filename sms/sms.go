// Package sms delivers the SMS outbox: a worker that claims due messages
// (leased, so several workers never send one message at once), hands each
// to a Sender, and records the outcome — sent, retried after a backoff, or
// failed for good and refunded (service.SMSFailed).
//
// Two senders come with it: NewTwilioSender speaks the Twilio Messages API
// (and any provider that copies it), and NewFileSender, the default when
// no provider is configured, writes each message to a file.
//
// Delivery is at least once: a worker that stops after the provider took
// a message but before recording it leaves the lease to expire, and the
// message is sent again.
package sms

import (
	"context"
	"errors"
)

// Message is one text message to send.
type Message struct {
	ID   string // the outbox id, the same on every attempt
	To   string // E.164
	Body string
}

// Sender hands messages to a provider.
type Sender interface {
	// Send sends one message and returns the provider's id for it. An
	// error wrapping *RejectedError is permanent (the provider refused
	// the message and would refuse it again); any other is retried.
	Send(ctx context.Context, m Message) (providerID string, err error)
	// Describe says where messages go, for the log.
	Describe() string
}

// RejectedError is a provider's permanent refusal of a message (an
// invalid number, say): it is not retried.
type RejectedError struct {
	Status int
	Reason string
}

func (e *RejectedError) Error() string { return e.Reason }

// IsRejected reports whether err is a permanent refusal.
func IsRejected(err error) bool {
	var r *RejectedError
	return errors.As(err, &r)
}
