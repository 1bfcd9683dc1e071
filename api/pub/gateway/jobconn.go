package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// jobPool keeps idle keep-alive connections to jobs, per address.
//
// Why not http.Transport: it runs two goroutines per connection and hands every exchange between
// them, and writes a request's head and body in separate syscalls. On the benchmark that cost more
// CPU than the job's own work (docs/pub.md, "Speed"). A call whose body is in memory goes out in one
// write on a connection owned by the handling goroutine; streamed bodies and websockets still take
// httputil.ReverseProxy with http.Transport.
type jobPool struct {
	dialer      *net.Dialer
	maxIdle     int
	idleTimeout time.Duration
	mu          sync.Mutex
	idle        map[string][]*jobConn
}

type jobConn struct {
	conn      net.Conn
	reader    *bufio.Reader
	writer    *bufio.Writer
	idleSince time.Time
}

func newJobPool(connectTimeout time.Duration, maxIdle int, idleTimeout time.Duration) *jobPool {
	return &jobPool{
		dialer:      &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second},
		maxIdle:     maxIdle,
		idleTimeout: idleTimeout,
		idle:        make(map[string][]*jobConn),
	}
}

// get returns an idle connection to address (reused = true) or a new one.
func (p *jobPool) get(ctx context.Context, address string) (*jobConn, bool, error) {
	now := time.Now()
	p.mu.Lock()
	for conns := p.idle[address]; len(conns) > 0; conns = p.idle[address] {
		c := conns[len(conns)-1]
		p.idle[address] = conns[:len(conns)-1]
		if now.Sub(c.idleSince) < p.idleTimeout {
			p.mu.Unlock()
			// A job that closed the connection while it sat idle (its keep-alive timeout) would fail a
			// call that cannot be sent again, such as a POST: look before reusing, as http.Transport's
			// background reader does.
			if !peerClosed(c.conn) {
				return c, true, nil
			}
			c.conn.Close()
			p.mu.Lock()
			continue
		}
		c.conn.Close()
	}
	p.mu.Unlock()
	conn, err := p.dialer.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, false, err
	}
	return &jobConn{conn: conn, reader: bufio.NewReaderSize(conn, 8192), writer: bufio.NewWriterSize(conn, 8192)}, false, nil
}

func (p *jobPool) put(address string, c *jobConn) {
	c.idleSince = time.Now() // the next exchange sets its own deadline before any read or write
	p.mu.Lock()
	if len(p.idle[address]) < p.maxIdle {
		p.idle[address] = append(p.idle[address], c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.conn.Close()
	}
}

// peerClosed reports whether an idle connection is no longer usable: the job closed it (a read would
// return end of file) or sent something unasked. One non-blocking peek, no waiting.
func peerClosed(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var buffer [1]byte
	_ = raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buffer[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n > 0 || (err == nil && n == 0) || (err != nil && err != syscall.EAGAIN && err != syscall.EINTR)
		return true // done: never wait for the socket to become readable
	})
	return closed
}

// errStaleConn: the request could not be written, so the job cannot have acted on it.
var errStaleConn = errors.New("the job closed a kept-alive connection")

// aLongTimeAgo, as a deadline, makes blocked reads and writes on a connection return at once.
var aLongTimeAgo = time.Unix(1, 0)

// exchange sends one request whose body is in memory and returns the job's response head; the
// caller reads the body from the response and then releases the connection.
// Until release is called, a caller who goes away interrupts the exchange.
func (f *forwarding) exchange(r *http.Request, out http.Header) (*http.Response, *jobConn, func() bool, error) {
	pool := f.gateway.jobs
	target := f.jobPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	for attempt := 0; ; attempt++ {
		c, reused, err := pool.get(r.Context(), f.address)
		if err != nil {
			return nil, nil, nil, err
		}
		_ = c.conn.SetDeadline(time.Now().Add(f.gateway.config.JobTimeout))
		release := context.AfterFunc(r.Context(), func() { _ = c.conn.SetDeadline(aLongTimeAgo) })
		response, err := writeAndRead(c, r, target, f.address, out, f.body)
		if err == nil {
			return response, c, release, nil
		}
		release()
		c.conn.Close()
		// A kept-alive connection the job closed as we reused it: send again on a new one when the job
		// cannot have acted on the call (nothing came back and the method is idempotent, or the write failed).
		if reused && attempt == 0 && (errors.Is(err, errStaleConn) || idempotent(r.Method)) {
			continue
		}
		return nil, nil, nil, err
	}
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

func writeAndRead(c *jobConn, r *http.Request, target, host string, header http.Header, body []byte) (*http.Response, error) {
	w := c.writer
	w.WriteString(r.Method)
	w.WriteByte(' ')
	w.WriteString(target)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	for name, values := range header {
		for _, value := range values {
			w.WriteString(name)
			w.WriteString(": ")
			w.WriteString(value)
			w.WriteString("\r\n")
		}
	}
	if len(body) > 0 || r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		w.WriteString("Content-Length: ")
		w.WriteString(strconv.Itoa(len(body)))
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
	w.Write(body)
	if err := w.Flush(); err != nil {
		return nil, errors.Join(errStaleConn, err)
	}
	for {
		response, err := http.ReadResponse(c.reader, r)
		if err != nil {
			return nil, err
		}
		// 1xx answers (e.g. 103 Early Hints) precede the real one; 101 never comes without Upgrade.
		if response.StatusCode >= 100 && response.StatusCode < 200 {
			continue
		}
		return response, nil
	}
}
