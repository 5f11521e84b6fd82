package canopy_test

import (
	"encoding/json"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
)

// TestSubtreeIsAPathRange is the property the whole store relies on: for
// random trees, the accounts whose path lies in [p, p.SubtreeEnd()) are
// exactly p's subtree, and Contains agrees.
func TestSubtreeIsAPathRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := canopy.NewIDs(time.Now, nil)
	for round := range 20 {
		root := ids.New(canopy.PrefixAccount)
		paths := []canopy.Path{canopy.RootPath(root)}
		parent := map[canopy.Path]canopy.Path{}
		for range 200 {
			p := paths[rng.IntN(len(paths))]
			if p.Depth() >= 8 {
				continue
			}
			c := p.Child(ids.New(canopy.PrefixAccount))
			parent[c] = p
			paths = append(paths, c)
		}
		sorted := append([]canopy.Path(nil), paths...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		for _, p := range paths {
			ids := p.IDs()
			self := ids[len(ids)-1]
			for _, q := range paths {
				inRange := q >= p && q < p.SubtreeEnd()
				// Reference: walk q's parents up to the root.
				below := false
				for x, ok := q, true; ok; x, ok = parent[x] {
					if x == p {
						below = true
						break
					}
				}
				require.Equal(t, below, inRange, "round %d: %s in range of %s", round, q, p)
				require.Equal(t, below, q.Contains(self))
			}
		}
	}
}

func TestPath(t *testing.T) {
	p := canopy.RootPath("acc_R").Child("acc_A").Child("acc_B")
	require.Equal(t, canopy.Path("/acc_R/acc_A/acc_B/"), p)
	require.Equal(t, []string{"acc_R", "acc_A", "acc_B"}, p.IDs())
	require.Equal(t, 2, p.Depth())
	require.Equal(t, 0, canopy.RootPath("acc_R").Depth())
	require.True(t, p.Contains("acc_A"))
	require.False(t, p.Contains("acc_"), "only whole ids match")
	require.False(t, p.Contains(""))
	require.Equal(t, "/acc_B/", p.Below("acc_A"))
	require.Equal(t, "/", p.Below("acc_B"))
	require.Equal(t, "", p.Below("acc_X"))
}

func TestIDs(t *testing.T) {
	g := canopy.NewIDs(func() time.Time { return time.Unix(1700000000, 0) }, nil)
	a, b := g.New(canopy.PrefixAccount), g.New(canopy.PrefixAccount)
	require.Less(t, a, b, "ids made in the same millisecond still increase")
	require.True(t, canopy.ValidID(canopy.PrefixAccount, a))
	for _, bad := range []string{"", "acc_", "acc_x", "usr" + a[3:], strings.ToLower(a), a + "0", "acc-" + a[4:]} {
		require.False(t, canopy.ValidID(canopy.PrefixAccount, bad), bad)
	}
	require.Len(t, g.ULID(), 26)
}

func TestTruncateChannel(t *testing.T) {
	require.Equal(t, "api", canopy.TruncateChannel("api"))
	require.Equal(t, strings.Repeat("a", 64), canopy.TruncateChannel(strings.Repeat("a", 100)))
	long := strings.Repeat("é", 70)
	require.Equal(t, strings.Repeat("é", 64), canopy.TruncateChannel(long), "cut by characters, not bytes")
}

func TestConfigurationsKeepOrderAndBytes(t *testing.T) {
	var c canopy.Configurations
	in := `{"z": {"b":1.50, "a":2}, "a" : [ 1 ,2 ], "m":"\u00e9"}`
	require.NoError(t, json.Unmarshal([]byte(in), &c))
	require.Equal(t, []string{"z", "a", "m"}, []string{c[0].Namespace, c[1].Namespace, c[2].Namespace})
	require.Equal(t, `{"b":1.50, "a":2}`, string(c[0].Value))
	require.Equal(t, `[ 1 ,2 ]`, string(c[1].Value))
	require.Equal(t, `"\u00e9"`, string(c[2].Value))
	out, err := json.Marshal(c)
	require.NoError(t, err)
	require.JSONEq(t, in, string(out))

	var dup *canopy.DuplicateKeyError
	require.ErrorAs(t, json.Unmarshal([]byte(`{"a":1,"a":2}`), &c), &dup)
	require.Equal(t, "a", dup.Key)
	require.Error(t, json.Unmarshal([]byte(`[1]`), &c))
	require.NoError(t, json.Unmarshal([]byte(`null`), &c))
	require.Nil(t, c)
}

func TestValidators(t *testing.T) {
	cases := []struct {
		name string
		run  func(v *canopy.Validator)
		bad  bool
	}{
		{"plain email", func(v *canopy.Validator) { canopy.ValidateEmail(v, "e", "ops@example.com", true) }, false},
		{"email with a display name", func(v *canopy.Validator) { canopy.ValidateEmail(v, "e", "Ops <ops@example.com>", true) }, true},
		{"missing required email", func(v *canopy.Validator) { canopy.ValidateEmail(v, "e", "", true) }, true},
		{"optional email", func(v *canopy.Validator) { canopy.ValidateEmail(v, "e", "", false) }, false},
		{"name with a newline", func(v *canopy.Validator) { canopy.ValidateName(v, "n", "a\nb") }, true},
		{"unicode name", func(v *canopy.Validator) { canopy.ValidateName(v, "n", "Zoë & Co") }, false},
		{"username", func(v *canopy.Validator) { canopy.ValidateUsername(v, "u", "ada.lovelace+1") }, false},
		{"username too short", func(v *canopy.Validator) { canopy.ValidateUsername(v, "u", "ab") }, true},
		{"namespace", func(v *canopy.Validator) { canopy.ValidateNamespace(v, "n", "white_label_portal") }, false},
		{"namespace with capitals", func(v *canopy.Validator) { canopy.ValidateNamespace(v, "n", "White") }, true},
		{"config value not JSON", func(v *canopy.Validator) { canopy.ValidateConfigValue(v, "c", []byte("{")) }, true},
		{"metadata key too long", func(v *canopy.Validator) {
			canopy.ValidateMetadata(v, "m", map[string]string{strings.Repeat("k", 41): "v"})
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v canopy.Validator
			tc.run(&v)
			require.Equal(t, tc.bad, v.Err() != nil, "%v", v.Err())
		})
	}
}
