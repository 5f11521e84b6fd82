package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/mail"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// serviceFlags are the settings of the business rules, shared by the
// commands that build a service.
type serviceFlags struct {
	maxDepth                         *int
	cacheTTL                         *time.Duration
	formCacheMB                      *int
	publicURL                        *string
	tokenTTL, sessionTTL, idle       *time.Duration
	slowAfter, lockAfter             *int
	lockFor                          *time.Duration
	maxAttempts                      *int
	backoff, maxBackoff, leaseTime   *time.Duration
	invitePlans                      *string
	invitationDays                   *int
	signup                           *bool
	creditTypes                      *string
	lowBalance                       *string
	emailQuota, formQuota, formBytes *string
}

// planDefaults formats one limit of every plan as a flag's default:
// "basic=50,pro=500,enterprise=5000".
func planDefaults(limit func(canopy.PlanLimits) int) string {
	var parts []string
	for _, p := range []canopy.Plan{canopy.PlanBasic, canopy.PlanPro, canopy.PlanEnterprise} {
		parts = append(parts, fmt.Sprintf("%s=%d", p, limit(canopy.DefaultPlanLimits[p])))
	}
	return strings.Join(parts, ",")
}

// parsePlanLimits reads "plan=N,…" into each plan's limit (-1: none); plans
// not named keep their default.
func parsePlanLimits(flag, v string, limits map[canopy.Plan]canopy.PlanLimits, set func(*canopy.PlanLimits, int)) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, num, ok := strings.Cut(part, "=")
		plan := canopy.Plan(strings.TrimSpace(name))
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if !ok || !plan.Valid() || err != nil || n < -1 {
			return usageError{fmt.Sprintf("--%s: %q is not plan=number (basic, pro or enterprise; -1 for no limit)", flag, part)}
		}
		l := limits[plan]
		set(&l, n)
		limits[plan] = l
	}
	return nil
}

func addServiceFlags(f *flags) serviceFlags {
	d := service.Defaults()
	thresholds := make([]string, len(d.LowBalanceThresholds))
	for i, n := range d.LowBalanceThresholds {
		thresholds[i] = strconv.FormatInt(n, 10)
	}
	plans := make([]string, len(d.InvitePlans))
	for i, p := range d.InvitePlans {
		plans[i] = string(p)
	}
	return serviceFlags{
		maxDepth: f.int("max-depth", "CANOPY_MAX_DEPTH", d.MaxDepth, "how many levels of accounts may hang below the platform root"),
		cacheTTL: f.duration("auth-cache-ttl", "CANOPY_AUTH_CACHE_TTL", d.AuthCacheTTL,
			"lifetime of cached keys, account paths, shares and forms (negative: no cache); PostgreSQL replicas also announce changes"),
		formCacheMB: f.int("form-cache-mb", "CANOPY_FORM_CACHE_MB", int(d.FormCacheBytes>>20),
			"memory for forms cached for reads, in MiB (estimated: twice their JSON); when full, arbitrary forms make room"),
		publicURL: f.string("public-url", "CANOPY_PUBLIC_URL", "",
			"base URL of the pages that redeem email links (<url>/set-password?token=…); default http://<addr>"),
		tokenTTL:    f.duration("token-ttl", "CANOPY_TOKEN_TTL", d.TokenTTL, "how long a set-password or reset link works"),
		sessionTTL:  f.duration("session-ttl", "CANOPY_SESSION_TTL", d.SessionTTL, "longest life of a signed-in session"),
		idle:        f.duration("session-idle-timeout", "CANOPY_SESSION_IDLE_TIMEOUT", d.SessionIdle, "a session unused this long ends"),
		slowAfter:   f.int("login-slow-after", "CANOPY_LOGIN_SLOW_AFTER", d.LoginSlowAfter, "failed sign-ins for one login before each further try must wait (1 s, 2 s, 4 s …)"),
		lockAfter:   f.int("login-lock-after", "CANOPY_LOGIN_LOCK_AFTER", d.LoginLockAfter, "failed sign-ins for one login before it is locked"),
		lockFor:     f.duration("login-lock-for", "CANOPY_LOGIN_LOCK_FOR", d.LoginLockFor, "how long a locked login stays locked"),
		maxAttempts: f.int("outbox-max-attempts", "CANOPY_OUTBOX_MAX_ATTEMPTS", d.OutboxMaxAttempts, "delivery attempts before an email is marked failed"),
		backoff:     f.duration("outbox-backoff", "CANOPY_OUTBOX_BACKOFF", d.OutboxBackoff, "first retry delay of a failed email (doubling, with jitter)"),
		maxBackoff:  f.duration("outbox-max-backoff", "CANOPY_OUTBOX_MAX_BACKOFF", d.OutboxMaxBackoff, "longest retry delay"),
		leaseTime:   f.duration("outbox-lease", "CANOPY_OUTBOX_LEASE", d.OutboxLease, "how long a worker's claim on an email lasts before another may retry it"),
		invitePlans: f.string("invite-plans", "CANOPY_INVITE_PLANS", strings.Join(plans, ","), "comma-separated plans whose accounts may invite sub-accounts"),
		invitationDays: f.int("invitation-days", "CANOPY_INVITATION_DAYS", d.InvitationDays,
			"default life of an invitation, in days (1-30)"),
		signup: f.bool("signup", "CANOPY_SIGNUP", !d.SignupDisabled, "allow POST /v1/signup: anyone may register a free top-level account"),
		creditTypes: f.string("credit-types", "CANOPY_CREDIT_TYPES", "",
			"comma-separated credit types besides upload and message (lower-case letters, digits, dashes)"),
		lowBalance: f.string("low-balance-thresholds", "CANOPY_LOW_BALANCE_THRESHOLDS", strings.Join(thresholds, ","),
			"balances at which a payer's admins are emailed that credits run low, once per crossing (comma-separated; empty: never)"),
		emailQuota: f.string("email-quota", "CANOPY_EMAIL_QUOTA", planDefaults(func(l canopy.PlanLimits) int { return l.EmailsPerDay }),
			"emails an account's own actions may send per UTC day, by plan (plan=number; -1: no limit); the platform root has none"),
		formQuota: f.string("form-quota", "CANOPY_FORM_QUOTA", planDefaults(func(l canopy.PlanLimits) int { return l.Forms }),
			"forms an account may own, by plan (plan=number; -1: no limit)"),
		formBytes: f.string("form-bytes", "CANOPY_FORM_BYTES", planDefaults(func(l canopy.PlanLimits) int { return l.FormBytes }),
			"largest form definition (its questions as JSON, in bytes), by plan (plan=number; -1: no limit)"),
	}
}

func (sf serviceFlags) config(addr string, ids *canopy.IDs, log *slog.Logger) (service.Config, error) {
	if *sf.maxDepth < 1 || *sf.maxDepth > 64 {
		return service.Config{}, usageError{"--max-depth must be between 1 and 64"}
	}
	if *sf.lockAfter < 1 || *sf.slowAfter < 1 {
		return service.Config{}, usageError{"--login-slow-after and --login-lock-after must be at least 1"}
	}
	public := *sf.publicURL
	if public == "" {
		public = "http://" + addr
	}
	var plans []canopy.Plan
	for _, p := range strings.Split(*sf.invitePlans, ",") {
		plan := canopy.Plan(strings.TrimSpace(p))
		if !plan.Valid() {
			return service.Config{}, usageError{fmt.Sprintf("--invite-plans: %q is not a plan (basic, pro, enterprise)", p)}
		}
		plans = append(plans, plan)
	}
	if *sf.invitationDays < canopy.MinInvitationDays || *sf.invitationDays > canopy.MaxInvitationDays {
		return service.Config{}, usageError{"--invitation-days must be between 1 and 30"}
	}
	var types []canopy.CreditType
	for _, t := range strings.Split(*sf.creditTypes, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if !canopy.ValidCreditTypeName(t) {
			return service.Config{}, usageError{fmt.Sprintf("--credit-types: %q is not a credit type name (lower-case letters, digits and dashes, up to 32)", t)}
		}
		types = append(types, canopy.CreditType(t))
	}
	thresholds := []int64{}
	for _, v := range strings.Split(*sf.lowBalance, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return service.Config{}, usageError{fmt.Sprintf("--low-balance-thresholds: %q is not a whole number of credits", v)}
		}
		thresholds = append(thresholds, n)
	}
	limits := map[canopy.Plan]canopy.PlanLimits{}
	for p, l := range canopy.DefaultPlanLimits {
		limits[p] = l
	}
	for _, q := range []struct {
		flag, value string
		set         func(*canopy.PlanLimits, int)
	}{
		{"email-quota", *sf.emailQuota, func(l *canopy.PlanLimits, n int) { l.EmailsPerDay = n }},
		{"form-quota", *sf.formQuota, func(l *canopy.PlanLimits, n int) { l.Forms = n }},
		{"form-bytes", *sf.formBytes, func(l *canopy.PlanLimits, n int) { l.FormBytes = n }},
	} {
		if err := parsePlanLimits(q.flag, q.value, limits, q.set); err != nil {
			return service.Config{}, err
		}
	}
	if *sf.formCacheMB < 1 {
		return service.Config{}, usageError{"--form-cache-mb must be at least 1"}
	}
	return service.Config{
		MaxDepth: *sf.maxDepth, AuthCacheTTL: *sf.cacheTTL, FormCacheBytes: int64(*sf.formCacheMB) << 20, IDs: ids, Logger: log, PlanLimits: limits,
		PublicURL: public, TokenTTL: *sf.tokenTTL, SessionTTL: *sf.sessionTTL, SessionIdle: *sf.idle,
		LoginSlowAfter: *sf.slowAfter, LoginLockAfter: *sf.lockAfter, LoginLockFor: *sf.lockFor,
		OutboxMaxAttempts: *sf.maxAttempts, OutboxBackoff: *sf.backoff, OutboxMaxBackoff: *sf.maxBackoff, OutboxLease: *sf.leaseTime,
		InvitePlans: plans, InvitationDays: *sf.invitationDays, SignupDisabled: !*sf.signup, CreditTypes: types,
		LowBalanceThresholds: thresholds,
	}, nil
}

// mailFlags say where email goes and what it looks like.
type mailFlags struct {
	smtpURL, from, dir, templates *string
	concurrency                   *int
}

func addMailFlags(f *flags) mailFlags {
	return mailFlags{
		smtpURL: f.string("smtp-url", "CANOPY_SMTP_URL", "",
			"SMTP server: smtp://user:pass@host:587 (STARTTLS) or smtps://…:465 (TLS); empty: write .eml files to --mail-dir"),
		from:        f.string("mail-from", "CANOPY_MAIL_FROM", mail.DefaultFrom, "sender of every email"),
		dir:         f.string("mail-dir", "CANOPY_MAIL_DIR", mail.DefaultDir, "where emails are written as .eml files when no SMTP server is set"),
		templates:   f.string("mail-templates", "CANOPY_MAIL_TEMPLATES", "", "directory whose <name>.{subject,txt,html}.tmpl files override the built-in emails"),
		concurrency: f.int("outbox-concurrency", "CANOPY_OUTBOX_CONCURRENCY", mail.DefaultConcurrency, "SMTP connections the delivery worker uses at once"),
	}
}

// worker builds the delivery worker.
func (mf mailFlags) worker(svc *service.Service, log *slog.Logger) (*mail.Worker, error) {
	tpl, err := mail.LoadTemplates(*mf.templates)
	if err != nil {
		return nil, err
	}
	var sender mail.Sender
	if *mf.smtpURL != "" {
		sender, err = mail.NewSMTPSender(*mf.smtpURL, 30*time.Second)
	} else {
		sender, err = mail.NewFileSender(*mf.dir)
	}
	if err != nil {
		return nil, err
	}
	if *mf.concurrency < 1 {
		return nil, usageError{"--outbox-concurrency must be at least 1"}
	}
	return mail.NewWorker(svc, sender, tpl, mail.WorkerConfig{Concurrency: *mf.concurrency, From: *mf.from}, log), nil
}

// newService builds the service over an opened store.
func newService(db *sqlstore.DB, cfg service.Config) *service.Service {
	return service.New(db, cfg)
}
