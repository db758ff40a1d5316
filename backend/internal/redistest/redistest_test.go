package redistest

import (
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestRedisURLAnswersThenStops(t *testing.T) {
	var addr string
	t.Run("server", func(t *testing.T) {
		u, err := url.Parse(URL(t))
		if err != nil {
			t.Fatal(err)
		}
		addr = u.Host
		if err := ping(addr); err != nil {
			t.Fatalf("PING %s: %v", addr, err)
		}
	})
	if t.Failed() {
		return
	}
	if addr == "" {
		t.Skip("no server to check")
	}
	if os.Getenv(EnvURL) != "" {
		t.Skip("the server is " + EnvURL + ": it outlives the test")
	}
	if err := ping(addr); err == nil {
		t.Fatalf("private server on %s still answers after its test ended", addr)
	}
}

func TestRedisPrefixUnique(t *testing.T) {
	a, b := Prefix(t), Prefix(t)
	if a == b {
		t.Fatalf("two prefixes alike: %s", a)
	}
	if !strings.HasPrefix(a, "ferrytest:TestRedisPrefixUnique:") {
		t.Fatalf("prefix %q does not name the test", a)
	}
}

func TestRedisStartReportsAnEarlyExit(t *testing.T) {
	bin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false command")
	}
	_, err = start(t, bin)
	if err == nil || !strings.Contains(err.Error(), "exited before answering PING") {
		t.Fatalf("want an early exit reported, got %v", err)
	}
}
