package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRecorderWritesEachOnceBeforeItReturns: every Record returns only
// after a write that included its id, each id is written once, and
// records that arrive while a write is under way share the next one.
func TestRecorderWritesEachOnceBeforeItReturns(t *testing.T) {
	const n = 21
	var (
		mu         sync.Mutex
		written    = map[string]int{}
		writes     int
		firstBatch = make(chan int, 1)
		gate       = make(chan struct{})
	)
	r := NewRecorder(context.Background(), func(_ context.Context, ids []string) error {
		mu.Lock()
		writes++
		first := writes == 1
		mu.Unlock()
		if first { // hold the first write so that the others queue behind it
			firstBatch <- len(ids)
			<-gate
		}
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			written[id]++
		}
		return nil
	})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("m", i)
			require.NoError(t, r.Record(id))
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, 1, written[id], "written before Record returned")
		}()
	}
	inFirst := <-firstBatch
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.pending) == n-inFirst
	}, 10*time.Second, time.Millisecond)
	close(gate)
	wg.Wait()
	require.Len(t, written, n)
	if inFirst < n {
		require.Equal(t, 2, writes, "those that waited shared one write")
	}

	boom := errors.New("boom")
	failing := NewRecorder(context.Background(), func(context.Context, []string) error { return boom })
	require.ErrorIs(t, failing.Record("x"), boom, "the write's error reaches the caller")
}

func TestHoldingListsWhatIsHeld(t *testing.T) {
	var h Holding
	require.Empty(t, h.IDs())
	h.Add("b", "a", "c")
	h.Done("c")
	require.Equal(t, []string{"a", "b"}, h.IDs())
}
