package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/canopyhq/canopy"
)

type entry[T any] struct {
	v       T
	epoch   uint64
	expires time.Time
}

type shareKey struct{ form, viewer string }

type shareEntry struct {
	entry[canopy.Role]
	gen uint64 // the form's generation when it was filled
}

// cacheKind names what a cache map holds, for its metrics.
type cacheKind int

const (
	kindKey cacheKind = iota
	kindAccount
	kindShare
	kindForm
	cacheKinds
)

// CacheKinds names the caches CacheStats reports on, in its order.
var CacheKinds = [cacheKinds]string{"key", "account", "share", "form"}

// CacheStats counts one cache's lookups and evictions since start.
type CacheStats struct {
	Hits, Misses, Evictions uint64
	// Entries is how many entries it holds now; Bytes, for the form
	// cache, their estimated size.
	Entries, Bytes int64
}

// authCache keeps what authorising a request and reading a form need —
// keys, accounts, each viewer's explicit share on a form, and forms with
// their encoded JSON — so that a warm GET /v1/forms/{id} costs a hash and
// a few map reads.
//
// Changes made by this process are exact (read-your-writes): a write that
// changes any of it calls begin before its transaction commits and end
// after, whatever the outcome. begin forgets what the write changes
// (everything, or the forms it names); while any write is between begin
// and end nothing is filled in, so an entry read before the commit can
// never be added after it; and both ends advance seq, so a fill whose
// read began before either end is refused. Lookups never wait on a
// write: what a pending write changes is no longer cached, and what it
// does not change is still current. Changes made by other processes on
// the same database arrive as announcements (AuthChanged) or, when one is
// missed, expire with the TTL.
type authCache struct {
	mu sync.RWMutex
	// epoch is bumped when everything is forgotten; entries of an older
	// epoch are never used.
	epoch uint64
	// seq is bumped at both ends of every change; a fill that read it
	// before is refused (see put).
	seq uint64
	// pending counts changes between begin and end.
	pending  int
	ttl      time.Duration
	size     int
	clock    func() time.Time
	keys     map[string]entry[cachedKey]
	accounts map[string]entry[cachedAccount]
	// shares holds each viewer's explicit share ("" for none) on a form, in
	// one map bounded by size: a map a form cost 570 bytes for its first
	// entry, more than the form. A change to one form's shares forgets that
	// form's alone by moving its generation on (formGen): entries filled
	// under an older one are no longer used, and age out with the rest.
	shares  map[shareKey]shareEntry
	formGen map[string]uint64
	lastGen uint64
	// forms holds whole forms by id, bounded by formBytes (estimated).
	forms               map[string]entry[*cachedForm]
	formBytes, maxBytes int64
	stats               [cacheKinds]struct{ hits, misses, evictions atomic.Uint64 }
}

// cachedForm is a form as stored: its JSON encoding, which answers
// GET /v1/forms/{id} without encoding it again, and the rest of it without
// its questions (what access decisions read). The questions are kept only
// as JSON, which takes half the memory of the decoded ones. Shared by
// every reader: never to be changed.
type cachedForm struct {
	head *canopy.Form // Questions nil
	json []byte       // without the encoder's trailing newline
}

// size estimates what f holds in memory: its JSON, the head's strings,
// and the structs and map entry around them.
func (f *cachedForm) size() int64 {
	h := f.head
	return int64(len(f.json) + len(h.ID) + len(h.OwnerID) + len(h.OwnerPath) + len(h.Name) + len(h.Description) + len(h.CopiedFrom) + 384)
}

func newCachedForm(f *canopy.Form) (*cachedForm, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as the API encodes its answers
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode form %s: %w", f.ID, err)
	}
	head := *f
	head.Questions = nil
	// One copy of an owner's path for all its forms, not one a form: a path
	// nine levels deep is 280 bytes.
	head.OwnerPath = canopy.Path(unique.Make(string(f.OwnerPath)).Value())
	return &cachedForm{head: &head, json: bytes.TrimSuffix(b.Bytes(), []byte("\n"))}, nil
}

// decode returns the whole form, a copy of its own.
func (f *cachedForm) decode() (*canopy.Form, error) {
	var out canopy.Form
	if err := json.Unmarshal(f.json, &out); err != nil {
		return nil, fmt.Errorf("decode cached form %s: %w", f.head.ID, err)
	}
	out.OwnerPath = f.head.OwnerPath
	return &out, nil
}

func newAuthCache(ttl time.Duration, size int, maxBytes int64, clock func() time.Time) *authCache {
	return &authCache{ttl: ttl, size: size, maxBytes: maxBytes, clock: clock,
		keys: map[string]entry[cachedKey]{}, accounts: map[string]entry[cachedAccount]{},
		shares: map[shareKey]shareEntry{}, formGen: map[string]uint64{}, forms: map[string]entry[*cachedForm]{}}
}

func lookup[T any](c *authCache, kind cacheKind, m map[string]entry[T], k string) (T, bool) {
	var zero T
	if c.ttl < 0 {
		return zero, false
	}
	c.mu.RLock()
	e, ok := m[k]
	epoch := c.epoch
	c.mu.RUnlock()
	return counted(c, kind, e, ok && e.epoch == epoch)
}

// counted answers a lookup that found e (when ok) if it has not expired,
// and counts the hit or miss.
func counted[T any](c *authCache, kind cacheKind, e entry[T], ok bool) (T, bool) {
	if !ok || c.clock().After(e.expires) {
		c.stats[kind].misses.Add(1)
		var zero T
		return zero, false
	}
	c.stats[kind].hits.Add(1)
	return e.v, true
}

// put caches v unless something changed since seq was read, or a change
// is in progress: a value loaded before a concurrent change committed
// must not outlive it.
func put[T any](c *authCache, kind cacheKind, m map[string]entry[T], k string, v T, seq uint64) {
	c.fill(seq, func() {
		putLocked(c, kind, m, k, v)
	})
}

// fill runs add under the lock unless something changed since seq was
// read or a change is in progress (see put).
func (c *authCache) fill(seq uint64, add func()) {
	if c.ttl < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq == c.seq && c.pending == 0 {
		add()
	}
}

// putLocked is put's insertion, c.mu held.
func putLocked[T any](c *authCache, kind cacheKind, m map[string]entry[T], k string, v T) {
	if _, ok := m[k]; !ok && len(m) >= c.size {
		// Drop an arbitrary tenth; map iteration order is random enough
		// for a cache whose entries all expire within seconds.
		n := max(1, c.size/10)
		for key := range m {
			delete(m, key)
			c.stats[kind].evictions.Add(1)
			if n--; n <= 0 {
				break
			}
		}
	}
	m[k] = entry[T]{v: v, epoch: c.epoch, expires: c.clock().Add(c.ttl)}
}

// generation returns the sequence number a fill passes to put: read it
// before reading what is to be cached.
func (c *authCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.seq
}

func (c *authCache) key(hash string) (cachedKey, bool) { return lookup(c, kindKey, c.keys, hash) }
func (c *authCache) putKey(hash string, k cachedKey, seq uint64) {
	put(c, kindKey, c.keys, hash, k, seq)
}
func (c *authCache) account(id string) (cachedAccount, bool) {
	return lookup(c, kindAccount, c.accounts, id)
}

// accountsInto fills out[i] with the cached account ids[i], under one
// lock, and returns the ids it does not hold.
func (c *authCache) accountsInto(ids []string, out []cachedAccount) (missing []string) {
	if c.ttl < 0 {
		return ids
	}
	now := c.clock()
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i, id := range ids {
		e, ok := c.accounts[id]
		if !ok || e.epoch != c.epoch || now.After(e.expires) {
			missing = append(missing, id)
			continue
		}
		out[i] = e.v
	}
	c.stats[kindAccount].misses.Add(uint64(len(missing)))
	c.stats[kindAccount].hits.Add(uint64(len(ids) - len(missing)))
	return missing
}

func (c *authCache) putAccount(id string, a cachedAccount, seq uint64) {
	put(c, kindAccount, c.accounts, id, a, seq)
}

// share returns viewer's explicit role on a form ("" for none).
func (c *authCache) share(formID, viewerID string) (canopy.Role, bool) {
	if c.ttl < 0 {
		return "", false
	}
	c.mu.RLock()
	e, ok := c.shares[shareKey{formID, viewerID}]
	current := ok && e.epoch == c.epoch && e.gen == c.formGen[formID]
	c.mu.RUnlock()
	return counted(c, kindShare, e.entry, current)
}

// putShare caches viewer's explicit role on a form, as put does.
func (c *authCache) putShare(formID, viewerID string, r canopy.Role, seq uint64) {
	c.fill(seq, func() { c.putShareLocked(formID, viewerID, r) })
}

func (c *authCache) putShareLocked(formID, viewerID string, r canopy.Role) {
	k := shareKey{formID, viewerID}
	if _, ok := c.shares[k]; !ok && len(c.shares) >= c.size {
		// Drop an arbitrary tenth, as putLocked does.
		n := max(1, c.size/10)
		for key := range c.shares {
			delete(c.shares, key)
			c.stats[kindShare].evictions.Add(1)
			if n--; n <= 0 {
				break
			}
		}
	}
	c.shares[k] = shareEntry{entry: entry[canopy.Role]{v: r, epoch: c.epoch, expires: c.clock().Add(c.ttl)}, gen: c.formGen[formID]}
}

func (c *authCache) form(id string) (*cachedForm, bool) { return lookup(c, kindForm, c.forms, id) }

// putForm caches f within the byte bound, dropping arbitrary forms to
// make room.
func (c *authCache) putForm(f *cachedForm, seq uint64) {
	if size := f.size(); size <= c.maxBytes {
		c.fill(seq, func() { c.putFormLocked(f, size) })
	}
}

func (c *authCache) putFormLocked(f *cachedForm, size int64) {
	c.dropForm(f.head.ID)
	for key := range c.forms {
		if c.formBytes+size <= c.maxBytes {
			break
		}
		c.dropForm(key)
		c.stats[kindForm].evictions.Add(1)
	}
	c.forms[f.head.ID] = entry[*cachedForm]{v: f, epoch: c.epoch, expires: c.clock().Add(c.ttl)}
	c.formBytes += size
}

// dropForm forgets one form; c.mu is held.
func (c *authCache) dropForm(id string) {
	if e, ok := c.forms[id]; ok {
		c.formBytes -= e.v.size()
		delete(c.forms, id)
	}
}

// forgetForm forgets one form and every share on it; c.mu is held. The
// generation only grows and is never forgotten with the form (only with
// everything): a form whose generation fell back to zero would make its
// oldest entries current again.
func (c *authCache) forgetForm(id string) {
	c.dropForm(id)
	c.lastGen++
	c.formGen[id] = c.lastGen
}

// begin marks a change in progress, before its transaction commits: it
// forgets everything (all) or the forms named with their shares, and
// holds off fills until end. Every begin needs its end.
func (c *authCache) begin(all bool, forms []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.pending++
	if all {
		c.epoch++
		clear(c.keys)
		clear(c.accounts)
		clear(c.shares)
		clear(c.formGen)
		clear(c.forms)
		c.formBytes = 0
		return
	}
	for _, id := range forms {
		c.forgetForm(id)
	}
}

// end marks a change begun with begin as committed or abandoned.
func (c *authCache) end() {
	c.mu.Lock()
	c.seq++
	c.pending--
	c.mu.Unlock()
}

// invalidate forgets everything cached so far: another process changed
// something, or may have.
func (c *authCache) invalidate() {
	c.begin(true, nil)
	c.end()
}

// invalidateForms forgets the forms (and their shares) another process
// changed.
func (c *authCache) invalidateForms(ids []string) {
	c.begin(false, ids)
	c.end()
}

// statsOf reports the counts of one kind.
func (c *authCache) statsOf(kind cacheKind) CacheStats {
	st := &c.stats[kind]
	out := CacheStats{Hits: st.hits.Load(), Misses: st.misses.Load(), Evictions: st.evictions.Load()}
	c.mu.RLock()
	switch kind {
	case kindKey:
		out.Entries = int64(len(c.keys))
	case kindAccount:
		out.Entries = int64(len(c.accounts))
	case kindShare:
		out.Entries = int64(len(c.shares))
	case kindForm:
		out.Entries, out.Bytes = int64(len(c.forms)), c.formBytes
	}
	c.mu.RUnlock()
	return out
}
