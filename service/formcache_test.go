package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/internal/testdb"
	"github.com/canopyhq/canopy/internal/testfactory"
	"github.com/canopyhq/canopy/service"
	"github.com/canopyhq/canopy/store/sqlstore"
)

// cacheWorld is a form owned two levels below a top-level customer, with
// a sibling of its owner, an explicit share with the owner's parent, and
// a key in each account: every case of the warm read.
type cacheWorld struct {
	b                        *testfactory.Bundle
	top, mid, owner, sibling *canopy.Account
	elsewhere                *canopy.Account
	form                     *service.FormView
	keys                     map[string]string // by account
	readers                  []reader
}

// reader is a credential reading as an account (acting "" for its own).
type reader struct{ key, acting string }

func newCacheWorld(t *testing.T, db *sqlstore.DB) *cacheWorld {
	ctx := context.Background()
	b := testfactory.New(t, db, testfactory.Options{AuthCacheTTL: time.Hour})
	w := &cacheWorld{b: b, keys: map[string]string{}}
	w.top = b.Child(t, b.Root.ID)
	w.mid = b.Child(t, w.top.ID)
	w.owner = b.Child(t, w.mid.ID)
	w.sibling = b.Child(t, w.mid.ID)
	w.elsewhere = b.Child(t, b.Root.ID)
	f, err := b.Svc.CreateForm(ctx, b.As(t, w.owner.ID), service.FormInput{Name: "Intake", Questions: []canopy.Question{
		{ID: "q1", Label: "Name <&> \u2028 é", Type: canopy.QuestionText, Required: true},
		{ID: "q2", Label: "Sex", Type: canopy.QuestionChoice, Options: []string{"Female", "Male"}},
	}, Description: "Who comes in"})
	require.NoError(t, err)
	w.form = f
	_, err = b.Svc.PutShare(ctx, b.As(t, w.owner.ID), f.ID, w.mid.ID, canopy.RoleEditor)
	require.NoError(t, err)
	for _, a := range []*canopy.Account{w.top, w.mid, w.owner, w.sibling} {
		w.keys[a.ID] = b.Key(t, a.ID)
		w.readers = append(w.readers, reader{key: w.keys[a.ID]})
	}
	// The root and the top-level customer read as accounts below them.
	for _, a := range []*canopy.Account{w.mid, w.owner, w.sibling} {
		w.readers = append(w.readers, reader{key: b.RootKey, acting: a.ID}, reader{key: w.keys[w.top.ID], acting: a.ID})
	}
	return w
}

// outcome is what a GET /v1/forms/{id} with r's credential answers on
// svc: the form as read, or the error's code.
func outcome(svc *service.Service, r reader, formID string) string {
	ctx := context.Background()
	p, err := svc.Authenticate(ctx, r.key)
	if err != nil {
		return "authenticate: " + canopy.ErrorCode(err)
	}
	c, err := svc.NewCaller(ctx, p, r.acting, service.RequestInfo{})
	if err != nil {
		return "act: " + canopy.ErrorCode(err)
	}
	v, err := svc.GetFormJSON(ctx, c, formID)
	if err != nil {
		return "get: " + canopy.ErrorCode(err)
	}
	return string(v.AppendJSON(nil))
}

// TestWarmFormReadsSeeEveryWriteAtOnce: once a write returns, a GET of the
// form on the replica that wrote answers exactly what a cold read of the
// database answers, for every credential and acting account — whatever the
// write changed (rules 2, 5-7 and 9, docs/rules.md).
func TestWarmFormReadsSeeEveryWriteAtOnce(t *testing.T) {
	none, viewer := canopy.RoleNone, canopy.RoleViewer
	name := "Intake, second edition"
	changes := []struct {
		name   string
		change func(t *testing.T, w *cacheWorld) error
	}{
		{"definition changed", func(t *testing.T, w *cacheWorld) error {
			_, err := w.b.Svc.UpdateForm(context.Background(), w.b.As(t, w.owner.ID), w.form.ID, service.FormPatch{Name: &name}, nil)
			return err
		}},
		{"share revoked", func(t *testing.T, w *cacheWorld) error {
			return w.b.Svc.DeleteShare(context.Background(), w.b.As(t, w.owner.ID), w.form.ID, w.mid.ID)
		}},
		{"share lowered to none", func(t *testing.T, w *cacheWorld) error {
			_, err := w.b.Svc.PutShare(context.Background(), w.b.As(t, w.owner.ID), w.form.ID, w.mid.ID, canopy.RoleNone)
			return err
		}},
		{"share given to the top", func(t *testing.T, w *cacheWorld) error {
			_, err := w.b.Svc.PutShare(context.Background(), w.b.As(t, w.owner.ID), w.form.ID, w.top.ID, canopy.RoleViewer)
			return err
		}},
		{"owner's link lowered to none", func(t *testing.T, w *cacheWorld) error {
			_, err := w.b.Svc.UpdateLink(context.Background(), w.b.As(t, w.mid.ID), w.owner.ID, service.LinkPatch{AutoShareRole: &none})
			return err
		}},
		{"mid's link lowered to viewer", func(t *testing.T, w *cacheWorld) error {
			_, err := w.b.Svc.UpdateLink(context.Background(), w.b.As(t, w.top.ID), w.mid.ID, service.LinkPatch{AutoShareRole: &viewer})
			return err
		}},
		{"example tagged", func(t *testing.T, w *cacheWorld) error {
			_, err := w.b.Svc.SetExample(context.Background(), w.b.As(t, w.owner.ID), w.form.ID, true)
			return err
		}},
		{"owner moved away", func(t *testing.T, w *cacheWorld) error {
			_, err := w.b.Svc.MoveAccount(context.Background(), w.b.As(t, w.b.Root.ID), w.owner.ID, w.elsewhere.ID)
			return err
		}},
		{"form deleted", func(t *testing.T, w *cacheWorld) error {
			return w.b.Svc.DeleteForm(context.Background(), w.b.As(t, w.owner.ID), w.form.ID)
		}},
		{"owner suspended", func(t *testing.T, w *cacheWorld) error {
			_, err := w.b.Svc.SetStatus(context.Background(), w.b.As(t, w.mid.ID), w.owner.ID, canopy.StatusSuspended)
			return err
		}},
		{"owner closed", func(t *testing.T, w *cacheWorld) error {
			_, err := w.b.Svc.CloseAccount(context.Background(), w.b.As(t, w.mid.ID), w.owner.ID, service.ChildrenRefuse)
			return err
		}},
		{"top's key revoked", func(t *testing.T, w *cacheWorld) error {
			keys, err := w.b.Svc.ListAPIKeys(context.Background(), w.b.As(t, w.top.ID), w.top.ID, service.PageRequest{})
			require.NoError(t, err)
			for _, k := range keys.Data {
				if k.Prefix == canopy.DisplayPrefix(w.keys[w.top.ID]) {
					return w.b.Svc.RevokeAPIKey(context.Background(), w.b.As(t, w.b.Root.ID), w.top.ID, k.ID)
				}
			}
			return fmt.Errorf("no key of the top account to revoke")
		}},
	}
	for _, engine := range testdb.Engines {
		for _, tc := range changes {
			t.Run(engine+"/"+tc.name, func(t *testing.T) {
				db := testdb.Open(t, engine)
				w := newCacheWorld(t, db)
				cold := service.New(db, service.Config{AuthCacheTTL: -1}) // no cache: the database as it is
				for _, r := range w.readers {
					outcome(w.b.Svc, r, w.form.ID) // warm
					require.Equal(t, outcome(cold, r, w.form.ID), outcome(w.b.Svc, r, w.form.ID), "warm read before the change, %+v", r)
				}
				require.NoError(t, tc.change(t, w))
				for _, r := range w.readers {
					require.Equal(t, outcome(cold, r, w.form.ID), outcome(w.b.Svc, r, w.form.ID), "warm read after %s, %+v", tc.name, r)
				}
			})
		}
	}
}

// TestFormJSONIsSplicedAsEncoded: the cached encoding, spliced with the
// role, is byte for byte what encoding the view GetForm answers gives
// (GetForm decodes the cached form: the round trip loses nothing).
func TestFormJSONIsSplicedAsEncoded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newCacheWorld(t, db)
		_, err := w.b.Svc.SetExample(ctx, w.b.As(t, w.owner.ID), w.form.ID, true)
		require.NoError(t, err)
		for _, as := range []*canopy.Account{w.owner, w.mid, w.top} {
			for range 2 { // cold, then warm
				v, err := w.b.Svc.GetForm(ctx, w.b.As(t, as.ID), w.form.ID)
				require.NoError(t, err)
				var want bytes.Buffer
				enc := json.NewEncoder(&want)
				enc.SetEscapeHTML(false)
				require.NoError(t, enc.Encode(v))
				got, err := w.b.Svc.GetFormJSON(ctx, w.b.As(t, as.ID), w.form.ID)
				require.NoError(t, err)
				require.Equal(t, want.String(), string(got.AppendJSON(nil)), "as %s", as.ID)
				require.Equal(t, v.Version, got.Version)
			}
		}
	})
}

// TestFormReadsRacingWritesNeverOutliveThem: readers hammer the warm path
// while the owner's parent lowers and raises the owner's link and the
// owner edits the form; after every write returns, a read on this replica
// sees it (run with -race).
func TestFormReadsRacingWritesNeverOutliveThem(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		w := newCacheWorld(t, db)
		require.NoError(t, w.b.Svc.DeleteShare(ctx, w.b.As(t, w.owner.ID), w.form.ID, w.mid.ID))
		asTop, asOwner, asMid := w.b.As(t, w.top.ID), w.b.As(t, w.owner.ID), w.b.As(t, w.mid.ID)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, _ = w.b.Svc.GetForm(ctx, asTop, w.form.ID)
					_, _ = w.b.Svc.GetForm(ctx, asOwner, w.form.ID)
				}
			}()
		}
		roles := []canopy.Role{canopy.RoleNone, canopy.RoleDataManager}
		for i := range 40 {
			role := roles[i%2]
			_, err := w.b.Svc.UpdateLink(ctx, asMid, w.owner.ID, service.LinkPatch{AutoShareRole: &role})
			require.NoError(t, err)
			_, err = w.b.Svc.GetForm(ctx, asTop, w.form.ID)
			if role == canopy.RoleNone {
				require.Equal(t, canopy.CodeNotFound, canopy.ErrorCode(err), "round %d: the top still reads through a link that shares nothing", i)
			} else {
				require.NoError(t, err, "round %d", i)
			}
			name := fmt.Sprintf("Intake %d", i)
			_, err = w.b.Svc.UpdateForm(ctx, asOwner, w.form.ID, service.FormPatch{Name: &name}, nil)
			require.NoError(t, err)
			v, err := w.b.Svc.GetForm(ctx, asOwner, w.form.ID)
			require.NoError(t, err)
			require.Equal(t, name, v.Name, "round %d: the owner reads the definition it replaced", i)
		}
		close(stop)
		wg.Wait()
		st := w.b.Svc.CacheStats()
		require.NotZero(t, st[3].Hits, "the form cache was used")
	})
}

// TestFormCacheStaysWithinItsBound: forms beyond the byte bound evict
// others (counted), the estimate never passes the bound, and every read
// still answers the form.
func TestFormCacheStaysWithinItsBound(t *testing.T) {
	ctx := context.Background()
	const bound = 8 << 10
	b := testfactory.New(t, testdb.SQLite(t), testfactory.Options{AuthCacheTTL: time.Hour,
		Configure: func(c *service.Config) { c.FormCacheBytes = bound }})
	a := b.Child(t, b.Root.ID)
	as := b.As(t, a.ID)
	var ids []string
	for i := range 40 {
		f, err := b.Svc.CreateForm(ctx, as, service.FormInput{Name: fmt.Sprintf("Form %d", i)})
		require.NoError(t, err)
		ids = append(ids, f.ID)
	}
	for range 3 {
		for i, id := range ids {
			v, err := b.Svc.GetForm(ctx, as, id)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("Form %d", i), v.Name)
			st := b.Svc.CacheStats()[3]
			require.LessOrEqual(t, st.Bytes, int64(bound))
		}
	}
	st := b.Svc.CacheStats()[3]
	require.NotZero(t, st.Evictions)
	require.Less(t, st.Entries, int64(len(ids)))
}

// TestAShareChangeForgetsItsFormAlone: sharing one form, or tagging it,
// leaves every other form and the keys and accounts cached.
func TestAShareChangeForgetsItsFormAlone(t *testing.T) {
	ctx := context.Background()
	w := newCacheWorld(t, testdb.SQLite(t))
	other, err := w.b.Svc.CreateForm(ctx, w.b.As(t, w.owner.ID), service.FormInput{Name: "Other"})
	require.NoError(t, err)
	asMid, asOwner := w.b.As(t, w.mid.ID), w.b.As(t, w.owner.ID)
	for _, change := range []func() error{
		func() error { return w.b.Svc.DeleteShare(ctx, asOwner, w.form.ID, w.mid.ID) },
		func() error {
			_, err := w.b.Svc.PutShare(ctx, asOwner, w.form.ID, w.top.ID, canopy.RoleViewer)
			return err
		},
		func() error {
			_, err := w.b.Svc.SetExample(ctx, asOwner, w.form.ID, true)
			return err
		},
	} {
		_, err := w.b.Svc.GetForm(ctx, asMid, other.ID) // warm
		require.NoError(t, err)
		require.NoError(t, change())
		before := w.b.Svc.CacheStats()
		_, err = w.b.Svc.GetForm(ctx, asMid, other.ID)
		require.NoError(t, err)
		after := w.b.Svc.CacheStats()
		for kind, name := range service.CacheKinds {
			require.Equal(t, before[kind].Misses, after[kind].Misses, "the %s cache still holds what the other form's read needs", name)
		}
	}
}
