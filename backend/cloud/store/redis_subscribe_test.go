package store_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/store/storetest"
	"github.com/ferrysync/ferry/backend/internal/redistest"
)

// subscribeDelay holds SUBSCRIBE on its way to the server in TestRedisSubscribeReady.
const subscribeDelay = 300 * time.Millisecond

// Subscribe returns only once the server has the subscription, even when SUBSCRIBE is slow to
// get there: a Publish right after, through another connection, reaches the subscriber.
func TestRedisSubscribeReady(t *testing.T) {
	target, prefix := redistest.URL(t), redistest.Prefix(t)
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := slowSubscribeProxy(t, u.Host)
	u.Host = proxy
	slow := newRedis(t, u.String(), prefix)
	direct := newRedis(t, target, prefix)

	sub, err := slow.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := direct.Publish(context.Background(), message("right-after")); err != nil {
		t.Fatal(err)
	}
	if got := storetest.Receive(t, sub); got.Event.Member != "right-after" {
		t.Fatalf("got a message from %s", got.Event.Member)
	}
}

// slowSubscribeProxy forwards connections to addr, holding back for subscribeDelay every write
// from a client that carries a SUBSCRIBE command. It returns its own address.
func slowSubscribeProxy(t *testing.T, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				t.Errorf("proxy: %v", err)
				continue
			}
			done := make(chan struct{})
			wg.Go(func() {
				defer close(done)
				forward(s, c, true)
			})
			wg.Go(func() { forward(c, s, false) })
			wg.Go(func() {
				select {
				case <-done:
				case <-t.Context().Done():
				}
				c.Close()
				s.Close()
			})
		}
	})
	return l.Addr().String()
}

// forward copies from src to dst, delaying chunks with a SUBSCRIBE when slow is set.
func forward(dst io.Writer, src io.Reader, slow bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if slow && bytes.Contains(bytes.ToLower(buf[:n]), []byte("subscribe")) {
				time.Sleep(subscribeDelay)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed connection: either peer is gone
		}
	}
}
