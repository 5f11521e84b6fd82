package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/webhook"
)

// webhookFlags tune webhook delivery and how long events are kept.
type webhookFlags struct {
	allowLocal                      *bool
	concurrency                     *int
	timeout, retryFor, disableAfter *time.Duration
	lease                           *time.Duration
	retention                       *time.Duration
}

func addWebhookFlags(f *flags) webhookFlags {
	d := service.Defaults()
	return webhookFlags{
		allowLocal: f.bool("webhook-allow-local", "CANOPY_WEBHOOK_ALLOW_LOCAL", false,
			"development only: let webhook endpoints be http URLs and private or loopback addresses (otherwise refused: https to public addresses only)"),
		concurrency: f.int("webhook-concurrency", "CANOPY_WEBHOOK_CONCURRENCY", webhook.DefaultConcurrency, "webhook deliveries posted at once"),
		timeout:     f.duration("webhook-timeout", "CANOPY_WEBHOOK_TIMEOUT", webhook.DefaultTimeout, "how long one webhook delivery may take, connecting to answer"),
		retryFor: f.duration("webhook-retry-for", "CANOPY_WEBHOOK_RETRY_FOR", d.WebhookRetryFor,
			"how long a webhook delivery is retried (exponential backoff with jitter, up to 8 h apart) before it is marked failed"),
		disableAfter: f.duration("webhook-disable-after", "CANOPY_WEBHOOK_DISABLE_AFTER", d.WebhookDisableAfter,
			"an endpoint that failed every delivery this long is disabled and its account's admins are emailed"),
		lease: f.duration("webhook-lease", "CANOPY_WEBHOOK_LEASE", d.WebhookLease,
			"how long a worker's claim on a webhook delivery lasts before another may post it (a crashed worker's are posted again after it)"),
		retention: f.duration("event-retention", "CANOPY_EVENT_RETENTION", service.DefaultEventRetention,
			"how long events (GET /v1/events) and webhook deliveries are kept (0: for ever)"),
	}
}

// apply validates the flags into cfg.
func (wf webhookFlags) apply(cfg *service.Config, log *slog.Logger) error {
	switch {
	case *wf.concurrency < 1:
		return usageError{"--webhook-concurrency must be at least 1"}
	case *wf.timeout <= 0 || *wf.retryFor <= 0 || *wf.disableAfter <= 0 || *wf.lease <= 0:
		return usageError{"--webhook-timeout, --webhook-retry-for, --webhook-disable-after and --webhook-lease must be positive"}
	case *wf.lease < 2**wf.timeout:
		return usageError{"--webhook-lease must be at least twice --webhook-timeout: a round of deliveries ends within half a lease, so none is posted by two workers at once"}
	case *wf.retention < 0:
		return usageError{"--event-retention must not be negative"}
	}
	cfg.WebhookAllowLocal, cfg.WebhookRetryFor, cfg.WebhookDisableAfter = *wf.allowLocal, *wf.retryFor, *wf.disableAfter
	cfg.WebhookLease = *wf.lease
	if *wf.allowLocal {
		log.Warn("--webhook-allow-local: webhooks may go to http URLs and private or loopback addresses; never use this in production")
	}
	return nil
}

// worker builds the webhook delivery worker.
func (wf webhookFlags) worker(svc *service.Service, log *slog.Logger) *webhook.Worker {
	client := webhook.NewClient(webhook.ClientConfig{AllowLocal: *wf.allowLocal, Timeout: *wf.timeout,
		MaxConnsPerHost: *wf.concurrency, UserAgent: "Canopy-Webhooks/" + version()})
	return webhook.NewWorker(svc, client, webhook.WorkerConfig{Concurrency: *wf.concurrency, SendTimeout: *wf.lease / 2}, log)
}

// prune deletes old events and deliveries every hour, unless they are
// kept for ever.
func (wf webhookFlags) prune(ctx context.Context, svc *service.Service, log *slog.Logger) {
	if *wf.retention == 0 {
		return
	}
	every(ctx, time.Hour, log, "pruned old events", func(ctx context.Context) (int64, error) {
		return svc.PruneEvents(ctx, *wf.retention)
	})
}
