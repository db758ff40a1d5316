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
//	subscribed                         Subscribed (answer to Hello)

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

// JoinRequested tells the oldest member that someone asks to join.
type JoinRequested struct {
	Ticket     string `json:"ticket"`
	InstanceID string `json:"instance_id"`
	ClientID   string `json:"client_id"`
	Payload    Blob   `json:"payload,omitempty"`
}

// JoinAdmitted tells the joiner it is a member; Payload is the admitting member's AdmitRequest
// payload.
type JoinAdmitted struct {
	Ticket  string `json:"ticket"`
	Payload Blob   `json:"payload,omitempty"`
}

// JoinRefused tells the joiner it was turned away (by the oldest member, or because the session
// closed or its oldest member left before deciding).
type JoinRefused struct {
	Ticket string `json:"ticket"`
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
