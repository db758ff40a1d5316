// Package remote carries data between the members of a session through the session server's
// relay storage, end-to-end encrypted: blobs (inventories, signatures, the plan) and the content
// of copies whose source and targets are on different members. Everything travels as parts
// sealed with the session key (crypto.SealPart, the transfer id as file id, the part number and
// the last-part flag authenticated); the server stores sealed parts only and learns neither
// names, paths nor content. Transfer ids are derived from the session key and a name that every
// member computes alike, so a recipient knows what to wait for without asking the sender.
package remote

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"time"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// API is what the relay needs of the session server; *client.Client implements it.
type API interface {
	CreateTransfer(ctx context.Context, session string, req protocol.TransferRequest) (*protocol.TransferState, error)
	TransferState(ctx context.Context, session, transfer string) (*protocol.TransferState, error)
	UploadPart(ctx context.Context, session, transfer string, part int, sealed []byte) error
	DownloadPart(ctx context.Context, session, transfer string, part int) ([]byte, error)
	PartReceived(ctx context.Context, session, transfer string, part int) error
	CompleteTransfer(ctx context.Context, session, transfer string, parts int) error
	CancelTransfer(ctx context.Context, session, transfer string) error
}

const transferIDLabel = "ferry transfer id v1"

// TransferID names the transfer called name in the session whose key is key: 22 base64url
// characters of an HMAC of the name under a key derived from the session key. Every member
// computes the same id; the server learns nothing from it.
func TransferID(key crypto.SessionKey, name string) string {
	derive := hmac.New(sha256.New, key[:])
	derive.Write([]byte(transferIDLabel))
	mac := hmac.New(sha256.New, derive.Sum(nil))
	mac.Write([]byte(name))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}

// Options tune an Exchange. The zero value is ready to use.
type Options struct {
	// RetryWindow is how long one request keeps being retried while it fails for a reason
	// that may pass (the server unreachable or restarting, overloaded, out of quota): 2 minutes
	// when zero. Waits between attempts grow from RetryBase to RetryMax, jittered.
	RetryWindow time.Duration
	// RetryBase and RetryMax bound the waits between attempts (250 ms and 10 s when zero).
	RetryBase, RetryMax time.Duration
	// Poll is how often a recipient reads the state of a transfer it waits for when no push
	// tells it of a new part (5 s when zero): pushes lost in a reconnection are caught up.
	Poll time.Duration
	// Idle is how long a recipient waits for the next part of a transfer that exists but shows
	// no progress before giving up (10 minutes when zero). A transfer not created yet is
	// waited for as long as the context allows: its sender may be busy with others.
	Idle time.Duration
	// MinSlice, MaxSlice and StartSlice bound the adaptive part size, in plain bytes per part
	// (64 KiB to 16 MiB, starting at 1 MiB, when zero).
	MinSlice, MaxSlice, StartSlice int
	// Logger receives retries (debug) and give-ups (warn); nothing when nil.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.RetryWindow <= 0 {
		o.RetryWindow = 2 * time.Minute
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 250 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = max(10*time.Second, o.RetryBase)
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.Idle <= 0 {
		o.Idle = 10 * time.Minute
	}
	if o.MinSlice <= 0 {
		o.MinSlice = minSlice
	}
	if o.MaxSlice <= 0 {
		o.MaxSlice = maxSlice
	}
	o.MaxSlice = min(max(o.MaxSlice, o.MinSlice), maxSlice)
	o.MinSlice = min(o.MinSlice, o.MaxSlice)
	if o.StartSlice <= 0 {
		o.StartSlice = startSlice
	}
	o.StartSlice = min(max(o.StartSlice, o.MinSlice), o.MaxSlice)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Stats count what an Exchange did.
type Stats struct {
	PartsUploaded   int64 // parts stored by an upload of this member
	PartsSkipped    int64 // parts not uploaded because the server already held them
	PartsDownloaded int64 // parts downloaded and opened
	PartsRetried    int64 // failed attempts of any request that were tried again
	BytesSent       int64 // sealed bytes uploaded
	BytesReceived   int64 // sealed bytes downloaded
}
