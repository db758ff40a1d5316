package relay

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// A bucket of S3-compatible object storage keeps the parts' bytes instead of the storage
// folder: members upload and download them directly with presigned URLs, and the server keeps
// only the bookkeeping (transfers, parts, receipts, sizes) in its folder. A part's object is
// {prefix}{session}/{transfer}/{n}.

// partBytes is where parts' bytes live: the storage folder (streamed through the server) or a
// bucket (moved directly by the members).
type partBytes interface {
	// direct tells whether members move the bytes themselves, with presigned URLs.
	direct() bool
	// remove deletes part n's bytes; a missing part is no error.
	remove(ctx context.Context, dir, session, transfer string, n int) error
	// removeTransfer deletes the bytes of every part of a transfer.
	removeTransfer(ctx context.Context, session, transfer string) error
	// removeSession deletes the bytes of every part of a session.
	removeSession(ctx context.Context, session string) error
}

// folderBytes keeps parts beside their metadata; deleting a transfer or a session moves its
// folder, bytes included, to the trash.
type folderBytes struct{}

func (folderBytes) direct() bool { return false }

func (folderBytes) remove(_ context.Context, dir, _, _ string, n int) error {
	if err := removeFile(partPath(dir, n)); err != nil {
		return fmt.Errorf("delete part %d: %w", n, err)
	}
	return nil
}

func (folderBytes) removeTransfer(context.Context, string, string) error { return nil }
func (folderBytes) removeSession(context.Context, string) error          { return nil }

// Bucket is a bucket (and a key prefix in it) of S3-compatible object storage.
type Bucket struct {
	client *minio.Client
	name   string
	prefix string // "" or ending in "/"
}

// BucketConfig says which bucket and how to reach it.
type BucketConfig struct {
	// URL is s3://BUCKET/PREFIX?endpoint=URL&region=REGION; without endpoint, AWS S3.
	URL string
	// Creds, when nil, come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, then
	// the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE).
	Creds *credentials.Credentials
	// Transport for the server's own calls (stat, delete, list); http.DefaultTransport when nil.
	Transport http.RoundTripper
}

// IsBucketURL tells whether a --storage value names a bucket rather than a folder.
func IsBucketURL(s string) bool { return strings.HasPrefix(s, "s3://") }

// OpenBucket opens a bucket and checks that it exists and the credentials reach it.
func OpenBucket(ctx context.Context, cfg BucketConfig) (*Bucket, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("relay: bucket %q: want s3://BUCKET/PREFIX?endpoint=URL&region=REGION", cfg.URL)
	}
	q := u.Query()
	for k := range q {
		if k != "endpoint" && k != "region" {
			return nil, fmt.Errorf("relay: bucket %s: unknown parameter %q (want endpoint, region)", u.Host, k)
		}
	}
	endpoint, secure, pathStyle := "s3.amazonaws.com", true, false
	if e := q.Get("endpoint"); e != "" {
		eu, err := url.Parse(e)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" || (eu.Path != "" && eu.Path != "/") {
			return nil, fmt.Errorf("relay: bucket endpoint %q: want http(s)://HOST[:PORT]", e)
		}
		endpoint, secure, pathStyle = eu.Host, eu.Scheme == "https", true
	}
	creds := cfg.Creds
	if creds == nil {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
		})
	}
	lookup := minio.BucketLookupDNS
	if pathStyle {
		lookup = minio.BucketLookupPath // SeaweedFS, MinIO and the like on their own host
	}
	region := q.Get("region")
	if region == "" && pathStyle {
		region = "us-east-1" // no lookup of the location on a self-hosted endpoint
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds: creds, Secure: secure, Region: region, BucketLookup: lookup, Transport: cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("relay: bucket %s: %w", u.Host, err)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	b := &Bucket{client: client, name: u.Host, prefix: prefix}
	ok, err := client.BucketExists(ctx, b.name)
	if err != nil {
		return nil, fmt.Errorf("relay: reach bucket %s at %s (check the endpoint and the credentials): %w", b.name, endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("relay: bucket %s does not exist at %s: create it first", b.name, endpoint)
	}
	return b, nil
}

func (b *Bucket) direct() bool { return true }

// String names the bucket for logs.
func (b *Bucket) String() string { return "s3://" + b.name + "/" + b.prefix }

func (b *Bucket) key(session, transfer string, n int) string {
	return b.prefix + session + "/" + transfer + "/" + strconv.Itoa(n)
}

// presignPut is a URL that stores exactly size bytes as part n: the Content-Length is signed.
func (b *Bucket) presignPut(ctx context.Context, session, transfer string, n int, size int64, ttl time.Duration) (string, error) {
	ttl = max(ttl, time.Second) // the shortest a presigned URL may live
	h := http.Header{}
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	u, err := b.client.PresignHeader(ctx, http.MethodPut, b.name, b.key(session, transfer, n), ttl, nil, h)
	if err != nil {
		return "", fmt.Errorf("sign an upload URL for bucket %s: %w", b.name, err)
	}
	return u.String(), nil
}

func (b *Bucket) presignGet(ctx context.Context, session, transfer string, n int, ttl time.Duration) (string, error) {
	ttl = max(ttl, time.Second)
	u, err := b.client.Presign(ctx, http.MethodGet, b.name, b.key(session, transfer, n), ttl, nil)
	if err != nil {
		return "", fmt.Errorf("sign a download URL for bucket %s: %w", b.name, err)
	}
	return u.String(), nil
}

// size is the bytes of part n's object; errObjectMissing when there is none.
func (b *Bucket) size(ctx context.Context, session, transfer string, n int) (int64, error) {
	info, err := b.client.StatObject(ctx, b.name, b.key(session, transfer, n), minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return 0, errObjectMissing
		}
		return 0, fmt.Errorf("read the size of part %d of transfer %s in bucket %s: %w", n, transfer, b.name, err)
	}
	return info.Size, nil
}

var errObjectMissing = errors.New("no such object")

func (b *Bucket) remove(ctx context.Context, _, session, transfer string, n int) error {
	if err := b.client.RemoveObject(ctx, b.name, b.key(session, transfer, n), minio.RemoveObjectOptions{}); err != nil &&
		minio.ToErrorResponse(err).StatusCode != http.StatusNotFound {
		return fmt.Errorf("delete part %d of transfer %s from bucket %s: %w", n, transfer, b.name, err)
	}
	return nil
}

func (b *Bucket) removeTransfer(ctx context.Context, session, transfer string) error {
	return b.removePrefix(ctx, b.prefix+session+"/"+transfer+"/")
}

func (b *Bucket) removeSession(ctx context.Context, session string) error {
	return b.removePrefix(ctx, b.prefix+session+"/")
}

// removePrefix deletes every object under prefix.
func (b *Bucket) removePrefix(ctx context.Context, prefix string) error {
	objects := b.client.ListObjects(ctx, b.name, minio.ListObjectsOptions{Prefix: prefix, Recursive: true})
	var errs []error
	for o := range objects {
		if o.Err != nil {
			errs = append(errs, o.Err)
			continue
		}
		if err := b.client.RemoveObject(ctx, b.name, o.Key, minio.RemoveObjectOptions{}); err != nil &&
			minio.ToErrorResponse(err).StatusCode != http.StatusNotFound {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete the objects under %s in bucket %s: %w", prefix, b.name, err)
	}
	return nil
}

// object is a part's object as a sweep sees it.
type object struct {
	session, transfer string
	n                 int
	modified          time.Time
}

// objects lists the parts' objects under the prefix; keys of another shape are skipped.
func (b *Bucket) objects(ctx context.Context, fn func(object) error) error {
	for o := range b.client.ListObjects(ctx, b.name, minio.ListObjectsOptions{Prefix: b.prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("list bucket %s: %w", b.name, o.Err)
		}
		parts := strings.Split(strings.TrimPrefix(o.Key, b.prefix), "/")
		if len(parts) != 3 {
			continue
		}
		n, ok := partNumber(parts[2], "")
		if !ok || checkIDs(parts[0], parts[1]) != nil {
			continue
		}
		if err := fn(object{session: parts[0], transfer: parts[1], n: n, modified: o.LastModified}); err != nil {
			return err
		}
	}
	return nil
}
