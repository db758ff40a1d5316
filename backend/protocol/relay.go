package protocol

import (
	"regexp"
	"time"
)

// Relay storage: members move inventories, plans, signatures and file content to each other
// through the server as transfers of sealed parts (AEAD under the session key). The server
// stores opaque bytes: it never sees plaintext, paths or keys.
//
//	POST   /sessions/{id}/transfers                                TransferRequest → 201 TransferState (200 when resumed)
//	GET    /sessions/{id}/transfers/{transfer}                     → TransferState (owner or recipients)
//	DELETE /sessions/{id}/transfers/{transfer}                     → 204 (owner)
//	POST   /sessions/{id}/transfers/{transfer}/parts/{n}/upload    UploadRequest → PartURL (owner)
//	POST   /sessions/{id}/transfers/{transfer}/parts/{n}/download  → PartURL (recipients)
//	POST   /sessions/{id}/transfers/{transfer}/parts/{n}/received  → 204 (recipients)
//	POST   /sessions/{id}/transfers/{transfer}/parts/{n}/uploaded  → 204 (owner, after a PUT to a PartURL with Confirm)
//	POST   /sessions/{id}/transfers/{transfer}/complete            CompleteRequest → 204 (owner)
//	PUT    /relay/{token}                                          the sealed part (Content-Length required) → 204
//	GET    /relay/{token}                                          → the sealed part
//
// A part's bytes are deleted once every recipient still in the session has received it (its
// PartInfo stays, Deleted). A reset, the session's end or its last member quitting deletes
// every transfer of the session; a member that quits takes its own transfers with it.

// TransferKind tells what a transfer carries.
type TransferKind string

const (
	TransferInventory  TransferKind = "inventory"
	TransferPlan       TransferKind = "plan"
	TransferSignatures TransferKind = "signatures"
	TransferContent    TransferKind = "content"
)

// Valid tells whether k is one of the kinds above.
func (k TransferKind) Valid() bool {
	switch k {
	case TransferInventory, TransferPlan, TransferSignatures, TransferContent:
		return true
	}
	return false
}

// TransferIDPattern is the shape of a transfer id: 22 base64url characters (128 bits), chosen by
// the uploader.
var TransferIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// Relay limits.
const (
	MaxPartSize   = 16<<20 + 64 // sealed bytes of one part
	MaxRecipients = MaxMembers - 1
	MaxPartNumber = 1 << 20 // parts are numbered 1…MaxPartNumber
)

// Error codes of the relay routes.
const (
	ErrCodeQuotaExceeded    = "quota_exceeded"    // 507: the session's relay storage is full
	ErrCodeRelayUnavailable = "relay_unavailable" // 503: the server has no relay storage (--storage)
	ErrCodeURLInvalid       = "url_invalid"       // 403: a relay URL that is malformed, forged or used for another method
	ErrCodeURLExpired       = "url_expired"       // 403: a relay URL past its expiry: ask for a new one
	ErrCodePartReceived     = "part_received"     // 409: the part was received already and cannot be replaced
	ErrCodeLengthRequired   = "length_required"   // 411: an upload without Content-Length
)

// TransferRequest creates a transfer, or resumes it when the same owner sends it again with the
// same kind and recipients.
type TransferRequest struct {
	ID         string       `json:"id"`
	Kind       TransferKind `json:"kind"`
	Recipients []string     `json:"recipients"` // instance ids: 1 to MaxRecipients other members
}

// PartInfo is an uploaded part, numbered from 1. Deleted: every recipient had it and its bytes
// are gone.
type PartInfo struct {
	N        int      `json:"n"`
	Size     int64    `json:"size"`
	Received []string `json:"received"`
	Deleted  bool     `json:"deleted"`
}

// TransferState is a transfer as its owner and recipients see it; Parts lists the uploaded
// parts in order. TotalParts is set once the owner completed the transfer.
type TransferState struct {
	ID         string       `json:"id"`
	Kind       TransferKind `json:"kind"`
	Owner      string       `json:"owner"`
	Recipients []string     `json:"recipients"`
	Parts      []PartInfo   `json:"parts"`
	Complete   bool         `json:"complete"`
	TotalParts int          `json:"totalParts"`
}

// UploadRequest asks for the URL to upload a part of Size sealed bytes; the URL takes exactly
// that many bytes.
type UploadRequest struct {
	Size int64 `json:"size"`
}

// CompleteRequest tells that the transfer has Parts parts, all uploaded.
type CompleteRequest struct {
	Parts int `json:"parts"`
}

// PartURL is a short-lived URL for one part, one method and one member. URL is relative to the
// API root (e.g. "relay/TOKEN" for APIPrefix+"/relay/TOKEN") unless it is absolute; it needs no
// access token.
//
// A server whose relay storage is a bucket gives absolute presigned URLs of the bucket: they take
// no Authorization header, and an upload URL has Confirm set: the owner then tells the server
// with POST …/parts/{n}/uploaded, which checks the object's size and counts the part stored.
type PartURL struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
	Confirm bool      `json:"confirm,omitempty"`
}

// PartUploaded is the data of part_uploaded, pushed to the recipients when a part is stored.
type PartUploaded struct {
	Transfer string       `json:"transfer"`
	Kind     TransferKind `json:"kind"`
	Owner    string       `json:"owner"`
	Part     int          `json:"part"`
	Size     int64        `json:"size"`
}

// TransferCompleted is the data of transfer_completed, pushed to the recipients when the owner
// completes a transfer.
type TransferCompleted struct {
	Transfer string       `json:"transfer"`
	Kind     TransferKind `json:"kind"`
	Owner    string       `json:"owner"`
	Parts    int          `json:"parts"`
}
