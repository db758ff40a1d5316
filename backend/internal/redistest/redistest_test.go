package redistest

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
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

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// The private cluster has three masters with one replica each, serves keys of every slot, and
// is the same cluster for every test of the binary.
func TestRedisClusterServes(t *testing.T) {
	start := time.Now()
	c := Cluster(t)
	t.Logf("cluster ready in %v", time.Since(start))
	if n := len(c.Addrs()); n != clusterNodes {
		t.Fatalf("%d nodes, want %d", n, clusterNodes)
	}
	cc := c.Client(t)
	ctx := t.Context()
	for i := range 100 {
		k := fmt.Sprintf("k%d", i)
		if err := cc.Set(ctx, k, i, time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	masters := map[string]bool{}
	for i := range 100 {
		k := fmt.Sprintf("k%d", i)
		if v, err := cc.Get(ctx, k).Int(); err != nil || v != i {
			t.Fatalf("GET %s: %v (%v), want %d", k, v, err, i)
		}
		if i%10 == 0 {
			masters[c.MasterOf(t, k)] = true
		}
	}
	if len(masters) != clusterMasters {
		t.Fatalf("keys on %d masters, want %d", len(masters), clusterMasters)
	}
	if again := Cluster(t); again != c {
		t.Fatal("a second call started another cluster")
	}
}
