package protocol

import (
	"slices"
	"time"
)

// Synchronization routes (relative to APIPrefix), server-orchestrated sessions only; a session
// with one member orchestrates locally and never calls them:
//
//	POST /sessions/{id}/synchronization/start     StartSynchronization → Synchronization (201)
//	GET  /sessions/{id}/synchronization           → Synchronization
//	POST /sessions/{id}/synchronization/results   ActionResults → SyncProgress
//	POST /sessions/{id}/synchronization/finished  → Synchronization (the caller ran its groups)
//	POST /sessions/{id}/synchronization/abort     → Synchronization
//
// The server pushes EventSyncStarted, EventSyncProgress, EventSyncAbortRequest and
// EventSyncEnded to the members of the run.

// Target is one target of an action group: a member's data node. One target is one atomic
// action for the counters.
type Target struct {
	Member string `json:"member"`
	Node   string `json:"node"`
}

// GroupDefinition is what the server knows of an action group: no path, no content.
type GroupDefinition struct {
	ID string `json:"id"` // AGID_n
	Op string `json:"op"` // copy, copy-content, copy-dates, create, delete
	// Source is the member that reads the content, for content copies only (a copy whose
	// content is already identical is a dates copy and has none).
	Source  string   `json:"source,omitempty"`
	Targets []Target `json:"targets"`
	Size    int64    `json:"size,omitempty"` // source size, content copies
}

// StartSynchronization starts the run with every group of the plan, all members' included.
type StartSynchronization struct {
	Groups []GroupDefinition `json:"groups"`
}

// ResultKind is what happened to an action.
type ResultKind string

const (
	ResultCopied      ResultKind = "copied"       // content (and dates) written on the target
	ResultDatesCopied ResultKind = "dates_copied" // dates set on the target
	ResultCreated     ResultKind = "created"
	ResultDeleted     ResultKind = "deleted"
	ResultFailed      ResultKind = "failed"
)

// ActionResult reports one group on the caller's targets. Node names one target node; empty
// means every target of the caller. Failed with Source set reports that the source could not be
// read: every target not decided yet fails.
type ActionResult struct {
	Group  string     `json:"group"`
	Kind   ResultKind `json:"kind"`
	Node   string     `json:"node,omitempty"`
	Source bool       `json:"source,omitempty"`
	Bytes  int64      `json:"bytes,omitempty"` // transferred by a copy (the delta's size for a delta)
}

// ActionResults is a batch of results. Reporting a result again changes nothing, so a batch
// whose answer was lost may be sent again.
type ActionResults struct {
	Results []ActionResult `json:"results"`
}

// EndStatus is how a run ended.
type EndStatus string

const (
	EndRegular EndStatus = "regular"
	EndAborted EndStatus = "aborted"
	EndError   EndStatus = "error" // a member quit or went away mid-run
)

// Progress are the run's counters. Version increases with every change.
type Progress struct {
	Version          int64    `json:"version"`
	TotalActions     int      `json:"total_actions"` // targets of every group
	FinishedActions  int      `json:"finished_actions"`
	ErrorActions     int      `json:"error_actions"`
	UploadedVolume   int64    `json:"uploaded_volume"`
	DownloadedVolume int64    `json:"downloaded_volume"`
	LocalCopyVolume  int64    `json:"local_copy_volume"` // bytes that local copies transferred
	SyncedVolume     int64    `json:"synced_volume"`     // size of the content now synchronized
	TotalVolume      int64    `json:"total_volume"`      // size of every content copy, per target
	Members          []string `json:"members"`           // the session's members at start
	CompletedMembers []string `json:"completed_members"` // those that ran all their groups
}

// AllActionsDone tells whether every target is decided.
func (p *Progress) AllActionsDone() bool { return p.FinishedActions >= p.TotalActions }

// AllMembersCompleted tells whether every member ran all its groups.
func (p *Progress) AllMembersCompleted() bool {
	for _, m := range p.Members {
		if !slices.Contains(p.CompletedMembers, m) {
			return false
		}
	}
	return true
}

// Synchronization is one run of a session.
type Synchronization struct {
	Session          string     `json:"session"`
	Started          time.Time  `json:"started"`
	StartedBy        string     `json:"started_by"`
	AbortRequested   *time.Time `json:"abort_requested,omitempty"`
	AbortRequestedBy []string   `json:"abort_requested_by,omitempty"`
	Ended            *time.Time `json:"ended,omitempty"`
	EndStatus        EndStatus  `json:"end_status,omitempty"`
	EndReason        string     `json:"end_reason,omitempty"` // why an error ended it
	Progress         Progress   `json:"progress"`
}

// IsEnded and IsAbortRequested mirror the timestamps.
func (s *Synchronization) IsEnded() bool          { return s.Ended != nil }
func (s *Synchronization) IsAbortRequested() bool { return s.AbortRequested != nil }

// GroupSummary is the state of a group that just changed.
type GroupSummary struct {
	Group   string `json:"group"`
	Success bool   `json:"success,omitempty"`
	Error   bool   `json:"error,omitempty"`
}

// SyncProgress is the data of EventSyncProgress and the answer to a results batch.
type SyncProgress struct {
	Progress Progress       `json:"progress"`
	Groups   []GroupSummary `json:"groups,omitempty"`
}
