package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawUpstream answers each request on a connection and then closes that
// connection without saying so, which leaves a stale idle connection in
// the client's pool; it records the request headers it saw.
func rawUpstream(t *testing.T, closeAfter bool) (addr string, conns *atomic.Int64, seen chan http.Header) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int64)
	seen = make(chan http.Header, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					select {
					case seen <- req.Header:
					default:
					}
					body := `{"outputs":[{"name":"predict","shape":[1],"datatype":"FP64","data":[0.25]}]}`
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "+
						itoa(len(body))+"\r\n\r\n"+body)
					if closeAfter {
						time.Sleep(20 * time.Millisecond) // let the client pool it first
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), conns, seen
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestH1StaleConnectionRetried(t *testing.T) {
	addr, conns, seen := rawUpstream(t, true)
	c := newH1Client()
	u, _ := url.Parse("http://" + addr + "/v2/models/m/infer")
	hdr := http.Header{"X-Trace": {"abc"}, "Connection": {"keep-alive"}}
	for i := range 3 {
		res := result{buf: new(bytes.Buffer)}
		err := c.do(context.Background(), time.Second, u, u.RequestURI(), []byte(`{}`), hdr, &res)
		require.NoError(t, err, "call %d", i)
		require.Equal(t, 200, res.status)
		require.Contains(t, res.buf.String(), "outputs")
		time.Sleep(50 * time.Millisecond) // the server has closed it by now
	}
	require.Equal(t, int64(3), conns.Load())
	h := <-seen
	require.Equal(t, "abc", h.Get("X-Trace"))
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Empty(t, h.Get("Connection"))
}

func TestH1KeepAliveReuse(t *testing.T) {
	addr, conns, _ := rawUpstream(t, false)
	c := newH1Client()
	u, _ := url.Parse("http://" + addr + "/x")
	for range 5 {
		res := result{buf: new(bytes.Buffer)}
		require.NoError(t, c.do(context.Background(), time.Second, u, "/x", []byte(`{}`), nil, &res))
	}
	require.Equal(t, int64(1), conns.Load())
}

func TestH1TimeoutAndCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }() // never answers
		}
	}()
	c := newH1Client()
	u, _ := url.Parse("http://" + ln.Addr().String() + "/x")
	res := result{buf: new(bytes.Buffer)}
	err = c.do(context.Background(), 100*time.Millisecond, u, "/x", []byte(`{}`), nil, &res)
	require.ErrorContains(t, err, "context deadline exceeded")
	require.ErrorContains(t, err, `Post "http://`)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err = c.do(ctx, 5*time.Second, u, "/x", []byte(`{}`), nil, &res)
	require.ErrorContains(t, err, "context canceled")
	require.Less(t, time.Since(start), 2*time.Second)
}
