package client

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// The relay calls: transfers of sealed parts between members through the server's relay
// storage. A part goes up or down in two steps, a short-lived URL asked of the session API and
// the bytes sent to or read from it; both are retried when the server cannot be reached, and an
// expired URL is asked again.

// partRate is the slowest transfer rate a part attempt is given time for, on top of the
// client's RequestTimeout.
const partRate = 512 << 10 // bytes per second

// CreateTransfer creates a transfer from this member to req.Recipients, or resumes it: the
// same id, kind and recipients again give its current state, with the parts already stored.
func (c *Client) CreateTransfer(ctx context.Context, session string, req protocol.TransferRequest) (*protocol.TransferState, error) {
	var st protocol.TransferState
	err := c.do(ctx, call{op: "create transfer " + req.ID, method: http.MethodPost, path: transfersPath(session),
		in: req, out: &st, idempotent: true})
	return ret(&st, err)
}

// TransferState reads a transfer (its owner or a recipient).
func (c *Client) TransferState(ctx context.Context, session, transfer string) (*protocol.TransferState, error) {
	var st protocol.TransferState
	err := c.do(ctx, call{op: "get transfer " + transfer, method: http.MethodGet, path: transferPath(session, transfer),
		out: &st, idempotent: true})
	return ret(&st, err)
}

// UploadPart stores part (numbered from 1) of a transfer this member owns. A part that was not
// received yet may be uploaded again; one received already is refused (ErrCodePartReceived),
// unless this very call stored it before its answer was lost.
func (c *Client) UploadPart(ctx context.Context, session, transfer string, part int, sealed []byte) error {
	op := fmt.Sprintf("upload part %d of transfer %s", part, transfer)
	if len(sealed) == 0 || len(sealed) > protocol.MaxPartSize {
		return fmt.Errorf("%s: %d bytes, want 1 to %d", op, len(sealed), protocol.MaxPartSize)
	}
	sent := false // an attempt may have stored the part before it failed
	return c.relayAttempts(ctx, op, func() (protocol.PartURL, error) {
		return c.partURL(ctx, session, transfer, part, "upload", protocol.UploadRequest{Size: int64(len(sealed))})
	}, func(u protocol.PartURL) error {
		err := c.putPart(ctx, u.URL, sealed)
		if err == nil && u.Confirm {
			// The bytes went to a bucket: the server counts them once told.
			err = c.do(ctx, call{op: "confirm the upload", method: http.MethodPost,
				path: partPath(session, transfer, part) + "/uploaded", idempotent: true})
		}
		if err != nil && sent && Code(err) == protocol.ErrCodePartReceived {
			return nil // our earlier attempt stored it, and a recipient has it already
		}
		sent = sent || err == nil || errors.Is(err, ErrUnreachable)
		return err
	})
}

// DownloadPart reads part (numbered from 1) of a transfer this member receives. Tell the
// server with PartReceived once the part is safely used.
func (c *Client) DownloadPart(ctx context.Context, session, transfer string, part int) ([]byte, error) {
	op := fmt.Sprintf("download part %d of transfer %s", part, transfer)
	var data []byte
	err := c.relayAttempts(ctx, op, func() (protocol.PartURL, error) {
		return c.partURL(ctx, session, transfer, part, "download", nil)
	}, func(u protocol.PartURL) error {
		var err error
		data, err = c.getPart(ctx, u.URL)
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// PartReceived tells that this member has part; once every recipient has it, the server
// deletes its bytes.
func (c *Client) PartReceived(ctx context.Context, session, transfer string, part int) error {
	return c.do(ctx, call{op: fmt.Sprintf("acknowledge part %d of transfer %s", part, transfer), method: http.MethodPost,
		path: partPath(session, transfer, part) + "/received", idempotent: true})
}

// CompleteTransfer tells the recipients that the transfer has parts parts, all uploaded.
func (c *Client) CompleteTransfer(ctx context.Context, session, transfer string, parts int) error {
	return c.do(ctx, call{op: "complete transfer " + transfer, method: http.MethodPost,
		path: transferPath(session, transfer) + "/complete", in: protocol.CompleteRequest{Parts: parts}, idempotent: true})
}

// CancelTransfer deletes a transfer this member owns, with its parts. A transfer that is gone
// already is not an error.
func (c *Client) CancelTransfer(ctx context.Context, session, transfer string) error {
	err := c.do(ctx, call{op: "cancel transfer " + transfer, method: http.MethodDelete,
		path: transferPath(session, transfer), idempotent: true})
	if Code(err) == protocol.ErrCodeNotFound {
		return nil
	}
	return err
}

// relayAttempts asks a URL and uses it, again while the server cannot be reached or the URL
// expired, up to the client's attempts on each server. A URL of the session server is relative
// to its API root: it is resolved against the server in use at each attempt, so that it works
// on the next server when the client moved on (the processes of one service share the secret
// that signs them). An absolute URL (a bucket's presigned URL) is used as it is.
func (c *Client) relayAttempts(ctx context.Context, op string, ask func() (protocol.PartURL, error), use func(protocol.PartURL) error) error {
	var (
		ref     protocol.PartURL // the URL as the server gave it
		askedOn int              // the server in use when it was asked
		on      = -1             // the server of the last attempt
		limit   int              // the attempt after which the server of the last attempt is left
		moved   int              // servers left because they did not answer
	)
	for attempt := 1; ; attempt++ {
		var err error
		if ref.URL == "" {
			if ref, err = ask(); err != nil {
				return fmt.Errorf("%s: %w", op, err) // ask has its own retries
			}
			askedOn = c.server().i
		}
		s := c.server()
		if s.i != on { // a new server gets the client's attempts
			on, limit = s.i, attempt+c.retry.Attempts-1
		}
		u := ref
		var own bool
		u.URL, own = s.resolve(ref.URL)
		err = use(u)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("%s: %w", op, context.Cause(ctx))
		case Code(err) == protocol.ErrCodeURLExpired:
			ref = protocol.PartURL{} // ask for a new one
		case Code(err) == protocol.ErrCodeURLInvalid && own && s.i != askedOn:
			ref = protocol.PartURL{} // another process refuses it: ask it for its own
		case !errors.Is(err, ErrUnreachable):
			return fmt.Errorf("%s: %w", op, err)
		}
		if attempt >= limit {
			if !own || !errors.Is(err, ErrUnreachable) || moved >= len(c.servers)-1 {
				return fmt.Errorf("%s: %w", op, err)
			}
			c.moveOn(s.i, err)
			moved++
			continue
		}
		if ref.URL != "" {
			d := c.retry.backoff(attempt - limit + c.retry.Attempts)
			c.log.Debug("retrying", "op", op, "attempt", attempt, "wait", d, "err", err)
			if err := sleep(ctx, d); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
		}
	}
}

// partURL asks the URL of a part ("upload" or "download"), as the server gives it: relative to
// the API root, or absolute (a bucket's presigned URL, on another host).
func (c *Client) partURL(ctx context.Context, session, transfer string, part int, what string, in any) (protocol.PartURL, error) {
	var pu protocol.PartURL
	err := c.do(ctx, call{op: "ask the " + what + " URL", method: http.MethodPost,
		path: partPath(session, transfer, part) + "/" + what, in: in, out: &pu, idempotent: true})
	if err != nil {
		return pu, err
	}
	ref, err := url.Parse(pu.URL)
	if err != nil || pu.URL == "" || (ref.IsAbs() && ref.Scheme != "http" && ref.Scheme != "https") {
		return protocol.PartURL{}, fmt.Errorf("the server gave a bad %s URL", what)
	}
	return pu, nil
}

// resolve makes ref, a URL checked by partURL, absolute against the API root of s; own tells
// whether it was relative, a URL of the session server.
func (s server) resolve(ref string) (u string, own bool) {
	r, _ := url.Parse(ref)
	root := *s.base
	root.Path = strings.TrimSuffix(root.Path, "/") + "/"
	return root.ResolveReference(r).String(), !r.IsAbs()
}

// partTimeout bounds one attempt at moving size bytes.
func (c *Client) partTimeout(size int) time.Duration {
	return c.timeout + time.Duration(size)*time.Second/partRate
}

func (c *Client) putPart(ctx context.Context, u string, sealed []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.partTimeout(len(sealed)))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(sealed))
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(sealed))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, hideURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return partError(resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, protocol.MaxBodyBytes))
	return nil
}

func (c *Client) getPart(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.partTimeout(protocol.MaxPartSize))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, hideURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, partError(resp)
	}
	if resp.ContentLength > protocol.MaxPartSize {
		return nil, fmt.Errorf("the part is %d bytes, more than the %d a part may have", resp.ContentLength, protocol.MaxPartSize)
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(resp.ContentLength, 0)))
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, protocol.MaxPartSize+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: reading the part: %w", ErrUnreachable, err)
	case n > protocol.MaxPartSize:
		return nil, fmt.Errorf("the part has more than the %d bytes a part may have", protocol.MaxPartSize)
	case resp.ContentLength >= 0 && n != resp.ContentLength:
		return nil, fmt.Errorf("%w: the part ended after %d of %d bytes", ErrUnreachable, n, resp.ContentLength)
	}
	return buf.Bytes(), nil
}

// hideURL keeps a relay URL's token, a capability, out of an error message.
func hideURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = "(relay URL)"
	}
	return err
}

func transfersPath(session string) string { return sessionPath(session) + "/transfers" }

func transferPath(session, transfer string) string {
	return transfersPath(session) + "/" + url.PathEscape(transfer)
}

func partPath(session, transfer string, part int) string {
	return transferPath(session, transfer) + "/parts/" + strconv.Itoa(part)
}

// partError reads the refusal of a relay URL: the server's JSON error, or the XML error of a
// bucket (S3), mapped to the same codes so that the retries treat both alike: a refused
// signature (expired, or its clock ahead) asks a new URL, a missing object is not found, and a
// failing store is waited out.
func partError(resp *http.Response) error {
	if !strings.Contains(resp.Header.Get("Content-Type"), "xml") {
		return responseError(resp)
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var se struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	_ = xml.Unmarshal(raw, &se)
	pe := &protocol.Error{Code: codeFor(resp.StatusCode),
		Message: fmt.Sprintf("the object store answered %d %s: %s", resp.StatusCode, se.Code, clipText(se.Message))}
	switch {
	case resp.StatusCode == http.StatusForbidden:
		pe.Code = protocol.ErrCodeURLExpired
	case resp.StatusCode == http.StatusNotFound:
		pe.Code = protocol.ErrCodeNotFound
	}
	var err error = &StatusError{Status: resp.StatusCode, Err: pe}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		err = fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}

func clipText(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
