package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferrysync/ferry/backend/atomicfile"
	"github.com/ferrysync/ferry/backend/bytesize"
	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/relay"
	"github.com/ferrysync/ferry/backend/cloud/store"
)

// envServerSecret holds the access-token secret when --secret-file is not given.
const envServerSecret = "FERRY_SERVER_SECRET"

// shutdownTimeout bounds how long requests in flight may take once the server is told to stop.
const shutdownTimeout = 10 * time.Second

type serverFlags struct {
	listen      string
	redis       string
	redisClust  string
	storage     string
	storageMeta string
	quota       byteSize
	logLevel    string
	secretFile  string
	genSecret   bool
	redisPrefix string
	replicas    int
	presence    time.Duration
	limits      limitFlags
}

// limitFlags are the per-client limits (cloud.Limits); 0 turns a count or rate off.
type limitFlags struct {
	sessions          int
	rate, anonRate    float64
	burst, anonBurst  int
	maxBody           byteSize
	maxStartBody      byteSize
	bodyBudget        byteSize
	bodyTimeout       time.Duration
	bodyMinRate       byteSize
	trustForwardedFor bool
	off               bool
}

// config turns the flags into cloud.Limits, whose zero means the default and negative none.
func (l limitFlags) config() cloud.Limits {
	off := func(v float64) float64 {
		if v == 0 {
			return -1
		}
		return v
	}
	return cloud.Limits{
		Off:               l.off,
		SessionsPerClient: int(off(float64(l.sessions))),
		Rate:              off(l.rate),
		Burst:             l.burst,
		AnonRate:          off(l.anonRate),
		AnonBurst:         l.anonBurst,
		BodyBytes:         int64(l.maxBody),
		StartBodyBytes:    int64(l.maxStartBody),
		InFlightBytes:     int64(l.bodyBudget),
		BodyTimeout:       l.bodyTimeout,
		BodyMinRate:       int64(l.bodyMinRate),
		TrustForwardedFor: l.trustForwardedFor,
	}
}

func addLimitFlags(fl *pflag.FlagSet, l *limitFlags) {
	fl.IntVar(&l.sessions, "client-sessions", cloud.DefaultSessionsPerClient, "sessions one client may have created that still exist (0: no limit)")
	fl.Float64Var(&l.rate, "client-rate", cloud.DefaultRate, "requests a second one authenticated client may make on average (0: no limit)")
	fl.IntVar(&l.burst, "client-burst", cloud.DefaultBurst, "requests one authenticated client may make at once")
	fl.Float64Var(&l.anonRate, "address-rate", cloud.DefaultAnonRate, "requests a second one address may make before logging in (logins, push connections; 0: no limit)")
	fl.IntVar(&l.anonBurst, "address-burst", cloud.DefaultAnonBurst, "requests one address may make at once before logging in")
	l.maxBody, l.maxStartBody, l.bodyBudget, l.bodyMinRate = cloud.DefaultBodyBytes, cloud.DefaultStartBodyBytes, cloud.DefaultInFlightBytes, cloud.DefaultBodyMinRate
	fl.Var(&l.maxBody, "max-body", "largest JSON request body (settings, nodes, results)")
	fl.Var(&l.maxStartBody, "max-start-body", "largest synchronization start, which carries the whole plan")
	fl.Var(&l.bodyBudget, "body-budget", "bytes of request bodies all clients may have in flight at once; others wait, then are told to retry")
	fl.DurationVar(&l.bodyTimeout, "body-timeout", cloud.DefaultBodyTimeout, "time a request body may take, plus a second per --body-min-rate bytes received")
	fl.Var(&l.bodyMinRate, "body-min-rate", "bytes a second a request body must arrive at beyond --body-timeout")
	fl.BoolVar(&l.trustForwardedFor, "trust-forwarded-for", false, "count requests by the last X-Forwarded-For address: only behind a reverse proxy that sets it")
	fl.BoolVar(&l.off, "no-limits", false, "turn the per-client limits off, body sizes aside (for measurements, never in service)")
}

func newServerCmd() *cobra.Command {
	var (
		f          serverFlags
		configFile string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the cloud session server",
		Long: `Run the cloud session server.

Without --redis its state lives in memory (one process). With --redis, any number of server
processes share one Redis; with --redis-cluster, one Redis Cluster (give some of its nodes, the
others are found), for a state larger or busier than one Redis serves. On a cluster, the server
acknowledges an update only once a replica has it too (--redis-replicas), so that a master that
crashes loses no acknowledged update; until a master has a replica again, updates of its
sessions are answered 503 and the members send them again. Processes sharing a
state must share the access-token secret too (--secret-file or $` + envServerSecret + `, at least
32 bytes): without it each process draws a random secret and tokens issued by one are refused
by the others.

Members of a session move files to each other, end-to-end encrypted, through the server's relay
storage. By default that is a temporary folder, removed when the server stops; give a folder with
--storage to keep parts across restarts. Processes sharing a Redis must share one --storage
folder: a part uploaded through one is downloaded through another. With
--storage s3://BUCKET/PREFIX?endpoint=URL&region=REGION the parts go to a bucket of S3-compatible
object storage instead (AWS S3, SeaweedFS, MinIO…): members upload and download them directly
with short-lived presigned URLs, the bytes never pass through the server, and the server keeps
only the bookkeeping (transfers, parts, receipts, sizes) in its state, beside the sessions: with
--redis or --redis-cluster, processes on several machines then share nothing but the Redis and
the bucket (in memory, the bookkeeping is lost at restart). The credentials come
from $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY and $AWS_SESSION_TOKEN, or else from the shared
credentials file ($AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials; profile $AWS_PROFILE). An
endpoint is addressed path-style (http://HOST:PORT/BUCKET/KEY); without one, AWS S3.

--config reads these settings from a file, one "name = value" a line, named as the flags
are (listen, redis, storage, secret-file, …); "#" starts a comment, an empty value keeps the
default, and a flag on the command line wins over the file.

No client can exhaust the server: each has at most --client-sessions sessions and makes at most
--client-rate requests a second (--address-rate before it logs in, by remote address), bodies
are bounded per route (--max-body, --max-start-body) and together (--body-budget), and a body
that trickles in is cut off (--body-timeout, --body-min-rate). Refusals are 429 (rate, sessions),
413 (size), 408 (slow body) or 503 with Retry-After (busy, Redis unreachable). Behind a reverse
proxy give --trust-forwarded-for, or every client counts as the proxy's address.

It stops cleanly on SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyConfigFile(cmd.Flags(), configFile); err != nil {
				return err
			}
			return runServer(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&configFile, "config", "", "read settings from this file (name = value lines; the flags win)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:7420", "address to listen on (port 0 picks a free port)")
	fl.StringVar(&f.redis, "redis", "", "share the state through Redis: redis://HOST:PORT/DB (memory when empty)")
	fl.StringVar(&f.redisClust, "redis-cluster", "", "share the state through a Redis Cluster: HOST:PORT[,HOST:PORT…] of some of its nodes, or one redis://USER:PASSWORD@HOST:PORT?addr=HOST:PORT URL")
	fl.IntVar(&f.replicas, "redis-replicas", 0, "replicas that must have each update before the server acknowledges it (WAIT), so that a master that crashes loses none; 0: one with --redis-cluster, none with --redis; -1: none")
	fl.StringVar(&f.redisPrefix, "redis-prefix", store.DefaultRedisPrefix, "prefix of the Redis keys; processes sharing a state use the same")
	f.quota = byteSize(cloud.DefaultStorageQuota)
	fl.StringVar(&f.storage, "storage", "", "folder for relayed encrypted file parts, kept across restarts, or a bucket: s3://BUCKET/PREFIX?endpoint=URL&region=REGION (default: a temporary folder)")
	fl.StringVar(&f.storageMeta, "storage-meta", "", "")
	_ = fl.MarkHidden("storage-meta") // gone: refused with a message saying why
	fl.Var(&f.quota, "storage-quota", "bytes of relayed parts one session may keep, e.g. 8GiB, 500MB")
	fl.DurationVar(&f.presence, "presence-timeout", cloud.DefaultPresenceTimeout, "how long a member may be without a push connection before the others are told it went away, which ends a run it is in")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug (one line per request), info, warn or error")
	fl.StringVar(&f.secretFile, "secret-file", "", "file holding the access-token secret shared by server processes (or $"+envServerSecret+")")
	fl.BoolVar(&f.genSecret, "generate-secret", false, "create --secret-file with a new random secret, readable by its owner only, when it does not exist")
	addLimitFlags(fl, &f.limits)
	return cmd
}

// applyConfigFile sets, from a file of "name = value" lines, the flags that the command line
// left unset.
func applyConfigFile(fl *pflag.FlagSet, path string) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return usageError("--config: %w", err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return usageError("%s:%d: want name = value", path, i+1)
		}
		flag := fl.Lookup(name)
		if flag == nil || name == "config" || name == "help" {
			return usageError("%s:%d: unknown setting %q", path, i+1, name)
		}
		if flag.Changed || value == "" {
			continue
		}
		if err := fl.Set(name, value); err != nil {
			return usageError("%s:%d: %s: %w", path, i+1, name, err)
		}
	}
	return nil
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usageError("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// readSecret returns the token secret from --secret-file or the environment; nil when neither.
func readSecret(file string) ([]byte, error) {
	var secret []byte
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, usageError("--secret-file: %w", err)
		}
		secret = secretBytes(b)
	case os.Getenv(envServerSecret) != "":
		secret = []byte(os.Getenv(envServerSecret))
	default:
		return nil, nil
	}
	if len(secret) < 32 {
		return nil, usageError("the access-token secret is %d bytes: give at least 32", len(secret))
	}
	return secret, nil
}

// secretBytes is a secret file's content: text loses its line ending (an editor adds one), raw
// random bytes are taken whole, a last byte 0x0a included.
func secretBytes(b []byte) []byte {
	text := bytes.TrimRight(b, "\r\n")
	if !utf8.Valid(text) || bytes.ContainsFunc(text, unicode.IsControl) {
		return b
	}
	return text
}

// generateSecret creates file with a new random secret, mode 0600, unless it exists.
func generateSecret(file string) error {
	if _, err := os.Stat(file); err == nil {
		return nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	// Text, so that no trailing newline can be mistaken for part of it.
	data := []byte(base64.RawURLEncoding.EncodeToString(raw) + "\n")
	if err := atomicfile.Create(file, data, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return usageError("--generate-secret: %w", err)
	}
	return nil
}

// byteSize is a flag of bytes (bytesize.Size): 8GiB, 500MB, 1048576.
type byteSize = bytesize.Size

func runServer(ctx context.Context, f serverFlags, stdout, stderr io.Writer) error {
	level, err := parseLogLevel(f.logLevel)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if f.genSecret {
		if f.secretFile == "" {
			return usageError("--generate-secret needs --secret-file")
		}
		if err := generateSecret(f.secretFile); err != nil {
			return err
		}
	}
	if f.redis != "" && f.redisClust != "" {
		return usageError("give --redis (one Redis server) or --redis-cluster (a Redis Cluster), not both")
	}
	secret, err := readSecret(f.secretFile)
	if err != nil {
		return err
	}
	if secret == nil && (f.redis != "" || f.redisClust != "") {
		log.Warn("no shared token secret: tokens of this process work on this process only; give --secret-file or $" + envServerSecret + " to every process sharing the Redis")
	}
	if f.storageMeta != "" {
		return usageError("--storage-meta is no longer needed: the bookkeeping of relayed parts in a bucket now lives in the server's state (memory, --redis or --redis-cluster), beside the sessions; remove --storage-meta (or storage-meta from the settings)")
	}
	storage, temporary := f.storage, f.storage == ""
	var bucket *relay.Bucket
	if relay.IsBucketURL(storage) {
		b, err := relay.OpenBucket(ctx, relay.BucketConfig{URL: storage})
		if err != nil {
			return &exitError{code: exitUnreachable, err: fmt.Errorf("--storage: %w", err)}
		}
		bucket, storage, temporary = b, "", false
	}
	if temporary {
		dir, err := os.MkdirTemp("", "ferry-relay-")
		if err != nil {
			return fmt.Errorf("make a temporary relay storage folder: %w", err)
		}
		defer os.RemoveAll(dir)
		storage = dir
	}

	var st store.Store
	if f.presence < time.Second {
		return usageError("--presence-timeout %s: want at least 1s", f.presence)
	}
	if f.replicas < -1 {
		return usageError("--redis-replicas %d: want -1 (none), 0 (the default) or a count", f.replicas)
	}
	ropts := store.RedisOptions{Prefix: f.redisPrefix, Logger: log, Replicas: f.replicas}
	switch {
	case f.redis != "":
		r, err := store.NewRedis(ctx, f.redis, ropts)
		if err != nil {
			return &exitError{code: exitUnreachable, err: fmt.Errorf("--redis: %w", err)}
		}
		st = r
	case f.redisClust != "":
		addrs := strings.Split(f.redisClust, ",")
		for i := range addrs {
			addrs[i] = strings.TrimSpace(addrs[i])
			if _, _, err := net.SplitHostPort(addrs[i]); err != nil && !strings.Contains(addrs[i], "://") {
				return usageError("--redis-cluster: node address %q: want HOST:PORT, several separated by commas", addrs[i])
			}
		}
		r, err := store.NewRedisCluster(ctx, addrs, ropts)
		if err != nil {
			return &exitError{code: exitUnreachable, err: fmt.Errorf("--redis-cluster: %w", err)}
		}
		st = r
	default:
		st = store.NewMemory()
	}
	defer st.Close()

	srv, err := cloud.NewServer(cloud.Config{Store: st, Secret: secret, Logger: log,
		StorageDir: storage, StorageBucket: bucket, StorageQuota: int64(f.quota), Limits: f.limits.config(), PresenceTimeout: f.presence})
	if err != nil {
		if errors.Is(err, cloud.ErrLimits) {
			return usageError("%w", err)
		}
		if !temporary {
			return usageError("--storage: %w", err)
		}
		return err
	}
	if bucket != nil {
		log.Info("relay storage", "bucket", bucket.String(), "bookkeeping", "the server's state", "quota", f.quota.String())
		if f.redis == "" && f.redisClust == "" {
			log.Warn("relay bookkeeping in the memory of this process: transfers in progress are lost at restart; give --redis or --redis-cluster to keep them and to share them with other processes")
		}
	} else {
		log.Info("relay storage", "dir", storage, "temporary", temporary, "quota", f.quota.String())
	}
	if temporary && (f.redis != "" || f.redisClust != "") {
		log.Warn("relay storage in a temporary folder of this process: server processes sharing a Redis must share one --storage folder or bucket, or relayed copies fail")
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usageError("--listen: %w", err)
	}
	httpSrv := cloud.NewHTTPServer(srv.Handler(), log)

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Run(runCtx); err != nil {
			errc <- err
		}
	})
	wg.Go(func() {
		if err := httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve: %w", err)
		}
	})
	fmt.Fprintf(stdout, "ferry server listening on http://%s\n", ln.Addr())

	select {
	case <-ctx.Done():
		log.Info("stopping")
	case err = <-errc:
		log.Error("server failed", "err", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	_ = srv.Close() // websockets are not the HTTP server's to close
	if serr := httpSrv.Shutdown(shutdownCtx); serr != nil {
		log.Warn("shutdown", "err", serr)
	}
	stopRun()
	wg.Wait()
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
