package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The raw getter must read each kind of answer net/http's server gives —
// with a length, chunked, and to the connection's end — and keep its
// connection for the next request whenever the server does.
func TestRawGetterReadsEveryKindOfAnswer(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/length":
			fmt.Fprint(w, `{"id":"f"}`)
		case "/chunked":
			for i := range 3 {
				fmt.Fprintf(w, "line %d %s\n", i, strings.Repeat("x", 5000))
				w.(http.Flusher).Flush()
			}
		case "/close":
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, "bye")
		case "/as":
			if r.Header.Get("X-Customer-Id") != "acc_1" {
				w.WriteHeader(http.StatusBadRequest)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	g, ok := newRawGetter(srv.URL, "k")
	if !ok {
		t.Fatal("plain http must be spoken")
	}
	defer g.close()
	for _, tc := range []struct {
		path, as string
		want     int
	}{
		{"/length", "", 200}, {"/chunked", "", 200}, {"/missing", "", 404}, {"/as", "acc_1", 200},
		{"/length", "", 200}, {"/close", "", 200}, {"/length", "", 200},
	} {
		got, err := g.get(tc.path, tc.as)
		if err != nil || got != tc.want {
			t.Fatalf("GET %s: %d %v, want %d", tc.path, got, err, tc.want)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections: one until the server closed it, then one more", n)
	}
	if _, ok := newRawGetter("https://example.com", "k"); ok {
		t.Fatal("https is left to net/http")
	}
}
