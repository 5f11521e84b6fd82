package mail

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTextOnPicksTheMoreReadableColor(t *testing.T) {
	t.Parallel()
	for bg, want := range map[string]string{
		"#000":              lightText,
		"#ffffff":           darkText,
		"#FFFF00":           darkText, // yellow: white text would be unreadable
		"#FF6600":           darkText,
		"#0057b8":           lightText,
		DefaultPrimaryColor: lightText,
		"not a color":       lightText,
	} {
		require.Equal(t, want, textOn(bg), bg)
	}
}

func TestSingleLine(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a b c", singleLine("  a\r\n\tb \u2028 c\x00 "))
	require.Equal(t, "", singleLine("\n\n"))
}
