package main

import (
	"bufio"
	"bytes"
	"io"
	"sync"
	"time"
)

// logBuffer gathers log lines and writes them out together at most every
// interval, as nginx's buffered access log and zap's BufferedWriteSyncer
// do: one write a request is a system call that costs a form read several
// per cent of its CPU. A warning or an error is written at once, with
// everything before it, and so is a full buffer; Close writes the rest.
// A process killed outright loses at most interval of info lines.
type logBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	err  error
	stop chan struct{}
	done chan struct{}
}

func newLogBuffer(w io.Writer, interval time.Duration) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				b.flush()
			}
		}
	}()
	return b
}

// urgent are the JSON handler's level fields that are written at once.
var urgent = [][]byte{[]byte(`"level":"WARN`), []byte(`"level":"ERROR`)}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.w.Write(p)
	if err == nil && (bytes.Contains(p, urgent[0]) || bytes.Contains(p, urgent[1])) {
		err = b.w.Flush()
	}
	if err != nil && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w.Buffered() > 0 {
		if err := b.w.Flush(); err != nil && b.err == nil {
			b.err = err
		}
	}
}

// Close stops the timer and writes what is buffered.
func (b *logBuffer) Close() error {
	close(b.stop)
	<-b.done
	b.flush()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
