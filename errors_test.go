package canopy_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/canopyhq/canopy"
)

// TestCallerLeft: an error is the caller leaving only when it is the
// context's own end, however wrapped, and the context has ended; an
// application error never is.
func TestCallerLeft(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, stop := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer stop()
	live := context.Background()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"canceled, its error", canceled, context.Canceled, true},
		{"canceled, its error wrapped", canceled, fmt.Errorf("load: %w", context.Canceled), true},
		{"past its deadline, its error", expired, fmt.Errorf("load: %w", context.DeadlineExceeded), true},
		{"canceled, another context's deadline", canceled, context.DeadlineExceeded, false},
		{"canceled, another error", canceled, errors.New("connection refused"), false},
		{"canceled, no error", canceled, nil, false},
		{"canceled, an application error", canceled, canopy.Errorf(canopy.KindUnavailable, canopy.CodeInternal, "try again"), false},
		{"live, a canceled error from elsewhere", live, context.Canceled, false},
	} {
		if got := canopy.CallerLeft(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: CallerLeft = %v, want %v", tc.name, got, tc.want)
		}
	}
}
