package session_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
)

// The password, its Argon2id key and the session key never reach the server: not in a request,
// not in a push, not in its logs, not in its store (for Redis: not in any command it sent).
func TestJoinKeepsSecretsFromTheServer(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			st, where := newTestStore(t, kind)
			var redisLog *monitor
			if kind == "redis" {
				redisLog = startMonitor(t, where)
			}
			ts := newTestServer(t, st)
			nodes := func(code string) []plan.NodeSpec { return []plan.NodeSpec{{Code: code, Roots: []string{t.TempDir()}}} }
			a := create(t, ts.URL, testOptions()...)
			if _, err := join(t, newClient(t, ts.URL), a.ID(), "WRONG-WRONG-WRONG-WRONG", nil, testOptions()...); err == nil {
				t.Fatal("joined with a wrong password")
			}
			b, err := join(t, newClient(t, ts.URL), a.ID(), a.Password(), nodes("B"), testOptions()...)
			if err != nil {
				t.Fatal(err)
			}
			b.Status(protocol.InventoryFinished)
			if _, err := b.Close(t.Context(), 5*time.Second); err != nil { // statuses delivered, B quits
				t.Fatal(err)
			}

			// Everything the server saw or kept.
			var seen bytes.Buffer
			ts.mu.Lock()
			seen.Write(ts.logs.Bytes())
			for _, body := range ts.bodies {
				seen.Write(body)
			}
			var challenge *protocol.JoinChallenge
			for _, m := range ts.published {
				data, _ := json.Marshal(m)
				seen.Write(data)
				if m.Event.Type == protocol.EventJoinChallenge && challenge == nil {
					challenge = new(protocol.JoinChallenge)
					_ = json.Unmarshal(m.Event.Data, challenge)
				}
			}
			ts.mu.Unlock()
			stored, err := st.GetSession(context.Background(), a.ID())
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(stored)
			seen.Write(data)
			if redisLog != nil {
				seen.Write(redisLog.stop())
				seen.Write(dumpRedis(t, where))
			}

			// What must not be there.
			if challenge == nil {
				t.Fatal("no challenge was pushed")
			}
			normalized, _ := crypto.NormalizePassword(a.Password())
			pwKey, err := crypto.DerivePasswordKey(normalized, challenge.Salt, crypto.PasswordParams{
				Time: challenge.Params.Time, MemoryKiB: challenge.Params.MemoryKiB, Threads: challenge.Params.Threads})
			if err != nil {
				t.Fatal(err)
			}
			key := a.Key()
			secrets := map[string][]byte{
				"password":            []byte(a.Password()),
				"normalized password": []byte(normalized),
				"password key":        pwKey[:],
				"session key":         key[:],
			}
			for name, secret := range secrets {
				for form, enc := range encodings(secret) {
					if bytes.Contains(seen.Bytes(), enc) {
						t.Errorf("the server saw the %s (%s)", name, form)
					}
				}
			}
			// The search can succeed: public values the server must see are found.
			for name, public := range map[string][]byte{
				"session id":       []byte(a.ID()),
				"B's identity key": []byte(base64.StdEncoding.EncodeToString(b.Client().Identity().Public())),
			} {
				if !bytes.Contains(seen.Bytes(), public) {
					t.Errorf("the %s is not in what the server saw: the check is blind", name)
				}
			}
			if kind == "redis" && !bytes.Contains(seen.Bytes(), []byte(a.ID())) {
				t.Error("the monitor saw nothing")
			}
		})
	}
}

// encodings are the forms a secret could take on the way: raw, base64, hex.
func encodings(b []byte) map[string][]byte {
	return map[string][]byte{
		"raw":           b,
		"base64":        []byte(base64.StdEncoding.EncodeToString(b)),
		"base64 raw":    []byte(base64.RawStdEncoding.EncodeToString(b)),
		"base64url":     []byte(base64.RawURLEncoding.EncodeToString(b)),
		"hex":           []byte(hex.EncodeToString(b)),
		"hex uppercase": []byte(strings.ToUpper(hex.EncodeToString(b))),
	}
}

// monitor records every command the Redis server runs (MONITOR), on a connection of its own.
type monitor struct {
	conn net.Conn
	done chan struct{}
	mu   sync.Mutex
	log  bytes.Buffer
}

func redisClient(t *testing.T, where string) (*redis.Client, string) {
	t.Helper()
	url, prefix, _ := strings.Cut(where, "|")
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return redis.NewClient(o), prefix
}

// command encodes a Redis command.
func command(args ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// startMonitor starts recording and returns once the monitor sees commands.
func startMonitor(t *testing.T, where string) *monitor {
	t.Helper()
	url, _, _ := strings.Cut(where, "|")
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", o.Addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if o.Password != "" {
		args := []string{"AUTH", o.Password}
		if o.Username != "" {
			args = []string{"AUTH", o.Username, o.Password}
		}
		_, _ = conn.Write(command(args...))
	}
	if _, err := conn.Write(command("MONITOR")); err != nil {
		t.Fatal(err)
	}
	m := &monitor{conn: conn, done: make(chan struct{})}
	marker := fmt.Sprintf("ferry-monitor-ready-%d", time.Now().UnixNano())
	ready := make(chan struct{})
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(conn)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		seen := false
		for sc.Scan() {
			m.mu.Lock()
			m.log.Write(sc.Bytes())
			m.log.WriteByte('\n')
			m.mu.Unlock()
			if !seen && bytes.Contains(sc.Bytes(), []byte(marker)) {
				seen = true
				close(ready)
			}
		}
	}()
	t.Cleanup(func() { m.stop() })
	other, _ := redisClient(t, where)
	defer other.Close()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		_ = other.Echo(context.Background(), marker).Err()
		select {
		case <-ready:
			return m
		case <-tick.C:
		case <-deadline:
			t.Fatal("the Redis monitor saw nothing within 10 s")
		}
	}
}

// stop ends the recording and returns what was recorded.
func (m *monitor) stop() []byte {
	_ = m.conn.Close()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.log.Bytes())
}

// dumpRedis reads every key under the test's prefix.
func dumpRedis(t *testing.T, where string) []byte {
	t.Helper()
	c, prefix := redisClient(t, where)
	defer c.Close()
	ctx := context.Background()
	var out bytes.Buffer
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		var v any
		var err error
		switch typ, _ := c.Type(ctx, k).Result(); typ {
		case "string":
			v, err = c.Get(ctx, k).Result()
		case "hash":
			v, err = c.HGetAll(ctx, k).Result()
		case "set":
			v, err = c.SMembers(ctx, k).Result()
		case "zset":
			v, err = c.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "list":
			v, err = c.LRange(ctx, k, 0, -1).Result()
		default:
			v = typ
		}
		if err != nil && err != redis.Nil {
			t.Fatalf("read %s: %v", k, err)
		}
		fmt.Fprintf(&out, "%s %v\n", k, v)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
