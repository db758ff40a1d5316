package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// auth holds the tokens. One login or refresh runs at a time (refresh tokens work once); the
// others wait for its result.
type auth struct {
	sem       chan struct{} // held while logging in or refreshing
	mu        sync.Mutex
	tokens    protocol.Tokens
	refreshAt time.Time // on the client's clock
}

func (a *auth) init() { a.sem = make(chan struct{}, 1) }

func (a *auth) current() (protocol.Tokens, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tokens, a.refreshAt
}

// Login proves to the server that this installation holds its key and gets the tokens: it asks
// for a challenge, signs protocol.LoginMessage and logs in. Calls log in by themselves when
// needed; Login does it explicitly, to learn early whether the server is there and accepts us.
func (c *Client) Login(ctx context.Context) error {
	if err := c.lock(ctx); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	defer c.unlock()
	return c.login(ctx)
}

// Tokens are the current tokens (zero before the first login).
func (c *Client) Tokens() protocol.Tokens {
	t, _ := c.auth.current()
	return t
}

func (c *Client) lock(ctx context.Context) error {
	select {
	case c.auth.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (c *Client) unlock() { <-c.auth.sem }

// login runs challenge and login, again as a whole when the server could not be reached: each
// try uses a new challenge, so it is safe to repeat, on this server or the next. The caller
// holds the lock.
func (c *Client) login(ctx context.Context) error {
	return c.roam(ctx, true, func(s server) error { return c.loginOn(ctx, s) })
}

// loginOn logs in on server s, with the retries.
func (c *Client) loginOn(ctx context.Context, s server) error {
	for attempt := 1; ; attempt++ {
		err := c.tryLogin(ctx, s)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !mayRetry(err, true) || attempt >= c.retry.Attempts {
			return err
		}
		d := c.retry.wait(attempt, err)
		c.log.Debug("retrying login", "attempt", attempt, "wait", d, "err", err)
		if err := sleep(ctx, d); err != nil {
			return fmt.Errorf("login: %w", err)
		}
	}
}

// tryLogin asks s for a challenge and logs in with it, on the same server.
func (c *Client) tryLogin(ctx context.Context, s server) error {
	pub := c.id.Public()
	var ch protocol.Challenge
	if err := c.post(ctx, s, "/auth/challenge", protocol.ChallengeRequest{PublicKey: pub}, &ch, nil); err != nil {
		return fmt.Errorf("login: challenge: %w", err)
	}
	req := protocol.LoginRequest{
		PublicKey:       pub,
		InstanceID:      c.instanceID,
		ProtocolVersion: protocol.Version,
		Nonce:           ch.Nonce,
		Signature:       c.id.Sign(protocol.LoginMessage(ch.Nonce, c.instanceID, protocol.Version)),
		MachineOS:       c.machineOS,
	}
	var t protocol.Tokens
	var date time.Time
	if err := c.post(ctx, s, "/auth/login", req, &t, &date); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	c.setTokens(t, date)
	c.log.Debug("logged in", "instance", t.InstanceID, "expires", t.AccessExpires, "server", s.base.Host)
	return nil
}

// post sends one unauthenticated request to server s, once.
func (c *Client) post(ctx context.Context, s server, path string, in, out any, date *time.Time) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.send(ctx, s, call{method: http.MethodPost, path: path, out: out, date: date}, body, "")
}

// setTokens keeps new tokens and plans their refresh: a quarter of their lifetime before they
// expire, at most a minute before. The lifetime is measured on the server's clock (its Date
// header) when the two clocks disagree by more than that header's precision.
func (c *Client) setTokens(t protocol.Tokens, serverNow time.Time) {
	now := c.now()
	var skew time.Duration
	if !serverNow.IsZero() {
		if d := serverNow.Sub(now); d > 2*time.Second || d < -2*time.Second {
			skew = d
		}
	}
	life := t.AccessExpires.Sub(now.Add(skew))
	life -= min(life/4, time.Minute)
	c.auth.mu.Lock()
	c.auth.tokens = t
	c.auth.refreshAt = now.Add(max(life, 0))
	c.auth.mu.Unlock()
}

// accessToken is a token to send, renewed first when it is due.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	t, at := c.auth.current()
	if t.AccessToken != "" && c.now().Before(at) {
		return t.AccessToken, nil
	}
	if err := c.renew(ctx, t.AccessToken); err != nil {
		return "", err
	}
	t, _ = c.auth.current()
	return t.AccessToken, nil
}

// renew replaces the access token stale: by refreshing, or by logging in again when there is no
// refresh token or the server refuses it. Nothing is done when another call already replaced it.
func (c *Client) renew(ctx context.Context, stale string) error {
	if err := c.lock(ctx); err != nil {
		return fmt.Errorf("renew token: %w", err)
	}
	defer c.unlock()
	t, at := c.auth.current()
	if t.AccessToken != stale && t.AccessToken != "" && c.now().Before(at) {
		return nil
	}
	if t.RefreshToken != "" {
		var nt protocol.Tokens
		var date time.Time
		// A refresh token works once: when the answer was lost, the next server refuses it and
		// the client logs in again.
		err := c.roam(ctx, true, func(s server) error {
			return c.post(ctx, s, "/auth/refresh", protocol.RefreshRequest{RefreshToken: t.RefreshToken}, &nt, &date)
		})
		if err == nil {
			c.setTokens(nt, date)
			c.log.Debug("refreshed tokens", "expires", nt.AccessExpires)
			return nil
		}
		if Code(err) != protocol.ErrCodeUnauthorized {
			return fmt.Errorf("refresh token: %w", err)
		}
		c.log.Debug("refresh token refused, logging in again", "err", err)
	}
	return c.login(ctx)
}
