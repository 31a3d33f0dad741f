package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// h1Client is the gateway's own HTTP/1.1 client for plain http://
// upstreams. net/http's Transport runs a reader and a writer goroutine per
// connection and hands every request and response between them and the
// caller; here the calling goroutine writes the request and reads the
// whole response itself over a pooled keep-alive connection, which saves
// those hand-offs (and their scheduler wake-ups) on every call.
type h1Client struct {
	dialer  net.Dialer
	hosts   sync.Map // host (url.URL.Host) → *h1Host
	maxIdle int
	idleFor time.Duration
}

type h1Host struct {
	addr string       // host:port to dial
	idle chan *h1Conn // idle keep-alive connections, capped by its capacity
}

type h1Conn struct {
	conn     net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
}

func newH1Client() *h1Client {
	return &h1Client{
		dialer:  net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle: 1024,
		idleFor: 90 * time.Second,
	}
}

func (c *h1Client) host(u *url.URL) *h1Host {
	if h, ok := c.hosts.Load(u.Host); ok {
		return h.(*h1Host)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	h, _ := c.hosts.LoadOrStore(u.Host, &h1Host{addr: addr, idle: make(chan *h1Conn, c.maxIdle)})
	return h.(*h1Host)
}

// getIdle returns a pooled connection, or nil when none is fresh enough.
func (c *h1Client) getIdle(h *h1Host) *h1Conn {
	for {
		select {
		case pc := <-h.idle:
			if time.Since(pc.lastUsed) > c.idleFor {
				pc.conn.Close()
				continue
			}
			return pc
		default:
			return nil
		}
	}
}

func (c *h1Client) putIdle(h *h1Host, pc *h1Conn) {
	pc.lastUsed = time.Now()
	select {
	case h.idle <- pc:
	default:
		pc.conn.Close() // pool full
	}
}

func (c *h1Client) dial(ctx context.Context, h *h1Host) (*h1Conn, error) {
	conn, err := c.dialer.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, err
	}
	return &h1Conn{conn: conn, br: bufio.NewReaderSize(conn, 4096), bw: bufio.NewWriterSize(conn, 4096)}, nil
}

// canDirect reports whether the direct client can send this request with
// the same bytes net/http would; anything unusual takes the Transport,
// which then answers (or fails) exactly as before.
func canDirect(u *url.URL, hdr http.Header) bool {
	if u.Scheme != "http" || u.Host == "" || u.User != nil {
		return false
	}
	for k, vs := range hdr {
		if !validHeaderName(k) {
			return false
		}
		for _, v := range vs {
			if !validHeaderValue(v) {
				return false
			}
		}
	}
	return true
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		b := k[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, b) >= 0 {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		b := v[i]
		if (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// headers net/http's request writer never copies from Request.Header.
var h1Excluded = map[string]bool{"Host": true, "User-Agent": true, "Content-Type": true}

func writeRequest(bw *bufio.Writer, target, host string, body []byte, hdr http.Header) error {
	bw.WriteString("POST ")
	bw.WriteString(target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	ua := "Go-http-client/1.1"
	if _, ok := hdr["User-Agent"]; ok {
		ua = hdr.Get("User-Agent")
	}
	if ua != "" {
		bw.WriteString("User-Agent: ")
		bw.WriteString(ua)
		bw.WriteString("\r\n")
	}
	bw.WriteString("Content-Length: ")
	var nb [20]byte
	bw.Write(strconv.AppendInt(nb[:0], int64(len(body)), 10))
	bw.WriteString("\r\n")
	if hdr.Get("Content-Type") == "" {
		bw.WriteString("Content-Type: application/json\r\n")
	} else {
		for _, v := range hdr["Content-Type"] {
			bw.WriteString("Content-Type: ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	for k, vs := range hdr {
		if hopHeaders[k] || h1Excluded[k] {
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	bw.Write(body)
	return bw.Flush()
}

var errStale = errors.New("stale pooled connection")

// do sends one POST and reads the whole response into res.buf. Errors
// read as net/http's would: transport-level ones wrapped in a *url.Error.
func (c *h1Client) do(ctx context.Context, timeout time.Duration, u *url.URL, target string, body []byte, hdr http.Header, res *result) error {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	h := c.host(u)
	for attempt := 0; ; attempt++ {
		pc := c.getIdle(h)
		reused := pc != nil
		if pc == nil {
			dctx, cancel := context.WithDeadline(ctx, deadline)
			var err error
			pc, err = c.dial(dctx, h)
			cancel()
			if err != nil {
				if cerr := ctxErr(ctx, deadline); cerr != nil {
					err = cerr
				}
				return &url.Error{Op: "Post", URL: u.Redacted(), Err: err}
			}
		}
		err := c.exchange(ctx, h, pc, deadline, u, target, body, hdr, res)
		if err == nil {
			return nil
		}
		if errors.Is(err, errStale) {
			if reused && attempt == 0 {
				continue // the server closed the idle connection: once more on a fresh one
			}
			err = errors.Unwrap(err)
		}
		var readErr *bodyReadError
		if errors.As(err, &readErr) {
			return err
		}
		if cerr := ctxErr(ctx, deadline); cerr != nil {
			err = cerr
		}
		return &url.Error{Op: "Post", URL: u.Redacted(), Err: err}
	}
}

// ctxErr is the context's error, or DeadlineExceeded once the deadline
// has passed (what net/http reports for a call that timed out).
func ctxErr(ctx context.Context, deadline time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "read response: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

type staleError struct{ err error }

func (e *staleError) Error() string   { return e.err.Error() }
func (e *staleError) Unwrap() error   { return e.err }
func (e *staleError) Is(t error) bool { return t == errStale }

var aLongTimeAgo = time.Unix(1, 0)

// exchange runs one request on pc. It returns pc to the pool when the
// response was read whole and the connection may be kept, and closes it
// otherwise. An error wrapping errStale means nothing of a response
// arrived before the connection failed.
func (c *h1Client) exchange(ctx context.Context, h *h1Host, pc *h1Conn, deadline time.Time, u *url.URL, target string, body []byte, hdr http.Header, res *result) (err error) {
	keep := false
	if ctx.Done() != nil {
		conn := pc.conn
		stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
		defer func() {
			if !stop() {
				keep = false // its deadline was moved: never reuse it
			}
			if keep {
				c.putIdle(h, pc)
			} else {
				pc.conn.Close()
			}
		}()
	} else {
		defer func() {
			if keep {
				c.putIdle(h, pc)
			} else {
				pc.conn.Close()
			}
		}()
	}
	if err := pc.conn.SetDeadline(deadline); err != nil {
		return &staleError{err}
	}
	if err := writeRequest(pc.bw, target, u.Host, body, hdr); err != nil {
		return &staleError{err}
	}
	if _, err := pc.br.Peek(1); err != nil {
		return &staleError{err}
	}
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(pc.br, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// 1xx informational: the final answer follows.
	}
	res.status = resp.StatusCode
	res.contentType = resp.Header.Get("Content-Type")
	const limit = 64 << 20
	n, err := res.buf.ReadFrom(io.LimitReader(resp.Body, limit))
	if err != nil {
		if cerr := ctxErr(ctx, deadline); cerr != nil {
			err = cerr
		}
		return &bodyReadError{err}
	}
	keep = n < limit && !resp.Close && (resp.ContentLength >= 0 || len(resp.TransferEncoding) > 0)
	return nil
}
