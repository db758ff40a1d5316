package protocol

import "regexp"

// InstanceIDPattern is the shape of a client instance id (LoginRequest.InstanceID).
var InstanceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// TicketPattern is the shape of a join ticket.
var TicketPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// Further limits the server enforces.
const (
	MaxHelloSessions = 32  // sessions one Hello may follow
	MaxPendingJoins  = 16  // join requests waiting in one session
	MaxReasonBytes   = 512 // RefuseRequest.Reason
	MaxMachineOS     = 32  // LoginRequest.MachineOS
)

// Event.Data by event type. Session events carry the session id in Event.Session and the member
// the event is about (or that caused it) in Event.Member.
//
//	member_joined, member_quit         Member (as it was when it quit, nodes included)
//	member_absent, member_present      none (Event.Member)
//	status_updated                     StatusUpdate (the one applied)
//	settings_updated                   SettingsUpdated
//	node_added                         DataNode (sources included)
//	node_removed                       DataNode (as it was, sources included)
//	source_added, source_removed       SourceEvent
//	inventory_started, session_reset   Session
//	join_requested                     JoinRequested (to the oldest member only)
//	join_admitted                      JoinAdmitted (to the joiner only)
//	join_refused                       JoinRefused (to the joiner only)
//	join_challenge                     JoinChallenge (to the joiner only)
//	join_proof                         JoinProof (to the oldest member only)
//	subscribed                         Subscribed (answer to Hello)
//	part_uploaded                      PartUploaded (to the transfer's recipients only)
//	transfer_completed                 TransferCompleted (to the transfer's recipients only)

// Relay events (see relay.go).
const (
	EventPartUploaded      EventType = "part_uploaded"
	EventTransferCompleted EventType = "transfer_completed"
)

// SettingsUpdated is the data of settings_updated.
type SettingsUpdated struct {
	Settings        Blob  `json:"settings"`
	SettingsVersion int64 `json:"settings_version"`
}

// SourceEvent is the data of source_added and source_removed.
type SourceEvent struct {
	Node   string     `json:"node"`
	Source DataSource `json:"source"`
}

// JoinRequested tells the oldest member that someone asks to join; the server checked that
// IdentityKey is the joiner's (ClientID derives from it) and that it signed JoinKey.
type JoinRequested struct {
	Ticket           string `json:"ticket"`
	InstanceID       string `json:"instance_id"`
	ClientID         string `json:"client_id"`
	IdentityKey      []byte `json:"identity_key"`
	JoinKey          []byte `json:"join_key"`
	JoinKeySignature []byte `json:"join_key_signature"`
}

// JoinChallenge brings the validator's challenge to the joiner; the server checked that
// IdentityKey is the oldest member's and that it signed the challenge.
type JoinChallenge struct {
	Ticket string `json:"ticket"`
	JoinChallengeRequest
}

// JoinProof brings the joiner's sealed answer to the oldest member.
type JoinProof struct {
	Ticket string `json:"ticket"`
	Proof  []byte `json:"proof"`
}

// JoinAdmitted tells the joiner it is a member: WrappedKey is the session key wrapped for its
// join key by IdentityKey, the admitting member (the server checked the signature).
type JoinAdmitted struct {
	Ticket      string `json:"ticket"`
	IdentityKey []byte `json:"identity_key"`
	WrappedKey  []byte `json:"wrapped_key"`
}

// JoinRefused tells the joiner it was turned away (by the oldest member, or by the server because
// the session is full, its inventory started, it closed, or its oldest member left before
// deciding). Code is one of the Join… codes.
type JoinRefused struct {
	Ticket string `json:"ticket"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason"`
}

// Subscribed answers a Hello: the sessions followed and those refused (unknown, or neither a
// member nor a pending joiner). A pending joiner receives only the events addressed to it until
// it is admitted.
type Subscribed struct {
	Sessions []string `json:"sessions"`
	Refused  []string `json:"refused,omitempty"`
}

// Close codes of the push websocket, besides the standard ones (1001 going away: the server
// stops; 1013 try again later: the client did not keep up with its pushes).
const (
	CloseBadHello     = 4400 // the Hello was not valid or broke a limit
	CloseUnauthorized = 4401 // no, bad or expired access token in a Hello
	CloseForbidden    = 4403 // a later Hello named another client instance
)
