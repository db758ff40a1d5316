// Package protocol holds the wire types shared by the session server and its clients: JSON
// bodies of the HTTP API under /api/v1/, push events, member statuses. The server never sees file
// content, paths, passwords or keys: everything a member shares is an opaque encrypted Blob.
package protocol

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Version is the protocol version. A client whose version differs is refused at login with
// ErrCodeVersion and both versions in the message.
const Version = 1

// APIPrefix is the root of every HTTP route.
const APIPrefix = "/api/v1"

// Limits the server enforces.
const (
	MaxMembers     = 5
	MaxNodes       = 5
	MaxBodyBytes   = 1 << 20  // any request body
	MaxBlobBytes   = 64 << 10 // one encrypted blob (settings, private data, node, source)
	MaxSourcesNode = 64
)

// SessionIDPattern is the shape of a session id, e.g. "042kqd917".
var SessionIDPattern = regexp.MustCompile(`^[0-9]{3}[a-z]{3}[0-9]{3}$`)

// Blob is data encrypted by the members with the session key; the server stores and relays it
// without reading it. It travels as base64.
type Blob []byte

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	Code    string `json:"code"`    // one of the ErrCode constants
	Message string `json:"message"` // for people
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Error codes.
const (
	ErrCodeBadRequest    = "bad_request"    // 400: malformed JSON, bad field, body too large (413)
	ErrCodeUnauthorized  = "unauthorized"   // 401: no, bad or expired token
	ErrCodeForbidden     = "forbidden"      // 403: a member acting for another member or beyond its role
	ErrCodeNotFound      = "not_found"      // 404: unknown session (or not the caller's), member, node or source
	ErrCodeConflict      = "conflict"       // 409: not allowed in the session's state (activated…)
	ErrCodeVersion       = "version"        // 426: protocol version mismatch at login
	ErrCodeTooLarge      = "too_large"      // 413
	ErrCodeInternal      = "internal"       // 500: never for bad input
	ErrCodeLimit         = "limit"          // 409: too many members, nodes or sources
	ErrCodeInvalidStatus = "invalid_status" // 400: unknown member status name
	ErrCodeRateLimited   = "rate_limited"   // 429: too many requests from one client: wait (Retry-After)
	ErrCodeSessionLimit  = "session_limit"  // 429: the client has as many sessions as the server allows
	ErrCodeBodyTimeout   = "body_timeout"   // 408: the request body arrived too slowly
	ErrCodeBusy          = "busy"           // 503: the server is busy with other large requests: retry (Retry-After)
	ErrCodeUnavailable   = "unavailable"    // 503: the server's store cannot be reached: retry (Retry-After)

	ErrCodeSessionFull      = JoinSessionFull      // 409: a join into a session of MaxMembers members
	ErrCodeInventoryStarted = JoinInventoryStarted // 409: a join after the inventory started
)

// --- authentication ---

// ChallengeRequest starts a login: POST /api/v1/auth/challenge.
type ChallengeRequest struct {
	PublicKey []byte `json:"public_key"` // Ed25519, 32 bytes
}

// Challenge is a single-use nonce to sign, valid for a short time.
type Challenge struct {
	Nonce   []byte    `json:"nonce"`
	Expires time.Time `json:"expires"`
}

// LoginRequest proves possession of the key: POST /api/v1/auth/login. Signature is the Ed25519
// signature of LoginMessage(Nonce, InstanceID, ProtocolVersion).
type LoginRequest struct {
	PublicKey       []byte `json:"public_key"`
	InstanceID      string `json:"instance_id"` // new at every process start
	ProtocolVersion int    `json:"protocol_version"`
	Nonce           []byte `json:"nonce"`
	Signature       []byte `json:"signature"`
	MachineOS       string `json:"os,omitempty"`
}

// LoginMessage is what a client signs to log in.
func LoginMessage(nonce []byte, instanceID string, version int) []byte {
	return fmt.Appendf(nil, "ferry-login\x00%d\x00%s\x00%x", version, instanceID, nonce)
}

// Tokens are issued at login and refresh. The access token is short-lived and HMAC-signed; the
// refresh token rotates: each one works once.
type Tokens struct {
	ClientID      string    `json:"client_id"` // derived from the public key
	InstanceID    string    `json:"instance_id"`
	AccessToken   string    `json:"access_token"`
	AccessExpires time.Time `json:"access_expires"`
	RefreshToken  string    `json:"refresh_token"`
}

// RefreshRequest trades a refresh token for new tokens: POST /api/v1/auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// --- invitations ---

// A multi-member profile's member that runs it leaves an invitation for the profile's other
// members under a key only they can derive (PUT /api/v1/invitations/{key}); they read it (GET)
// and join the session it names. The sealed bytes hold the session and its password, sealed and
// signed by the members; the server keeps them for the guests it lists and nobody else.

// MaxInvitationTTL is the longest an invitation is kept; DefaultInvitationTTL when none is asked.
const (
	MaxInvitationTTL     = 24 * time.Hour
	DefaultInvitationTTL = time.Hour
	MaxInvitationBytes   = 8 << 10
)

// InvitationKeyPattern is the shape of an invitation key: 32 bytes in unpadded base64url.
// ClientIDPattern is the shape of a client id.
var (
	InvitationKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	ClientIDPattern      = regexp.MustCompile(`^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$`)
)

// InvitationPut leaves or replaces an invitation. Only its host (the client that left it) may
// replace or delete it while it lasts.
type InvitationPut struct {
	Guests     []string `json:"guests"` // client ids that may read it, at most MaxMembers-1
	Sealed     Blob     `json:"sealed"`
	TTLSeconds int      `json:"ttl_s,omitempty"`
}

// Invitation is an invitation as its host and guests read it.
type Invitation struct {
	Host    string    `json:"host"` // client id of the member that left it
	Guests  []string  `json:"guests"`
	Sealed  Blob      `json:"sealed"`
	Expires time.Time `json:"expires"`
}

// --- sessions ---

// CreateSessionRequest: POST /api/v1/sessions. The caller becomes the first member.
type CreateSessionRequest struct {
	Settings    Blob `json:"settings"`
	PrivateData Blob `json:"private_data"` // the member's machine name, encrypted
}

// Session is the server's view of a session, as its members see it.
type Session struct {
	ID                string    `json:"id"`
	Created           time.Time `json:"created"`
	Settings          Blob      `json:"settings"`
	SettingsVersion   int64     `json:"settings_version"`
	InventoryStarted  bool      `json:"inventory_started"`
	Members           []Member  `json:"members"` // in join order: A, B, C…
	SynchronizationID string    `json:"synchronization_id,omitempty"`
}

// Member is one client instance in a session.
type Member struct {
	InstanceID  string       `json:"instance_id"`
	ClientID    string       `json:"client_id"`
	Letter      string       `json:"letter"`
	Joined      time.Time    `json:"joined"`
	PrivateData Blob         `json:"private_data,omitempty"`
	Status      MemberStatus `json:"status"`
	StatusAt    time.Time    `json:"status_at"`
	Present     bool         `json:"present"` // holds a push connection (or lost it less than the presence timeout ago)
	Nodes       []DataNode   `json:"nodes"`
}

// DataNode is a member's node: an id the member chose and its encrypted description.
type DataNode struct {
	ID      string       `json:"id"`
	Data    Blob         `json:"data"`
	Sources []DataSource `json:"sources"`
}

// DataSource is an encrypted data source of a node.
type DataSource struct {
	ID   string `json:"id"`
	Data Blob   `json:"data"`
}

// NodeIDPattern and SourceIDPattern bound the ids members choose.
var (
	NodeIDPattern   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	SourceIDPattern = NodeIDPattern
)

// StatusUpdate: PUT /api/v1/sessions/{id}/members/{instance}/status. Newest At wins; an older
// one is accepted and ignored (Applied false).
type StatusUpdate struct {
	Status MemberStatus `json:"status"`
	At     time.Time    `json:"at"`
}

// StatusResult answers a status update.
type StatusResult struct {
	Applied bool `json:"applied"`
}

// SettingsUpdate: PUT /api/v1/sessions/{id}/settings; refused with 409 once the inventory started.
type SettingsUpdate struct {
	Settings Blob `json:"settings"`
}

// NodeRequest: POST /api/v1/sessions/{id}/members/{instance}/nodes (add or replace by id).
type NodeRequest struct {
	ID   string `json:"id"`
	Data Blob   `json:"data"`
}

// SourceRequest: POST /api/v1/sessions/{id}/members/{instance}/nodes/{node}/sources.
type SourceRequest struct {
	ID   string `json:"id"`
	Data Blob   `json:"data"`
}

// StartInventoryResult: POST /api/v1/sessions/{id}/inventory/start. A refusal is a 409 with
// one of the InventoryRefusal codes as Error.Code.
type StartInventoryResult struct {
	Started bool `json:"started"`
}

// Reasons the inventory cannot start (ByteSync's validation matrix; one member with 2–5 nodes is
// allowed).
const (
	RefuseTooManyMembers    = "too_many_members"
	RefuseTooFewNodes       = "too_few_nodes"  // fewer than 2 data nodes in the session
	RefuseTooManyNodes      = "too_many_nodes" // more than 5
	RefuseMemberWithoutNode = "member_without_node"
	RefuseNodeWithoutSource = "node_without_source"
	RefuseAlreadyStarted    = "already_started"
)

// Session routes (relative to APIPrefix):
//
//	POST   /auth/challenge                                    ChallengeRequest → Challenge
//	POST   /auth/login                                        LoginRequest → Tokens
//	POST   /auth/refresh                                      RefreshRequest → Tokens
//	POST   /sessions                                          CreateSessionRequest → Session
//	GET    /sessions/{id}                                     → Session
//	POST   /sessions/{id}/quit                                → 204
//	POST   /sessions/{id}/reset                               → Session
//	PUT    /sessions/{id}/settings                            SettingsUpdate → Session
//	PUT    /sessions/{id}/members/{instance}/status           StatusUpdate → StatusResult
//	POST   /sessions/{id}/members/{instance}/nodes            NodeRequest → Session
//	DELETE /sessions/{id}/members/{instance}/nodes/{node}     → Session
//	POST   /sessions/{id}/members/{instance}/nodes/{node}/sources           SourceRequest → Session
//	DELETE /sessions/{id}/members/{instance}/nodes/{node}/sources/{source}  → Session
//	POST   /sessions/{id}/inventory/start                     → StartInventoryResult
//	POST   /sessions/{id}/join                                JoinRequest → JoinTicket
//	POST   /sessions/{id}/join/{ticket}/challenge             JoinChallengeRequest → 204 (the oldest member only)
//	POST   /sessions/{id}/join/{ticket}/proof                 JoinProofRequest → 204 (the ticket's joiner only)
//	POST   /sessions/{id}/join/{ticket}/admit                 AdmitRequest → 204 (the oldest member only)
//	POST   /sessions/{id}/join/{ticket}/refuse                RefuseRequest → 204 (the oldest member only)
//	GET    /push                                              websocket: Hello from client, then Events
//	…/sessions/{id}/synchronization/…                         the synchronization (server path)
//
// Every route but /auth/* needs "Authorization: Bearer <access token>".

// Joining, end to end (backend/crypto holds the cryptography):
//
//  1. The joiner asks (JoinRequest) with its identity key and a fresh join key signed by it. The
//     server checks that the identity key is the caller's (its client id derives from it) and the
//     signature, then tells the oldest member (join_requested).
//  2. The oldest member, the validator, checks the joiner's key against its trust store and sends
//     a challenge signed by its identity (JoinChallengeRequest): the session's password salt and
//     Argon2id parameters, a nonce and a proof key. The server checks the signature and that the
//     identity key is the caller's, and pushes it to the joiner only (join_challenge). One
//     challenge per join request.
//  3. The joiner checks the validator's key against its own trust store and the signature, and
//     answers with its password proof sealed to the proof key (JoinProofRequest), pushed to the
//     oldest member only (join_proof). One answer per challenge: another try needs another join
//     request.
//  4. The validator checks the proof and admits (AdmitRequest) with the session key wrapped for
//     the join key and signed by its identity, or refuses (RefuseRequest) with a code. The server
//     checks that signature against the caller's identity key and the join it names, checks the
//     limits again, and pushes the admission to the joiner only (join_admitted).
//
// The server never sees the password, a password proof it could test guesses against, or the
// session key.

// JoinRequest asks to join a session: POST /api/v1/sessions/{id}/join.
type JoinRequest struct {
	IdentityKey      []byte `json:"identity_key"`       // the joiner's Ed25519 identity key
	JoinKey          []byte `json:"join_key"`           // X25519, fresh for this request
	JoinKeySignature []byte `json:"join_key_signature"` // crypto.SignJoinKey by the identity key
}

// JoinTicket identifies a pending join.
type JoinTicket struct {
	Ticket string `json:"ticket"`
}

// PasswordParams are the Argon2id costs of the session password (crypto.PasswordParams).
type PasswordParams struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

// JoinChallengeRequest: POST /api/v1/sessions/{id}/join/{ticket}/challenge, by the oldest member;
// pushed to the joiner only as join_challenge (JoinChallenge).
type JoinChallengeRequest struct {
	IdentityKey []byte         `json:"identity_key"` // the validator's Ed25519 identity key
	Salt        []byte         `json:"salt"`
	Params      PasswordParams `json:"params"`
	Nonce       []byte         `json:"nonce"`
	ProofKey    []byte         `json:"proof_key"`
	Signature   []byte         `json:"signature"` // crypto.JoinChallenge.Signature
}

// JoinProofRequest: POST /api/v1/sessions/{id}/join/{ticket}/proof, by the ticket's joiner;
// pushed to the oldest member only as join_proof (JoinProof). Proof is sealed to the challenge's
// proof key.
type JoinProofRequest struct {
	Proof []byte `json:"proof"`
}

// MaxProofBytes bounds a sealed password proof.
const MaxProofBytes = 256

// AdmitRequest lets the joiner in: POST /api/v1/sessions/{id}/join/{ticket}/admit. WrappedKey is
// the session key wrapped for the join (crypto.WrapSessionKey), signed by IdentityKey, the
// validator's; the server refuses one that does not verify. It reaches the joiner alone
// (join_admitted).
type AdmitRequest struct {
	IdentityKey []byte `json:"identity_key"`
	WrappedKey  []byte `json:"wrapped_key"`
}

// RefuseRequest turns a joiner away (join_refused): Code is one of the Join… codes below (or
// another short snake_case word), Reason is for people.
type RefuseRequest struct {
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason"`
}

// RefusalCodePattern is the shape of RefuseRequest.Code.
var RefusalCodePattern = regexp.MustCompile(`^[a-z][a-z_]{0,31}$`)

// Why a join was refused (RefuseRequest.Code, JoinRefused.Code). The validator refuses with the
// first ones; the server with the last ones, when it turns a join away itself.
const (
	JoinWrongPassword    = "wrong_password"    // the password proof did not match
	JoinBadProof         = "bad_proof"         // the sealed proof did not open: tampered on the way
	JoinUntrustedKey     = "untrusted_key"     // a new identity key the validator's user did not accept
	JoinKeyChanged       = "key_changed"       // a known client id came with another identity key
	JoinBadSignature     = "bad_signature"     // the join key's signature does not verify
	JoinTooManyAttempts  = "too_many_attempts" // the validator saw too many failed proofs in this session
	JoinDeclined         = "declined"          // the validator's user said no
	JoinAdmitFailed      = "admit_failed"      // the validator could not admit
	JoinSessionFull      = "session_full"      // MaxMembers members already (server)
	JoinInventoryStarted = "inventory_started" // no joins once the inventory started (server)
	JoinValidatorLeft    = "validator_left"    // the oldest member left before deciding (server)
	JoinSessionClosed    = "session_closed"    // the last member left (server)
)

// --- push ---

// Hello is the first websocket message from the client: the sessions it follows. A reconnect
// sends it again; the client then reads the sessions again (GET) to catch up on what it missed.
type Hello struct {
	AccessToken string   `json:"access_token"`
	Sessions    []string `json:"sessions"`
}

// EventType names a push event.
type EventType string

const (
	EventMemberJoined     EventType = "member_joined"
	EventMemberQuit       EventType = "member_quit"
	EventMemberAbsent     EventType = "member_absent"  // push connection gone longer than the presence timeout
	EventMemberPresent    EventType = "member_present" // back
	EventStatusUpdated    EventType = "status_updated"
	EventSettingsUpdated  EventType = "settings_updated"
	EventNodeAdded        EventType = "node_added"
	EventNodeRemoved      EventType = "node_removed"
	EventSourceAdded      EventType = "source_added"
	EventSourceRemoved    EventType = "source_removed"
	EventInventoryStarted EventType = "inventory_started"
	EventSessionReset     EventType = "session_reset"
	EventJoinRequested    EventType = "join_requested"                  // to the oldest member
	EventJoinAdmitted     EventType = "join_admitted"                   // to the joiner
	EventJoinRefused      EventType = "join_refused"                    // to the joiner
	EventJoinChallenge    EventType = "join_challenge"                  // to the joiner
	EventJoinProof        EventType = "join_proof"                      // to the oldest member
	EventSubscribed       EventType = "subscribed"                      // answer to Hello
	EventSyncStarted      EventType = "synchronization_started"         // Synchronization
	EventSyncProgress     EventType = "synchronization_progress"        // SyncProgress
	EventSyncAbortRequest EventType = "synchronization_abort_requested" // Synchronization
	EventSyncEnded        EventType = "synchronization_ended"           // Synchronization
)

// Event is one push. Session events go to every member of the session (the one who caused it
// included; clients skip their own by Member); client events go to one client instance.
type Event struct {
	Type    EventType       `json:"type"`
	Session string          `json:"session,omitempty"`
	Member  string          `json:"member,omitempty"` // instance the event is about (or that caused it)
	At      time.Time       `json:"at"`
	Data    json.RawMessage `json:"data,omitempty"` // per type: Member, StatusUpdate, DataNode…
}
