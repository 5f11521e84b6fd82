package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/console"
	"github.com/canopyhq/canopy/httpapi"
	"github.com/canopyhq/canopy/password"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/postgres"
)

const serveSummary = `Runs the HTTP API and the web console on one port. With no flags it keeps
its data in ./canopy.db (SQLite) and listens on 127.0.0.1:8080: the API is
under /v1/, and http://127.0.0.1:8080 opens the console's sign-in page. On
first start it creates the platform root account and prints its API key
once, on a line beginning "root API key:".`

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newFlags("serve", serveSummary, getenv, stderr)
	addr := f.string("addr", "CANOPY_ADDR", service.DefaultAddr, "address to listen on")
	db := addDBFlags(f)
	svcFlags := addServiceFlags(f)
	mf := addMailFlags(f)
	sf := addSMSFlags(f)
	wf := addWebhookFlags(f)
	maxBody := f.int("max-body-bytes", "CANOPY_MAX_BODY_BYTES", httpapi.DefaultMaxBodyBytes, "largest request body accepted (413 above)")
	limits := addPublicLimitFlags(f)
	rootName := f.string("root-name", "CANOPY_ROOT_NAME", "Platform", "name of the platform root account, used on first start")
	shutdown := f.duration("shutdown-timeout", "CANOPY_SHUTDOWN_TIMEOUT", 30*time.Second, "how long in-flight requests may finish after SIGINT/SIGTERM")
	logLevel := f.string("log-level", "CANOPY_LOG_LEVEL", "info", "debug, info, warn or error")
	logFlush := f.duration("log-flush", "CANOPY_LOG_FLUSH", 100*time.Millisecond, "how often info lines (one a request) are written out together; warnings and errors are written at once (0: every line at once)")
	rootKey := f.env("CANOPY_ROOT_API_KEY")
	if err := f.parse(args); err != nil {
		return err
	}
	logOut, flushLogs := stderr, func() {}
	if *logFlush > 0 {
		lb := newLogBuffer(stderr, *logFlush)
		defer lb.Close()
		logOut, flushLogs = lb, lb.flush
	}
	log, err := newLogger(logOut, *logLevel)
	if err != nil {
		return err
	}
	apiOpts := httpapi.Options{Logger: log, MaxBodyBytes: int64(*maxBody), Version: version()}
	if err := limits.apply(&apiOpts, log); err != nil {
		return err
	}

	// Every flag is checked before the database is touched: a mistyped
	// command must not create or migrate one.
	ids := canopy.NewIDs(nil, nil)
	cfg, err := svcFlags.config(*addr, ids, log)
	if err != nil {
		return err
	}
	if err := wf.apply(&cfg, log); err != nil {
		return err
	}
	if err := sf.apply(&cfg); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close()
	if *svcFlags.publicURL == "" {
		// Links in emails and web links name the address really bound
		// (--addr 127.0.0.1:0 picks a port).
		cfg.PublicURL = "http://" + ln.Addr().String()
	}
	// The provider signs the webhook's public URL with the auth token.
	apiOpts.SMSAuthToken, apiOpts.SMSWebhookBase = *sf.token, cfg.PublicURL

	st, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	defer st.db.Close()
	applied, err := st.migrate(ctx, st.db)
	if err != nil {
		return err
	}
	for _, m := range applied {
		log.Info("migration applied", "version", m.Version, "name", m.Name)
	}
	log.Info("database ready", "engine", st.engine, "database", st.where)

	svc := newService(st.db, cfg)
	// Make the stand-in hash that unknown logins are checked against now,
	// so the first such login costs what every other does.
	password.DummyHash()
	worker, err := mf.worker(svc, log)
	if err != nil {
		return err
	}
	smsWorker, err := sf.worker(svc, log)
	if err != nil {
		return err
	}
	hookWorker := wf.worker(svc, log)
	secret, created, err := svc.Bootstrap(ctx, *rootName, rootKey)
	if err != nil {
		return err
	}
	if created {
		root, err := svc.Root(ctx)
		if err != nil {
			return err
		}
		flushLogs() // the lines logged before it come before it
		fmt.Fprintf(stderr, "root API key: %s\n", secret)
		fmt.Fprintf(stderr, "  (the platform root account is %s; this key is shown only once — keep it safe)\n", root.ID)
	}

	apiOpts.IDs = ids
	// One per-address allowance for the API's public endpoints and the
	// public web form.
	apiOpts.Limiter = httpapi.NewLimiter(apiOpts)
	api := httpapi.NewServer(svc, apiOpts)
	// The console's public pages (sign-in, passwords, sign-up) and the web
	// links' form draw on it too.
	web, err := console.New(svc, console.Options{
		Logger: log, IDs: ids, PublicURL: cfg.PublicURL, Limiter: apiOpts.Limiter, MaxBodyBytes: int64(*maxBody),
	})
	if err != nil {
		return err
	}
	webform := console.NewWebForm(svc, console.WebFormOptions{Limiter: apiOpts.Limiter, Logger: log, IDs: ids})
	srv := &http.Server{
		Handler:           rootHandler(api, web, webform),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slogErrorLog(log),
	}
	log.Info("listening", "addr", ln.Addr().String(), "version", version())

	go every(ctx, time.Hour, log, "pruned idempotency records", func(ctx context.Context) (int64, error) {
		return svc.PruneIdempotency(ctx, idempotencyRetention)
	})
	go every(ctx, time.Minute, log, "expired invitations", func(ctx context.Context) (int64, error) {
		n, err := svc.ExpireInvitations(ctx)
		return int64(n), err
	})
	go wf.prune(ctx, svc, log)
	go every(ctx, time.Minute, log, "ended idle SMS conversations", svc.ExpireSMSConversations)
	go every(ctx, time.Hour, log, "forgot old inbound SMS ids", svc.PruneInboundSMS)
	workerDone, smsDone, hooksDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(workerDone)
		worker.Run(ctx)
	}()
	go func() {
		defer close(smsDone)
		smsWorker.Run(ctx)
	}()
	go func() {
		defer close(hooksDone)
		hookWorker.Run(ctx)
	}()
	if st.engine == "postgres" {
		// Replicas tell each other about key revocations and tree changes,
		// so their caches do not wait for --auth-cache-ttl.
		go postgres.ListenAuthChanges(ctx, *db.url, log, svc.AuthChanged, nil)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", shutdown.String())
	sctx, cancel := context.WithTimeout(context.Background(), *shutdown)
	defer cancel()
	var abandoned []string
	if err := srv.Shutdown(sctx); err != nil {
		// The deadline came with requests still running: name each one,
		// then cut them off.
		reqs := api.InFlight()
		for _, r := range reqs {
			log.Warn("shutdown abandons a request in flight; its client gets no answer", "method", r.Method, "path", r.Path,
				"requestId", r.RequestID, "runningFor", time.Since(r.Since).Round(time.Millisecond).String())
		}
		_ = srv.Close()
		if len(reqs) > 0 {
			abandoned = append(abandoned, fmt.Sprintf("%d request(s) in flight", len(reqs)))
		}
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// The workers claim nothing more once ctx has ended; a round under way
	// records what it sent and gives back what it had not started.
	for _, wk := range []struct {
		what    string
		done    chan struct{}
		holding func() []string
	}{{"email", workerDone, worker.Holding}, {"SMS", smsDone, smsWorker.Holding}, {"webhook", hooksDone, hookWorker.Holding}} {
		select {
		case <-wk.done:
		case <-sctx.Done():
		}
		select { // done counts, even when the deadline came at the same moment
		case <-wk.done:
			continue
		default:
		}
		if held := wk.holding(); len(held) > 0 {
			log.Warn("shutdown abandons "+wk.what+" messages being sent; they are sent again once their lease ends",
				"messages", held)
			abandoned = append(abandoned, fmt.Sprintf("%d %s message(s) being sent", len(held), wk.what))
		} else {
			log.Info("the " + wk.what + " worker held no messages when shutdown ended")
		}
	}
	if len(abandoned) > 0 {
		log.Warn("stopped after the shutdown timeout", "abandoned", strings.Join(abandoned, ", "))
		return fmt.Errorf("shutdown timed out after %s and abandoned %s", *shutdown, strings.Join(abandoned, ", "))
	}
	log.Info("stopped")
	return nil
}

// rootHandler serves one port: the API's paths to the API, the web links'
// form to it, everything else to the web console and public pages.
func rootHandler(api, web, webform http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/", "/healthz", "/readyz", "/metrics", "/openapi.json"} {
		mux.Handle(p, api)
	}
	mux.Handle(canopy.WebFormPage(""), webform) // "/f/" and below
	mux.Handle("/", web)
	return mux
}

// every runs job each period until ctx ends, logging its outcome: how
// many things it did (at info when any), or its error.
func every(ctx context.Context, period time.Duration, log *slog.Logger, what string, job func(context.Context) (int64, error)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := job(ctx)
			switch {
			case err != nil:
				log.Warn(what, "err", err.Error())
			case n > 0:
				log.Info(what, "count", n)
			}
		}
	}
}

// idempotencyRetention is how long a stored first response is replayed.
const idempotencyRetention = 24 * time.Hour

// publicLimitFlags set the per-client rate limit of the endpoints that need
// no credential (sign-in, set-password, password reset).
type publicLimitFlags struct {
	perMinute, burst *int
	proxies          *string
}

func addPublicLimitFlags(f *flags) publicLimitFlags {
	return publicLimitFlags{
		perMinute: f.int("public-rate", "CANOPY_PUBLIC_RATE", httpapi.DefaultPublicRatePerMinute,
			"requests a minute one client address may make to the endpoints and pages that need no credential (sign-in, set-password, reset, sign-up; API and console share one allowance), sustained (0: no limit)"),
		burst: f.int("public-burst", "CANOPY_PUBLIC_BURST", httpapi.DefaultPublicBurst,
			"requests one client address may make to those endpoints and pages at once, before --public-rate applies"),
		proxies: f.string("trusted-proxies", "CANOPY_TRUSTED_PROXIES", "",
			"comma-separated address ranges (10.0.0.0/8,fd00::/8) of reverse proxies whose X-Forwarded-For names the client; empty: the client is the connection's peer"),
	}
}

// apply validates the flags into o.
func (pf publicLimitFlags) apply(o *httpapi.Options, log *slog.Logger) error {
	switch n := *pf.perMinute; {
	case n < 0:
		return usageError{fmt.Sprintf("--public-rate %d: give requests a minute per client address, or 0 for no limit", n)}
	case n == 0:
		o.PublicRateLimit = -1
	default:
		o.PublicRateLimit = rate.Limit(n) / 60
	}
	if *pf.burst < 1 {
		return usageError{fmt.Sprintf("--public-burst %d: must be at least 1", *pf.burst)}
	}
	o.PublicBurst = *pf.burst
	proxies, err := parseRanges(*pf.proxies)
	if err != nil {
		return usageError{"--trusted-proxies: " + err.Error()}
	}
	o.TrustedProxies = proxies
	for _, p := range proxies {
		if p.Bits() == 0 {
			log.Warn("--trusted-proxies includes every address: any client can choose the address it is rate-limited as", "range", p.String())
		}
	}
	if *pf.perMinute > 0 {
		log.Info("public endpoints rate-limited per client address", "perMinute", *pf.perMinute, "burst", *pf.burst,
			"trustedProxies", *pf.proxies)
	}
	return nil
}

// parseRanges reads comma-separated CIDRs; a bare address is a range of one.
func parseRanges(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not an address range such as 10.0.0.0/8 or fd00::/8, nor an address", part)
			}
			a = a.WithZone("")
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
