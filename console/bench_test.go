package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
)

// BenchmarkPages renders each console page for the admin of a busy
// umbrella, server-side, and reports the 50th and 99th percentile (target:
// p99 < 20 ms). The data set: the umbrella under a parent with 5 example
// forms; 300 children with 2 children each (900 accounts to switch
// between), 20 forms per child (5% of them examples) and 20 of its own;
// 500 contacts, 100 invitations sent and 10 received, 30 users, 20 keys,
// 3 configurations.
//
//	go test -run '^$' -bench Pages ./console/
func BenchmarkPages(b *testing.B) {
	for _, engine := range testdb.Engines {
		b.Run(engine, func(b *testing.B) {
			s, pages := benchSite(b, engine)
			renderPages(b, s, pages)
		})
	}
}

// renderPages renders each page as the site's admin (public pages without
// a session) and reports the 50th and 99th percentile of the time taken.
func renderPages(b *testing.B, s *site, pages []benchPage) {
	token := s.SignIn(b, s.admin)
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var samples []time.Duration
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				if !p.public {
					req.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
				}
				rec := httptest.NewRecorder()
				start := time.Now()
				s.h.ServeHTTP(rec, req)
				samples = append(samples, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d\n%s", p.path, rec.Code, rec.Body)
				}
			}
			slices.Sort(samples)
			at := func(q float64) float64 {
				return float64(samples[int(q*float64(len(samples)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(at(0.50), "p50-ms")
			b.ReportMetric(at(0.99), "p99-ms")
		})
	}
}

type benchPage struct {
	name, path string
	public     bool
}

func benchSite(b *testing.B, engine string) (*site, []benchPage) {
	b.Helper()
	ctx := context.Background()
	s := newSite(b, siteOptions{engine: engine})
	// The umbrella's parent, with examples: move the umbrella under a
	// reseller so that the dashboard has examples to show.
	reseller := s.Child(b, s.Root.ID)
	if _, err := s.Svc.MoveAccount(ctx, s.As(b, s.Root.ID), s.umbrella.ID, reseller.ID); err != nil {
		b.Fatal(err)
	}
	u := s.umbrella.ID
	var children []*canopy.Account
	for range 300 {
		c := s.Child(b, u)
		children = append(children, c)
		s.Child(b, c.ID)
		s.Child(b, c.ID)
	}
	s.BulkForms(b, children, testfactory.BulkFormSpec{PerAccount: 20, ExampleFraction: 0.05})
	umb, err := s.Svc.GetAccount(ctx, s.As(b, u), u)
	if err != nil {
		b.Fatal(err)
	}
	s.BulkForms(b, []*canopy.Account{umb}, testfactory.BulkFormSpec{PerAccount: 20})
	s.BulkForms(b, []*canopy.Account{reseller}, testfactory.BulkFormSpec{PerAccount: 5, ExampleFraction: 1})
	as := s.As(b, u)
	for i := range 500 {
		if _, err := s.Svc.CreateContact(ctx, as, service.ContactInput{
			Email: fmt.Sprintf("contact%d@clinic.example", i), FirstName: "Contact", LastName: fmt.Sprint(i), Mobile: "+15551234567",
		}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 100 {
		if _, err := s.Svc.CreateInvitation(ctx, as, service.InvitationInput{Email: fmt.Sprintf("invitee%d@clinic.example", i)}); err != nil {
			b.Fatal(err)
		}
	}
	for range 10 {
		other := s.Child(b, s.Root.ID)
		if _, err := s.Svc.UpdateAccount(ctx, s.As(b, s.Root.ID), other.ID, enterprise); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Svc.CreateInvitation(ctx, s.As(b, other.ID), service.InvitationInput{AccountID: u}); err != nil {
			b.Fatal(err)
		}
	}
	for range 29 {
		s.User(b, u, canopy.UserMember)
	}
	for range 20 {
		s.Key(b, u)
	}
	for _, ns := range []string{"white_label_portal", "billing", "features"} {
		if _, err := s.Svc.PutConfiguration(ctx, as, u, ns, []byte(`{"brandName": "Umbrella", "primaryColor": "#0B5394", "plan": "gold"}`)); err != nil {
			b.Fatal(err)
		}
	}
	analyze(b, s)
	contacts, err := s.Svc.ListContacts(ctx, as, service.PageRequest{})
	if err != nil {
		b.Fatal(err)
	}
	return s, []benchPage{
		{"dashboard", app(u), false},
		{"switch", app(u, "switch"), false},
		{"switch-search", app(u, "switch") + "?q=zzz", false},
		{"contacts", app(u, "contacts"), false},
		{"contact", app(u, "contacts", contacts.Data[0].ID), false},
		{"contact-new", app(u, "contacts", "new"), false},
		{"invitations", app(u, "invitations"), false},
		{"sub-accounts", app(u, "accounts"), false},
		{"sub-account", app(u, "accounts", children[0].ID), false},
		{"create-child", app(u, "accounts", "new"), false},
		{"users", app(u, "users"), false},
		{"keys", app(u, "keys"), false},
		{"settings", app(u, "settings"), false},
		{"signin", canopy.PageSignIn, true},
	}
}
