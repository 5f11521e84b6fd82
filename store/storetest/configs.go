package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/canopyhq/canopy"
	"github.com/canopyhq/canopy/store"
)

// bigPayload returns a valid JSON object of about n bytes.
func bigPayload(n int) string {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"k":"wert-ä-`)
		b.WriteString(strings.Repeat("x", i%17))
		b.WriteString(`","n":1e3}`)
	}
	b.WriteString(`]}`)
	return b.String()
}

func testConfigurations(t *testing.T, open Opener) {
	t.Run("PayloadsKeepTheirBytesExactly", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		tests := []struct {
			name  string
			value string
		}{
			{"Object", `{"brandName":"Acme","primaryColor":"#FF6600"}`},
			{"KeyOrderAndDuplicateKeys", `{"z":1,"a":2,"z":3}`},
			{"NonASCII", `{"name":"Zürich — 東京 🌲","rtl":"مرحبا"}`},
			{"EscapesStayEscaped", `{"nul":"a\u0000b","quote":"\"","e":"\u00e9","slash":"\/","surrogate":"\ud83c\udf32"}`},
			{"HugeAndOddNumbers", `{"big":123456789012345678901234567890,"exp":1.0e+400,"negzero":-0.0,"frac":0.1000000000000000055511151231257827}`},
			{"Whitespace", " \t{\n  \"a\" : [ 1 ,2 ]\r\n}\n  "},
			{"Scalar", `"just a string"`},
			{"Null", `null`},
			{"TwoHundredKB", bigPayload(200 << 10)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ns := strings.ToLower(tt.name)
				c := &canopy.Configuration{AccountID: root.ID, Namespace: ns, Value: json.RawMessage(tt.value), UpdatedAt: at(7)}
				b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.PutConfigurations(ctx, c)) })
				b.read(t, func(ctx context.Context, tx store.Tx) {
					got, err := tx.GetConfiguration(ctx, root.ID, ns)
					require.NoError(t, err)
					require.Equal(t, tt.value, string(got.Value), "byte for byte")
					require.Equal(t, c, got)

					list, err := tx.ListConfigurations(ctx, []string{root.ID})
					require.NoError(t, err)
					i := slices.IndexFunc(list, func(x *canopy.Configuration) bool { return x.Namespace == ns })
					require.GreaterOrEqual(t, i, 0)
					require.Equal(t, tt.value, string(list[i].Value), "byte for byte in a listing too")
				})
			})
		}
		b.read(t, func(ctx context.Context, tx store.Tx) {
			n, err := tx.CountConfigurations(ctx, root.ID)
			require.NoError(t, err)
			require.Equal(t, len(tests), n)
		})
	})

	t.Run("PutUpsertsByNamespace", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.account(root)
		put := func(accountID, value string, when int) {
			b.write(t, func(ctx context.Context, tx store.Tx) {
				require.NoError(t, tx.PutConfigurations(ctx, &canopy.Configuration{
					AccountID: accountID, Namespace: "portal", Value: json.RawMessage(value), UpdatedAt: at(when)}))
			})
		}
		put(root.ID, `{"v":1}`, 1)
		put(kid.ID, `{"kid":true}`, 2)
		put(root.ID, `{"v":2,"longer":"than before"}`, 3)
		put(root.ID, `[]`, 4)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.GetConfiguration(ctx, root.ID, "portal")
			require.NoError(t, err)
			require.Equal(t, &canopy.Configuration{AccountID: root.ID, Namespace: "portal",
				Value: json.RawMessage(`[]`), UpdatedAt: at(4)}, got)
			n, err := tx.CountConfigurations(ctx, root.ID)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			got, err = tx.GetConfiguration(ctx, kid.ID, "portal")
			require.NoError(t, err)
			require.Equal(t, `{"kid":true}`, string(got.Value), "another account's namespace is its own")
		})
	})

	t.Run("MissingAndDeleted", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.PutConfigurations(ctx, &canopy.Configuration{
				AccountID: root.ID, Namespace: "keep", Value: json.RawMessage(`1`), UpdatedAt: at(1)}))
			require.NoError(t, tx.PutConfigurations(ctx, &canopy.Configuration{
				AccountID: root.ID, Namespace: "drop", Value: json.RawMessage(`2`), UpdatedAt: at(1)}))
		})
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.DeleteConfiguration(ctx, root.ID, "drop"))
		})
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteConfiguration(ctx, root.ID, "drop")
		})
		require.ErrorIs(t, err, store.ErrNotFound, "deleting twice")
		err = b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
			return tx.DeleteConfiguration(ctx, root.ID, "never")
		})
		require.ErrorIs(t, err, store.ErrNotFound, "deleting a namespace that never was")
		b.read(t, func(ctx context.Context, tx store.Tx) {
			_, err := tx.GetConfiguration(ctx, root.ID, "drop")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = tx.GetConfiguration(ctx, "acc_missing", "keep")
			require.ErrorIs(t, err, store.ErrNotFound)
			got, err := tx.ListConfigurations(ctx, []string{root.ID})
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, "keep", got[0].Namespace)
			got, err = tx.ListConfigurations(ctx, nil)
			require.NoError(t, err)
			require.Empty(t, got)
		})
	})

	t.Run("ListConfigurationsOrdersByAccountThenNamespaceBytewise", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.account(root)
		other := b.f.account(root)
		// Namespaces whose order differs between byte order and natural
		// language collations ('-' < '.' < digits < '_' < letters in bytes).
		namespaces := []string{"b", "a_b", "ab", "a0", "a.b", "a-b", "a", "z9", "9z"}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			for i, ns := range namespaces {
				for _, acc := range []*canopy.Account{kid, root, other} {
					require.NoError(t, tx.PutConfigurations(ctx, &canopy.Configuration{
						AccountID: acc.ID, Namespace: ns, Value: json.RawMessage(`{}`), UpdatedAt: at(i)}))
				}
			}
		})
		sorted := slices.Clone(namespaces)
		slices.Sort(sorted)
		var want []string
		for _, acc := range []*canopy.Account{root, kid} { // ids increase in creation order
			for _, ns := range sorted {
				want = append(want, acc.ID+" "+ns)
			}
		}
		b.read(t, func(ctx context.Context, tx store.Tx) {
			list, err := tx.ListConfigurations(ctx, []string{kid.ID, root.ID})
			require.NoError(t, err)
			var got []string
			for _, c := range list {
				got = append(got, c.AccountID+" "+c.Namespace)
			}
			require.Equal(t, want, got)
		})
	})
}

func testWorkflows(t *testing.T, open Opener) {
	t.Run("ReplaceKeepsOrderAndReplacesAll", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		kid := b.f.account(root)
		steps := []struct {
			name  string
			names []string
		}{
			{"Set", []string{"kyc-standard", "aml", "billing-basic"}},
			{"ReorderAndShrink", []string{"billing-basic", "kyc-standard"}},
			{"Grow", []string{"z", "a", "m", "kyc-standard", "b"}},
			{"Empty", []string{}},
			{"Again", []string{"only"}},
		}
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.ReplaceWorkflows(ctx, kid.ID, []string{"kid-flow"}))
		})
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				b.write(t, func(ctx context.Context, tx store.Tx) { require.NoError(t, tx.ReplaceWorkflows(ctx, root.ID, s.names)) })
				b.read(t, func(ctx context.Context, tx store.Tx) {
					got, err := tx.ListWorkflows(ctx, root.ID)
					require.NoError(t, err)
					require.Equal(t, s.names, got)
					got, err = tx.ListWorkflows(ctx, kid.ID)
					require.NoError(t, err)
					require.Equal(t, []string{"kid-flow"}, got, "another account's workflows stay")
				})
			})
		}
	})

	t.Run("NoneIsAnEmptyListNotNil", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.ListWorkflows(ctx, root.ID)
			require.NoError(t, err)
			require.NotNil(t, got)
			require.Empty(t, got)
		})
	})

	t.Run("DuplicateNameIsWorkflowConflictAndRollsBack", func(t *testing.T) {
		t.Parallel()
		_, b := setup(t, open)
		root := b.f.account(nil)
		b.write(t, func(ctx context.Context, tx store.Tx) {
			require.NoError(t, tx.ReplaceWorkflows(ctx, root.ID, []string{"a", "b"}))
		})
		err := b.writeErr(t, func(ctx context.Context, tx store.Tx) error {
			return tx.ReplaceWorkflows(ctx, root.ID, []string{"x", "y", "x"})
		})
		requireConflict(t, err, store.UniqueWorkflowName)
		b.read(t, func(ctx context.Context, tx store.Tx) {
			got, err := tx.ListWorkflows(ctx, root.ID)
			require.NoError(t, err)
			require.Equal(t, []string{"a", "b"}, got, "the delete before the failed insert rolled back")
		})
	})
}
