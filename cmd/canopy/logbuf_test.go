package main

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

func TestLogBufferHoldsInfoLinesAndWritesWarningsAtOnce(t *testing.T) {
	var out syncBuffer
	lb := newLogBuffer(&out, time.Hour)
	log, err := newLogger(lb, "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("request", "path", "/v1/forms/1")
	if out.String() != "" {
		t.Fatalf("an info line was written before the interval: %q", out.String())
	}
	log.Warn("slow", "path", "/v1/forms/2")
	got := out.String()
	if !bytes.Contains([]byte(got), []byte("/v1/forms/1")) || !bytes.Contains([]byte(got), []byte("/v1/forms/2")) {
		t.Fatalf("a warning must write itself and what came before it: %q", got)
	}
	log.Log(t.Context(), slog.LevelInfo, "request", "path", "/v1/forms/3")
	if err := lb.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains([]byte(out.String()), []byte("/v1/forms/3")) {
		t.Fatalf("Close must write the rest: %q", out.String())
	}
}

func TestLogBufferWritesOnItsInterval(t *testing.T) {
	var out syncBuffer
	lb := newLogBuffer(&out, 10*time.Millisecond)
	defer lb.Close()
	if _, err := lb.Write([]byte(`{"level":"INFO","msg":"request"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for out.String() == "" {
		if time.Now().After(deadline) {
			t.Fatal("the buffered line was never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
