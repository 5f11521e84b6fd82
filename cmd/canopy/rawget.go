package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawGetter sends GETs over one keep-alive HTTP/1.1 connection of its own
// and reads no more of each answer than its status and length, as wrk and
// other load generators do. The load runs on the same cores as the server:
// net/http's client spends about a third of the CPU a form read costs on
// building requests and parsing headers the load never looks at, and that
// CPU is taken from the server being measured. Only plain http is spoken;
// the caller falls back to net/http for anything else.
type rawGetter struct {
	addr, host string
	// head holds the headers every request carries (authorization).
	head []byte
	conn net.Conn
	r    *bufio.Reader
	req  []byte
}

// newRawGetter returns a getter for base, or false when base is not plain
// http.
func newRawGetter(base, key string) (*rawGetter, bool) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || (u.Path != "" && u.Path != "/") {
		return nil, false
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &rawGetter{addr: addr, host: u.Host, head: []byte("Authorization: Bearer " + key + "\r\n")}, true
}

// get sends GET path, with X-Customer-Id: as when as is not empty, and
// returns the answer's status once its body has been read and dropped.
func (g *rawGetter) get(path, as string) (int, error) {
	if g.conn == nil {
		c, err := net.DialTimeout("tcp", g.addr, 10*time.Second)
		if err != nil {
			return 0, err
		}
		g.conn, g.r = c, bufio.NewReaderSize(c, 16<<10)
	}
	g.req = append(g.req[:0], "GET "...)
	g.req = append(g.req, path...)
	g.req = append(g.req, " HTTP/1.1\r\nHost: "...)
	g.req = append(g.req, g.host...)
	g.req = append(g.req, "\r\n"...)
	g.req = append(g.req, g.head...)
	if as != "" {
		g.req = append(g.req, "X-Customer-Id: "...)
		g.req = append(g.req, as...)
		g.req = append(g.req, "\r\n"...)
	}
	g.req = append(g.req, "\r\n"...)
	if err := g.conn.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		return 0, g.fail(err)
	}
	if _, err := g.conn.Write(g.req); err != nil {
		return 0, g.fail(err)
	}
	status, err := g.readAnswer()
	if err != nil {
		return 0, g.fail(err)
	}
	return status, nil
}

// fail drops the connection after an error; the next get dials again.
func (g *rawGetter) fail(err error) error {
	if g.conn != nil {
		g.conn.Close()
		g.conn, g.r = nil, nil
	}
	return err
}

// close drops the connection.
func (g *rawGetter) close() { _ = g.fail(nil) }

var errBadAnswer = errors.New("malformed HTTP answer")

// readAnswer reads one answer: the status line, the headers (of which it
// keeps Content-Length, chunked Transfer-Encoding and Connection: close)
// and the body, which it discards.
func (g *rawGetter) readAnswer() (int, error) {
	line, err := g.line()
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, fmt.Errorf("%w: status line %q", errBadAnswer, line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("%w: status line %q", errBadAnswer, line)
	}
	length, chunked, closing := int64(-1), false, false
	for {
		h, err := g.line()
		if err != nil {
			return 0, err
		}
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, fmt.Errorf("%w: header %q", errBadAnswer, h)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, fmt.Errorf("%w: Content-Length %q", errBadAnswer, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = g.discardChunks()
	case length >= 0:
		_, err = g.r.Discard(int(length))
	default:
		// No length: the body runs to the end of the connection.
		_, err = io.Copy(io.Discard, g.r)
		closing = true
	}
	if err != nil {
		return 0, err
	}
	if closing {
		g.close()
	}
	return status, nil
}

// discardChunks reads a chunked body and its trailers.
func (g *rawGetter) discardChunks() error {
	for {
		line, err := g.line()
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: chunk size %q", errBadAnswer, line)
		}
		if n == 0 {
			for {
				t, err := g.line()
				if err != nil || len(t) == 0 {
					return err
				}
			}
		}
		if _, err := g.r.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

// line reads one CRLF-terminated line without its end; the slice is valid
// until the next read.
func (g *rawGetter) line() ([]byte, error) {
	l, err := g.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: a line longer than %d bytes", errBadAnswer, g.r.Size())
		}
		return nil, err
	}
	return bytes.TrimSuffix(bytes.TrimSuffix(l, []byte("\n")), []byte("\r")), nil
}
