package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
)

// envServerSecret holds the access-token secret when --secret-file is not given.
const envServerSecret = "FERRY_SERVER_SECRET"

// shutdownTimeout bounds how long requests in flight may take once the server is told to stop.
const shutdownTimeout = 10 * time.Second

type serverFlags struct {
	listen      string
	redis       string
	storage     string
	logLevel    string
	secretFile  string
	redisPrefix string
}

func newServerCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the cloud session server",
		Long: `Run the cloud session server.

Without --redis its state lives in memory (one process). With --redis, any number of server
processes share one Redis; they must then share the access-token secret too (--secret-file or
$` + envServerSecret + `, at least 32 bytes): without it each process draws a random secret and
tokens issued by one are refused by the others.

It stops cleanly on SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServer(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:7420", "address to listen on (port 0 picks a free port)")
	fl.StringVar(&f.redis, "redis", "", "share the state through Redis: redis://HOST:PORT/DB (memory when empty)")
	fl.StringVar(&f.redisPrefix, "redis-prefix", store.DefaultRedisPrefix, "prefix of the Redis keys; processes sharing a state use the same")
	fl.StringVar(&f.storage, "storage", "", "folder for relayed encrypted file parts (a temporary folder when empty)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug (one line per request), info, warn or error")
	fl.StringVar(&f.secretFile, "secret-file", "", "file holding the access-token secret shared by server processes (or $"+envServerSecret+")")
	return cmd
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
		secret = bytes.TrimRight(b, "\r\n")
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

// prepareStorage creates the relay folder; cleanup removes it when it is a temporary one.
func prepareStorage(dir string) (path string, cleanup func(), err error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ferry-storage-")
		if err != nil {
			return "", nil, fmt.Errorf("create a storage folder: %w", err)
		}
		return tmp, func() { _ = os.RemoveAll(tmp) }, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, usageError("--storage: %w", err)
	}
	return dir, func() {}, nil
}

func runServer(ctx context.Context, f serverFlags, stdout, stderr io.Writer) error {
	level, err := parseLogLevel(f.logLevel)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	secret, err := readSecret(f.secretFile)
	if err != nil {
		return err
	}
	if secret == nil && f.redis != "" {
		log.Warn("no shared token secret: tokens of this process work on this process only; give --secret-file or $" + envServerSecret + " to every process sharing the Redis")
	}
	storage, cleanStorage, err := prepareStorage(f.storage)
	if err != nil {
		return err
	}
	defer cleanStorage()
	log.Debug("relay storage", "dir", storage)

	var st store.Store
	if f.redis != "" {
		r, err := store.NewRedis(ctx, f.redis, store.RedisOptions{Prefix: f.redisPrefix, Logger: log})
		if err != nil {
			return &exitError{code: exitUnreachable, err: fmt.Errorf("--redis: %w", err)}
		}
		st = r
	} else {
		st = store.NewMemory()
	}
	defer st.Close()

	srv, err := cloud.NewServer(cloud.Config{Store: st, Secret: secret, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usageError("--listen: %w", err)
	}
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

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
