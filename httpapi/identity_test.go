package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// The attacks of rule 11 (docs/rules.md), each tried over HTTP as an
// attacker would, on both engines.

// call sends one request with a bearer secret (a key or a session) and
// checks its status.
func (a *testAPI) call(t *testing.T, want int, method, path, secret, as string, body any) *response {
	t.Helper()
	res := a.do(t, req{Method: method, Path: path, Key: secret, As: as, Body: body})
	require.Equal(t, want, res.Status, "%s %s\n%s", method, path, res.Body)
	return res
}

// me returns the caller's acting account and membership ids.
func (a *testAPI) me(t *testing.T, secret string) (accountID, userID string) {
	t.Helper()
	var me struct {
		ActingAccount struct{ ID string }
		User          struct{ ID string }
	}
	a.call(t, http.StatusOK, http.MethodGet, "/v1/me", secret, "", nil).Decode(t, &me)
	return me.ActingAccount.ID, me.User.ID
}

// enterprise creates an enterprise customer of the root and returns it
// with an API key.
func (a *testAPI) enterprise(t *testing.T) (id, key string) {
	t.Helper()
	in := a.ChildInput()
	in.Account.Plan = canopy.PlanEnterprise
	res, err := a.Svc.CreateChild(t.Context(), a.As(t, a.Root.ID), in)
	require.NoError(t, err)
	return res.Account.ID, a.Key(t, res.Account.ID)
}

// TestTakeoverByRenamingAnAdminFails: a free account renames its admin to
// the address an umbrella invited. The rename waits for a confirmation only
// the real address receives, so the invitation stays invisible and
// unacceptable to the attacker, and the real invitee still signs up and
// joins.
func TestTakeoverByRenamingAnAdminFails(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		umbrella, umbrellaKey := a.enterprise(t)
		const victim = "victim@clinic.example"
		inv := idOf(t, a.call(t, http.StatusCreated, http.MethodPost, "/v1/invitations", umbrellaKey, "",
			map[string]any{"email": victim, "billing": "parent"}))
		var signup, confirm *url.URL
		collect := func() {
			for _, e := range a.Emails(t) {
				c := e.Content.Common()
				if c.Email == "evil@attacker.example" {
					require.Contains(t, []string{canopy.TemplateWelcome, canopy.TemplateEmailChangeNotice}, e.Outbox.Template,
						"nothing about the invitation reaches the attacker")
				}
				if c.Email != victim {
					continue
				}
				u, err := url.Parse(c.Link)
				require.NoError(t, err)
				switch e.Outbox.Template {
				case canopy.TemplateInvitation:
					signup = u
				case canopy.TemplateEmailChange:
					confirm = u
				}
			}
		}
		collect()

		a.call(t, http.StatusAccepted, http.MethodPost, "/v1/signup", "", "",
			map[string]any{"accountName": "Evil", "email": "evil@attacker.example"})
		collect()
		evil := a.SignIn(t, "evil@attacker.example")
		evilAcc, evilUser := a.me(t, evil)
		a.call(t, http.StatusOK, http.MethodPatch, "/v1/accounts/"+evilAcc+"/users/"+evilUser, evil, "",
			map[string]any{"email": victim})
		var me struct {
			Person struct{ Email, PendingEmail string }
		}
		a.call(t, http.StatusOK, http.MethodGet, "/v1/me", evil, "", nil).Decode(t, &me)
		require.Equal(t, "evil@attacker.example", me.Person.Email, "the change waits for the new address")
		require.Equal(t, victim, me.Person.PendingEmail)

		evilKey := a.Key(t, evilAcc)
		for _, secret := range []string{evil, evilKey} {
			var received struct{ Data []struct{ ID string } }
			a.call(t, http.StatusOK, http.MethodGet, "/v1/invitations?direction=received", secret, "", nil).Decode(t, &received)
			require.Empty(t, received.Data, "the invitation stays invisible")
			a.call(t, http.StatusNotFound, http.MethodGet, "/v1/invitations/"+inv, secret, "", nil)
			a.call(t, http.StatusNotFound, http.MethodPost, "/v1/invitations/"+inv+"/accept", secret, "", nil)
		}

		// The real invitee gets the invitation, and the confirmation link the
		// attacker asked for; they sign up with the invitation's link.
		collect()
		require.NotNil(t, signup, "the invitee got the invitation")
		require.NotNil(t, confirm)
		a.call(t, http.StatusAccepted, http.MethodPost, "/v1/signup", "", "", map[string]any{
			"accountName": "North Clinic", "email": victim, "name": "Vic",
			"invitation": map[string]any{"id": signup.Query().Get("invitation"), "token": signup.Query().Get("token")}})
		clinic, _ := a.me(t, a.SignIn(t, victim))
		var acc struct{ ParentID string }
		a.call(t, http.StatusOK, http.MethodGet, "/v1/accounts/"+clinic, umbrellaKey, "", nil).Decode(t, &acc)
		require.Equal(t, umbrella, acc.ParentID, "the real invitee joined the umbrella")

		// The confirmation link is worthless now: the address is the invitee's.
		a.call(t, http.StatusBadRequest, http.MethodPost, "/v1/auth/confirm-email", "", "",
			map[string]any{"token": confirm.Query().Get("token")})
		a.call(t, http.StatusOK, http.MethodGet, "/v1/me", evil, "", nil).Decode(t, &me)
		require.Equal(t, "evil@attacker.example", me.Person.Email)
	})
}

// TestLinksToAnOldAddressStopWorking: once a person asks for a new address,
// links sent to the old one no longer work, mail queued for the old one is
// not sent, the old one is told, and the new one applies only when
// confirmed from it.
func TestLinksToAnOldAddressStopWorking(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		acc := a.Child(t, a.Root.ID)
		ada := a.User(t, acc.ID, canopy.UserAdmin)
		session := a.SignIn(t, ada.Email)
		a.call(t, http.StatusAccepted, http.MethodPost, "/v1/auth/password-reset", "", "", map[string]any{"email": ada.Email})
		oldLink := a.Links(t)[ada.Email]
		require.NotEmpty(t, oldLink)
		a.call(t, http.StatusAccepted, http.MethodPost, "/v1/auth/password-reset", "", "", map[string]any{"email": ada.Email})
		// (that second reset is decided after the address change is asked for:
		// the old address is still Ada's until she confirms the new one)

		a.call(t, http.StatusOK, http.MethodPatch, "/v1/accounts/"+acc.ID+"/users/"+ada.ID, session, "",
			map[string]any{"email": "ada.new@example.com"})
		a.call(t, http.StatusBadRequest, http.MethodPost, "/v1/auth/set-password", "", "",
			map[string]any{"token": oldLink, "password": testfactory.StrongPassword})

		sent := map[string][]string{}
		var confirm, laterReset string
		for _, e := range a.Emails(t) {
			c := e.Content.Common()
			sent[c.Email] = append(sent[c.Email], e.Outbox.Template)
			switch e.Outbox.Template {
			case canopy.TemplateEmailChange:
				confirm = mustToken(t, c.Link)
			case canopy.TemplatePasswordReset:
				laterReset = mustToken(t, c.Link)
			}
		}
		require.ElementsMatch(t, []string{canopy.TemplateEmailChangeNotice, canopy.TemplatePasswordReset}, sent[ada.Email],
			"the old address is told")
		require.Equal(t, []string{canopy.TemplateEmailChange}, sent["ada.new@example.com"])

		// Until confirmed, the old address signs in; afterwards only the new.
		a.call(t, http.StatusOK, http.MethodPost, "/v1/auth/login", "", "",
			map[string]any{"login": ada.Email, "password": testfactory.StrongPassword})
		a.call(t, http.StatusOK, http.MethodPost, "/v1/auth/confirm-email", "", "", map[string]any{"token": confirm})
		a.call(t, http.StatusBadRequest, http.MethodPost, "/v1/auth/set-password", "", "",
			map[string]any{"token": laterReset, "password": testfactory.StrongPassword})
		a.call(t, http.StatusUnauthorized, http.MethodPost, "/v1/auth/login", "", "",
			map[string]any{"login": ada.Email, "password": testfactory.StrongPassword})
		a.call(t, http.StatusOK, http.MethodPost, "/v1/auth/login", "", "",
			map[string]any{"login": "ada.new@example.com", "password": testfactory.StrongPassword})
		var u struct{ Email string }
		a.call(t, http.StatusOK, http.MethodGet, "/v1/accounts/"+acc.ID+"/users/"+ada.ID, a.RootKey, acc.ID, nil).Decode(t, &u)
		require.Equal(t, "ada.new@example.com", u.Email)
	})
}

func mustToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	require.NoError(t, err)
	tok := u.Query().Get("token")
	require.NotEmpty(t, tok, "link %q carries no token", link)
	return tok
}

// TestIdempotentReplayGoesOnlyToItsCredential: a member reusing the
// Idempotency-Key of an admin's request gets 422, never the admin's answer
// (here an API key's secret, which is shown once).
func TestIdempotentReplayGoesOnlyToItsCredential(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		acc := a.Child(t, a.Root.ID)
		admin := a.SignIn(t, a.Master(t, acc.ID).Email)
		member := a.SignIn(t, a.User(t, acc.ID, canopy.UserMember).Email)
		otherKey := a.Key(t, acc.ID)
		keys := "/v1/accounts/" + acc.ID + "/api-keys"
		body := map[string]any{"name": "backend"}
		post := func(secret string, want int) *response {
			t.Helper()
			res := a.do(t, req{Method: http.MethodPost, Path: keys, Key: secret, Body: body, Headers: map[string]string{"Idempotency-Key": "k-1"}})
			require.Equal(t, want, res.Status, "%s", res.Body)
			return res
		}
		first := post(admin, http.StatusCreated)
		require.Contains(t, string(first.Body), "secret")
		replay := post(admin, http.StatusCreated)
		require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"), "the same credential gets its answer back")
		for _, other := range []string{member, otherKey} {
			res := post(other, http.StatusUnprocessableEntity)
			require.Contains(t, string(res.Body), canopy.CodeIdempotencyMismatch)
			require.NotContains(t, string(res.Body), "cnp_", "no secret leaks")
		}
	})
}

// TestCursorsCannotBeForgedOrCarried: a cursor works only for the listing
// and the caller it was given to; anything else is a bad cursor.
func TestCursorsCannotBeForgedOrCarried(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		acc := a.Child(t, a.Root.ID)
		other := a.Child(t, a.Root.ID)
		for range 3 {
			a.User(t, acc.ID, canopy.UserMember)
			a.User(t, other.ID, canopy.UserMember)
		}
		users := func(id string) string { return "/v1/accounts/" + id + "/users?limit=1&cursor=" }
		var page struct{ NextCursor string }
		a.call(t, http.StatusOK, http.MethodGet, users(acc.ID), a.RootKey, "", nil).Decode(t, &page)
		good := page.NextCursor
		require.NotEmpty(t, good)
		a.call(t, http.StatusOK, http.MethodGet, users(acc.ID)+url.QueryEscape(good), a.RootKey, "", nil)

		lastUser := regexp.MustCompile(`usr_[0-9A-Z]{26}`).FindString(string(a.call(t, http.StatusOK, http.MethodGet,
			"/v1/accounts/"+other.ID+"/users?limit=200", a.RootKey, "", nil).Body))
		forged := []struct{ name, path, secret, as string }{
			{"another listing", users(other.ID) + url.QueryEscape(good), a.RootKey, ""},
			{"another caller", users(acc.ID) + url.QueryEscape(good), a.Key(t, acc.ID), ""},
			{"another acting account", users(acc.ID) + url.QueryEscape(good), a.RootKey, acc.ID},
			{"the old unsigned form", users(acc.ID) + base64.RawURLEncoding.EncodeToString([]byte("users:"+lastUser)), a.RootKey, ""},
			{"a made-up signature", users(acc.ID) + strings.SplitN(good, ".", 2)[0] + ".AAAAAAAAAAAAAAAAAAAAAA", a.RootKey, ""},
			{"a forged position", users(acc.ID) + base64.RawURLEncoding.EncodeToString([]byte(lastUser)) + "." +
				strings.SplitN(good, ".", 2)[1], a.RootKey, ""},
		}
		var want *response
		for _, f := range forged {
			res := a.call(t, http.StatusBadRequest, http.MethodGet, f.path, f.secret, f.as, nil)
			res.Body = regexp.MustCompile(`"requestId":"[0-9A-Z]{26}"|"instance":"[^"]*"`).ReplaceAll(res.Body, nil)
			if want == nil {
				want = res
			}
			require.Equal(t, string(want.Body), string(res.Body), "%s answers like any bad cursor", f.name)
		}
	})
}

// TestExplainingAHiddenFormIsNotFound: an account a form is hidden from —
// an ancestor whose link or share gives it none — learns nothing of it.
func TestExplainingAHiddenFormIsNotFound(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		umbrella := a.Child(t, a.Root.ID)
		sub := a.Child(t, umbrella.ID)
		form := idOf(t, a.call(t, http.StatusCreated, http.MethodPost, "/v1/forms", a.RootKey, sub.ID, map[string]any{"name": "Private"}))
		access := "/v1/forms/" + form + "/access"
		a.call(t, http.StatusOK, http.MethodGet, access, a.RootKey, umbrella.ID, nil)
		a.call(t, http.StatusOK, http.MethodPut, "/v1/forms/"+form+"/shares/"+umbrella.ID, a.RootKey, sub.ID, map[string]any{"role": "none"})
		hidden := a.call(t, http.StatusNotFound, http.MethodGet, access, a.RootKey, umbrella.ID, nil)
		missing := a.call(t, http.StatusNotFound, http.MethodGet, "/v1/forms/"+canopy.NewIDs(nil, nil).New(canopy.PrefixForm)+"/access",
			a.RootKey, umbrella.ID, nil)
		strip := regexp.MustCompile(`"requestId":"[0-9A-Z]{26}"|"instance":"[^"]*"`)
		require.Equal(t, string(strip.ReplaceAll(missing.Body, nil)), string(strip.ReplaceAll(hidden.Body, nil)))
		a.call(t, http.StatusNotFound, http.MethodGet, access+"?accountId="+sub.ID, a.RootKey, umbrella.ID, nil)
		a.call(t, http.StatusNotFound, http.MethodGet, access, a.RootKey, a.Root.ID, nil)
	})
}

// TestEmailQuotaQueuesNothing: past its plan's emails for the day, a write
// that would send one is refused whole — no user, no email.
func TestEmailQuotaQueuesNothing(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		limits := map[canopy.Plan]canopy.PlanLimits{}
		for p, l := range canopy.DefaultPlanLimits {
			limits[p] = l
		}
		a := newTestAPI(t, db, testfactory.Options{PlanLimits: limits})
		acc := a.Child(t, a.Root.ID) // basic: 50 a day
		a.Emails(t)                  // its welcome, sent by the root, which has no quota
		users := "/v1/accounts/" + acc.ID + "/users"
		for i := range 50 {
			a.call(t, http.StatusCreated, http.MethodPost, users, a.RootKey, acc.ID,
				map[string]any{"email": "u" + itoa(i) + "@example.com"})
		}
		require.Len(t, a.Emails(t), 50, "50 emails went out")
		res := a.call(t, http.StatusTooManyRequests, http.MethodPost, users, a.RootKey, acc.ID, map[string]any{"email": "one-too-many@example.com"})
		require.Contains(t, string(res.Body), `"limit":50`)
		require.Empty(t, a.Emails(t), "nothing was queued")
		var page struct{ Data []struct{ Email string } }
		a.call(t, http.StatusOK, http.MethodGet, users+"?limit=200", a.RootKey, acc.ID, nil).Decode(t, &page)
		require.Len(t, page.Data, 51, "no user was added")
		a.Clock.Advance(24 * time.Hour)
		a.call(t, http.StatusCreated, http.MethodPost, users, a.RootKey, acc.ID, map[string]any{"email": "next-day@example.com"})
	})
}

// TestNoAnswerTellsWhoExists is the enumeration table of rule 11
// (docs/rules.md): every endpoint that takes an email address or a username
// answers a value that belongs to someone exactly as one that belongs to
// nobody — byte for byte, apart from ids, request ids and the value itself.
func TestNoAnswerTellsWhoExists(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		// Someone who exists, with a verified address and a username.
		known := a.Child(t, a.Root.ID)
		knownUser := a.Master(t, known.ID)
		knownSession := a.SignIn(t, knownUser.Email)
		a.call(t, http.StatusOK, http.MethodPatch, "/v1/accounts/"+known.ID+"/users/"+knownUser.ID, knownSession, "",
			map[string]any{"username": "known-person"})
		const knownName = "known-person"
		knownEmail := knownUser.Email

		umbrella, umbrellaKey := a.enterprise(t)
		acc := a.Child(t, umbrella)
		// Two people of acc who each change their own address, and two
		// invited users whose invitations an admin re-addresses.
		var selves, invited [2]*canopy.User
		var sessions [2]string
		for i := range 2 {
			selves[i] = a.User(t, acc.ID, canopy.UserMember)
			sessions[i] = a.SignIn(t, selves[i].Email)
			invited[i] = a.User(t, acc.ID, canopy.UserMember)
		}
		users := "/v1/accounts/" + acc.ID + "/users"
		type probe struct {
			method, path, secret, as string
			body                     func(v string) any
			// own are strings that differ between the two subjects a
			// stateful probe needs (a person's own address and name).
			own []string
		}
		cases := []struct {
			name        string
			known, free string
			probe       func(i int) probe
		}{
			{"add a user by email", knownEmail, "nobody@nowhere.example", func(int) probe {
				return probe{http.MethodPost, users, a.RootKey, acc.ID, func(v string) any { return map[string]any{"email": v, "name": "N"} }, nil}
			}},
			{"add a user by username", knownName, "nobody-at-all", func(i int) probe {
				return probe{http.MethodPost, users, a.RootKey, acc.ID, func(v string) any {
					return map[string]any{"email": "new" + itoa(i) + "@fresh.example", "username": v}
				}, []string{"new" + itoa(i) + "@fresh.example"}}
			}},
			{"create a child whose master user has the address", knownEmail, "nobody@nowhere.example", func(int) probe {
				return probe{http.MethodPost, "/v1/accounts", a.RootKey, acc.ID, func(v string) any {
					return map[string]any{"account": map[string]any{"name": "Child"}, "masterUser": map[string]any{"email": v}}
				}, nil}
			}},
			{"change one's own address", knownEmail, "nobody@nowhere.example", func(i int) probe {
				return probe{http.MethodPatch, users + "/" + selves[i].ID, sessions[i], "", func(v string) any { return map[string]any{"email": v} },
					[]string{selves[i].Email, selves[i].Name}}
			}},
			{"re-address an invitation", knownEmail, "nobody@nowhere.example", func(i int) probe {
				return probe{http.MethodPatch, users + "/" + invited[i].ID, a.RootKey, acc.ID, func(v string) any { return map[string]any{"email": v} },
					[]string{invited[i].Name}}
			}},
			{"sign up", knownEmail, "nobody@nowhere.example", func(int) probe {
				return probe{http.MethodPost, "/v1/signup", "", "", func(v string) any { return map[string]any{"accountName": "Mine", "email": v} }, nil}
			}},
			{"ask for a password reset", knownEmail, "nobody@nowhere.example", func(int) probe {
				return probe{http.MethodPost, "/v1/auth/password-reset", "", "", func(v string) any { return map[string]any{"email": v} }, nil}
			}},
			{"sign in with a wrong password, by email", knownEmail, "nobody@nowhere.example", func(int) probe {
				return probe{http.MethodPost, "/v1/auth/login", "", "", func(v string) any { return map[string]any{"login": v, "password": "wrong wrong"} }, nil}
			}},
			{"sign in with a wrong password, by username", knownName, "nobody-at-all", func(int) probe {
				return probe{http.MethodPost, "/v1/auth/login", "", "", func(v string) any { return map[string]any{"login": v, "password": "wrong wrong"} }, nil}
			}},
			{"invite a sub-account by email", knownEmail, "nobody@nowhere.example", func(int) probe {
				return probe{http.MethodPost, "/v1/invitations", umbrellaKey, "", func(v string) any { return map[string]any{"email": v} }, nil}
			}},
			{"save a contact as a sub-account", knownEmail, "nobody@nowhere.example", func(int) probe {
				return probe{http.MethodPost, "/v1/contacts", umbrellaKey, "", func(v string) any {
					return map[string]any{"email": v, "firstName": "F", "subAccount": true}
				}, nil}
			}},
		}
		ids := regexp.MustCompile(`\b[a-z]{3}_[0-9A-Z]{26}\b|"requestId":"[0-9A-Z]{26}"`)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				answer := func(i int, v string) (int, string, string) {
					p := tc.probe(i)
					res := a.do(t, req{Method: p.method, Path: p.path, Key: p.secret, As: p.as, Body: p.body(v)})
					body := strings.ReplaceAll(string(ids.ReplaceAll(res.Body, []byte("ID"))), v, "VALUE")
					for _, own := range p.own {
						body = strings.ReplaceAll(body, own, "OWN")
					}
					return res.Status, res.Header.Get("Content-Type"), body
				}
				ks, kt, kb := answer(0, tc.known)
				fs, ft, fb := answer(1, tc.free)
				require.Less(t, ks, 500, kb)
				require.Equal(t, fs, ks, "status")
				require.Equal(t, ft, kt, "content type")
				require.Equal(t, fb, kb, "body")
			})
		}
	})
}

// TestAPersonActsOnlyWhereTheyBelong: one person, an admin of A — whose
// subtree mixes created, invited and delegated links — and a member of B1 in
// another customer's tree. Their session acts, account by account of the
// whole installation, exactly where the plain model says: where A acts
// (rule 2, docs/rules.md: not through an invited link without delegated
// admin), in B1 alone, and nowhere else.
func TestAPersonActsOnlyWhereTheyBelong(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		a := newTestAPI(t, db)
		all, model := buildMatrixTree(t, a)
		byName := map[string]*matrixAccount{}
		for _, m := range all {
			byName[m.name] = m
		}
		adminOf, memberOf := byName["A"], byName["B1"]
		const email = "both@example.com"
		a.call(t, http.StatusCreated, http.MethodPost, "/v1/accounts/"+adminOf.ID+"/users", a.RootKey, adminOf.ID,
			map[string]any{"email": email, "role": "admin"})
		session := a.SignIn(t, email)
		invite := idOf(t, a.call(t, http.StatusCreated, http.MethodPost, "/v1/accounts/"+memberOf.ID+"/users", a.RootKey, memberOf.ID,
			map[string]any{"email": email, "role": "member"}))
		a.call(t, http.StatusNotFound, http.MethodGet, "/v1/accounts/"+memberOf.ID, session, memberOf.ID, nil)
		a.call(t, http.StatusOK, http.MethodPost, "/v1/me/memberships/"+invite+"/accept", session, "", nil)

		for _, m := range all {
			act, mayWrite := model.Reach(adminOf.ID, m.ID) == canopy.ReachAct, true
			if m.ID == memberOf.ID {
				act, mayWrite = true, false // a member reads
			}
			want, wantWrite := http.StatusNotFound, http.StatusNotFound
			if act {
				want, wantWrite = http.StatusOK, http.StatusOK
				if !mayWrite {
					wantWrite = http.StatusForbidden
				}
			}
			a.call(t, want, http.MethodGet, "/v1/accounts/"+m.ID+"/users", session, m.ID, nil)
			a.call(t, wantWrite, http.MethodPut, "/v1/accounts/"+m.ID+"/configurations/probe", session, m.ID, map[string]any{"v": 2})
		}
	})
}
