package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A private Redis Cluster: three masters with one replica each, on loopback ports, started once
// per test binary by the first test that asks (Cluster) and stopped by Main after the last.
// Tests that use it have Cluster in their names, so `go test -run Cluster` selects them.

const (
	clusterMasters = 3
	clusterNodes   = 2 * clusterMasters // one replica each
	// nodeTimeout is the cluster-node-timeout: a master silent this long is failed over.
	nodeTimeout    = 500 * time.Millisecond
	clusterTimeout = 30 * time.Second // from start to a cluster in state ok; a failover
)

// ClusterServer is a running private Redis Cluster.
type ClusterServer struct {
	dir      string
	cli      string
	server   string
	mu       sync.Mutex
	nodes    []*clusterNode
	stopOnce sync.Once
}

// clusterNode is one redis-server of the cluster.
type clusterNode struct {
	addr        string
	port, cport int
	dir         string
	out         *syncBuffer
	cmd         *exec.Cmd
	exited      chan struct{}
}

// shared is the cluster of this test binary.
var shared struct {
	once sync.Once
	c    *ClusterServer
	err  error
}

// Main runs the tests of a package that uses Cluster and then stops the cluster, if one was
// started; a package's TestMain returns it: os.Exit(redistest.Main(m)).
func Main(m interface{ Run() int }) int {
	code := m.Run()
	if shared.c != nil {
		shared.c.stop()
	}
	return code
}

// Cluster returns the test binary's private Redis Cluster, starting it on first use. It skips
// t when redis-server or redis-cli is missing. The package's TestMain must call Main, which
// stops the cluster; a cluster left behind by a killed test binary dies with it.
func Cluster(t testing.TB) *ClusterServer {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed: run make deps-test")
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed: run make deps-test")
	}
	shared.once.Do(func() {
		var errs []error
		for range startAttempts {
			c, err := startCluster(server, cli)
			if err == nil {
				shared.c = c
				return
			}
			errs = append(errs, err)
		}
		shared.err = errors.Join(errs...)
	})
	if shared.err != nil {
		t.Fatalf("redistest: start a Redis Cluster: %v", shared.err)
	}
	shared.c.WaitOK(t)
	return shared.c
}

// Addrs are the host:port of every node, masters and replicas.
func (c *ClusterServer) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr
	}
	return addrs
}

// Client returns a cluster client, closed when t ends.
func (c *ClusterServer) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func startCluster(server, cli string) (*ClusterServer, error) {
	dir, err := os.MkdirTemp("", "ferry-redis-cluster-")
	if err != nil {
		return nil, fmt.Errorf("make a folder for the cluster: %w", err)
	}
	c := &ClusterServer{dir: dir, cli: cli, server: server}
	ports, err := freePorts(2 * clusterNodes)
	if err != nil {
		c.stop()
		return nil, err
	}
	for i := range clusterNodes {
		n := &clusterNode{port: ports[2*i], cport: ports[2*i+1], dir: filepath.Join(dir, strconv.Itoa(i))}
		n.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))
		if err := os.Mkdir(n.dir, 0o755); err != nil {
			c.stop()
			return nil, fmt.Errorf("make a folder for a cluster node: %w", err)
		}
		c.nodes = append(c.nodes, n)
		if err := c.startNode(n); err != nil {
			c.stop()
			return nil, err
		}
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		c.stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %w; its output:\n%s", err, out)
	}
	if err := c.waitOK(ctx); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// startNode runs the node's redis-server and waits until it answers PING.
func (c *ClusterServer) startNode(n *clusterNode) error {
	n.out = &syncBuffer{}
	n.cmd = exec.Command(c.server,
		"--port", strconv.Itoa(n.port), "--cluster-port", strconv.Itoa(n.cport), "--bind", "127.0.0.1",
		"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.Itoa(int(nodeTimeout.Milliseconds())),
		"--repl-diskless-sync-delay", "0", // replicas in sync at once
		"--save", "", "--appendonly", "no", "--dir", n.dir)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	n.cmd.SysProcAttr = sysProcAttr()
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	n.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) { _ = cmd.Wait(); close(exited) }(n.cmd, n.exited)
	if err := waitReady(n.addr, n.exited); err != nil {
		return fmt.Errorf("cluster node %s: %w; its output:\n%s", n.addr, err, n.out.String())
	}
	return nil
}

func (c *ClusterServer) stop() {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, n := range c.nodes {
			if n.cmd != nil && n.cmd.Process != nil {
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
		}
		_ = os.RemoveAll(c.dir)
	})
}

// WaitOK waits until every running node says cluster_state:ok and knows every other node as
// reachable, and every master has its replica: after a failover and a restart, the cluster
// is whole again.
func (c *ClusterServer) WaitOK(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	if err := c.waitOK(ctx); err != nil {
		t.Fatalf("redistest: %v", err)
	}
}

func (c *ClusterServer) waitOK(ctx context.Context) error {
	var last error
	for {
		if last = c.healthy(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ok in time: %w", last)
		case <-time.After(20 * pollInterval):
		}
	}
}

// healthy tells what keeps the cluster from being whole, nil when nothing does.
func (c *ClusterServer) healthy(ctx context.Context) error {
	for _, addr := range c.Addrs() {
		err := withNode(ctx, addr, func(nc *redis.Client) error {
			info, err := nc.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return errors.New("cluster_state not ok")
			}
			nodes, err := nc.ClusterNodes(ctx).Result()
			if err != nil {
				return err
			}
			masters, replicas := 0, 0
			for line := range strings.Lines(nodes) {
				f := strings.Fields(line)
				if len(f) < 8 {
					continue
				}
				if strings.Contains(f[2], "fail") || f[7] != "connected" {
					return fmt.Errorf("node %s is %s, %s", f[1], f[2], f[7])
				}
				switch {
				case strings.Contains(f[2], "master"):
					masters++
				case strings.Contains(f[2], "slave"):
					replicas++
				}
			}
			if masters != clusterMasters || replicas != clusterNodes-clusterMasters {
				return fmt.Errorf("%d masters and %d replicas, want %d and %d", masters, replicas,
					clusterMasters, clusterNodes-clusterMasters)
			}
			repl, err := nc.Info(ctx, "replication").Result()
			if err != nil {
				return err
			}
			if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
				return errors.New("replica not in sync with its master")
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("node %s: %w", addr, err)
		}
	}
	return nil
}

func withNode(ctx context.Context, addr string, fn func(*redis.Client) error) error {
	nc := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer nc.Close()
	return fn(nc)
}

// MasterOf returns the address of the online master serving key.
func (c *ClusterServer) MasterOf(t testing.TB, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), clusterTimeout)
	defer cancel()
	addr, err := c.masterOf(ctx, key)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return addr
}

// WaitPromoted waits until another master than old serves key and every running node says
// cluster_state:ok, and returns its address: the failover is over.
func (c *ClusterServer) WaitPromoted(t testing.TB, key, old string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), clusterTimeout)
	defer cancel()
	for {
		addr, err := c.masterOf(ctx, key)
		if err == nil && addr == old {
			err = fmt.Errorf("%s still serves %s", old, key)
		}
		if err == nil {
			return addr
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: no failover in time: %v", err)
		case <-time.After(20 * pollInterval):
		}
	}
}

// masterOf asks the running nodes which online master serves key; every one of them must say
// cluster_state:ok and agree.
func (c *ClusterServer) masterOf(ctx context.Context, key string) (string, error) {
	var addrs []string
	for _, n := range c.running() {
		addrs = append(addrs, n.addr)
	}
	return masterAmong(ctx, key, addrs)
}

// masterAmong asks the nodes at addrs which online master serves key.
func masterAmong(ctx context.Context, key string, addrs []string) (string, error) {
	found := ""
	for _, addr := range addrs {
		err := withNode(ctx, addr, func(nc *redis.Client) error {
			info, err := nc.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return errors.New("cluster_state not ok")
			}
			slot, err := nc.ClusterKeySlot(ctx, key).Result()
			if err != nil {
				return err
			}
			shards, err := nc.ClusterShards(ctx).Result()
			if err != nil {
				return err
			}
			addr := ""
			for _, s := range shards {
				for _, r := range s.Slots {
					if r.Start > slot || slot > r.End {
						continue
					}
					for _, m := range s.Nodes {
						if m.Role == "master" && m.Health == "online" {
							addr = net.JoinHostPort(m.IP, strconv.FormatInt(m.Port, 10))
						}
					}
				}
			}
			switch {
			case addr == "":
				return fmt.Errorf("no online master serves slot %d", slot)
			case found != "" && addr != found:
				return fmt.Errorf("nodes disagree on the master of slot %d: %s, %s", slot, found, addr)
			}
			found = addr
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("node %s: %w", addr, err)
		}
	}
	return found, nil
}

// running are the nodes whose process runs.
func (c *ClusterServer) running() []*clusterNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*clusterNode
	for _, n := range c.nodes {
		select {
		case <-n.exited:
		default:
			out = append(out, n)
		}
	}
	return out
}

// Shutdown stops the node at addr with SHUTDOWN NOSAVE: a master first lets its replica catch up
// (Redis waits for lagging replicas on shutdown), then exits; with the cluster-node-timeout of
// the cluster, its replica takes over within a few seconds. Restart brings the node back.
func (c *ClusterServer) Shutdown(t testing.TB, addr string) {
	t.Helper()
	n := c.node(t, addr)
	ctx, cancel := context.WithTimeout(t.Context(), clusterTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.cli, "-p", strconv.Itoa(n.port), "shutdown", "nosave").CombinedOutput()
	select {
	case <-n.exited:
	case <-ctx.Done():
		t.Fatalf("redistest: node %s still runs after SHUTDOWN (redis-cli: %v, %s)", addr, err, out)
	}
}

// Kill stops the node at addr with SIGKILL, as a crash does: a master gets no chance to let its
// replica catch up, and its replica takes over after the cluster-node-timeout. Restart brings
// the node back.
func (c *ClusterServer) Kill(t testing.TB, addr string) {
	t.Helper()
	n := c.node(t, addr)
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatalf("redistest: kill node %s: %v", addr, err)
	}
	select {
	case <-n.exited:
	case <-time.After(clusterTimeout):
		t.Fatalf("redistest: node %s still runs after SIGKILL", addr)
	}
}

// Pause stops the node at addr with SIGSTOP until resume (also called when t ends): it reads
// nothing meanwhile, so a replica falls behind its master by whatever the socket buffers
// cannot hold.
func (c *ClusterServer) Pause(t testing.TB, addr string) (resume func()) {
	t.Helper()
	n := c.node(t, addr)
	if err := pauseProcess(n.cmd.Process); err != nil {
		t.Fatalf("redistest: pause node %s: %v", addr, err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := resumeProcess(n.cmd.Process); err != nil {
				t.Errorf("redistest: resume node %s: %v", addr, err)
			}
		})
	}
	t.Cleanup(resume)
	return resume
}

// ReplicaOf returns the address of an online replica of the master serving key.
func (c *ClusterServer) ReplicaOf(t testing.TB, key string) string {
	t.Helper()
	master := c.MasterOf(t, key)
	ctx, cancel := context.WithTimeout(t.Context(), clusterTimeout)
	defer cancel()
	var replica string
	err := withNode(ctx, master, func(nc *redis.Client) error {
		info, err := nc.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		// slave0:ip=127.0.0.1,port=6380,state=online,offset=…,lag=0
		for line := range strings.Lines(info) {
			if !strings.HasPrefix(line, "slave") || !strings.Contains(line, "state=online") {
				continue
			}
			var ip, port string
			for f := range strings.SplitSeq(strings.TrimSpace(line[strings.Index(line, ":")+1:]), ",") {
				k, v, _ := strings.Cut(f, "=")
				switch k {
				case "ip":
					ip = v
				case "port":
					port = v
				}
			}
			replica = net.JoinHostPort(ip, port)
			return nil
		}
		return fmt.Errorf("master %s has no online replica", master)
	})
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return replica
}

// Restart starts a stopped node again, with its cluster configuration: it rejoins the cluster
// (a former master as the replica of the node that took over). Then, or when the node runs,
// it waits until the cluster is whole.
func (c *ClusterServer) Restart(t testing.TB, addr string) {
	t.Helper()
	n := c.node(t, addr)
	select {
	case <-n.exited:
	default:
		c.WaitOK(t)
		return
	}
	c.mu.Lock()
	err := c.startNode(n)
	c.mu.Unlock()
	if err != nil {
		t.Fatalf("redistest: restart: %v", err)
	}
	c.WaitOK(t)
}

func (c *ClusterServer) node(t testing.TB, addr string) *clusterNode {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.addr == addr {
			return n
		}
	}
	t.Fatalf("redistest: no cluster node at %s", addr)
	return nil
}

// freePorts finds n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// MoveSlot moves the hash slot of key, and the keys in it, from its master to another master,
// as `redis-cli --cluster reshard` does one slot at a time, and waits until every master serves
// it from there (the replicas learn it by gossip). It returns the new master's address.
func (c *ClusterServer) MoveSlot(t testing.TB, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), clusterTimeout)
	defer cancel()
	from, err := c.masterOf(ctx, key)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	var slot int64
	var to string
	var masters []string
	err = withNode(ctx, from, func(nc *redis.Client) error {
		var err error
		if slot, err = nc.ClusterKeySlot(ctx, key).Result(); err != nil {
			return err
		}
		shards, err := nc.ClusterShards(ctx).Result()
		if err != nil {
			return err
		}
		for _, s := range shards {
			for _, n := range s.Nodes {
				addr := net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
				if n.Role == "master" && n.Health == "online" {
					masters = append(masters, addr)
					if addr != from && to == "" {
						to = addr
					}
				}
			}
		}
		return nil
	})
	if err == nil && to == "" {
		err = errors.New("no other master")
	}
	if err != nil {
		t.Fatalf("redistest: move the slot of %s: %v", key, err)
	}
	id := func(addr string) string {
		var id string
		if err := withNode(ctx, addr, func(nc *redis.Client) error {
			var err error
			id, err = nc.ClusterMyID(ctx).Result()
			return err
		}); err != nil {
			t.Fatalf("redistest: CLUSTER MYID on %s: %v", addr, err)
		}
		return id
	}
	fromID, toID := id(from), id(to)
	do := func(addr string, args ...any) {
		if err := withNode(ctx, addr, func(nc *redis.Client) error { return nc.Do(ctx, args...).Err() }); err != nil {
			t.Fatalf("redistest: %v on %s: %v", args, addr, err)
		}
	}
	do(to, "cluster", "setslot", slot, "importing", fromID)
	do(from, "cluster", "setslot", slot, "migrating", toID)
	host, port, _ := net.SplitHostPort(to)
	err = withNode(ctx, from, func(nc *redis.Client) error {
		for {
			keys, err := nc.ClusterGetKeysInSlot(ctx, int(slot), 100).Result()
			if err != nil || len(keys) == 0 {
				return err
			}
			args := []any{"migrate", host, port, "", 0, 5000, "keys"}
			for _, k := range keys {
				args = append(args, k)
			}
			if err := nc.Do(ctx, args...).Err(); err != nil {
				return err
			}
		}
	})
	if err != nil {
		t.Fatalf("redistest: migrate the keys of slot %d: %v", slot, err)
	}
	do(to, "cluster", "setslot", slot, "node", toID)
	do(from, "cluster", "setslot", slot, "node", toID)
	for _, m := range masters {
		if m != from && m != to {
			do(m, "cluster", "setslot", slot, "node", toID)
		}
	}
	for {
		now, err := masterAmong(ctx, key, masters)
		if err == nil && now == to {
			return to
		}
		select {
		case <-ctx.Done():
			t.Fatalf("redistest: slot %d not served by %s in time (%v, %s)", slot, to, err, now)
		case <-time.After(pollInterval):
		}
	}
}
