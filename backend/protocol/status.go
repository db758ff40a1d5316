package protocol

import (
	"encoding/json"
	"fmt"
)

// MemberStatus is where a member stands; it travels as its name.
type MemberStatus uint8

const (
	StatusUnknown MemberStatus = iota
	InventoryWaitingForStart
	InventoryRunningIdentification
	InventoryWaitingForAnalysis
	InventoryRunningAnalysis
	InventoryCancelled
	InventoryError
	InventoryFinished
	SynchronizationRunning
	SynchronizationSourceActionsInitiated
	SynchronizationError
	SynchronizationFinished
)

var statusNames = [...]string{
	StatusUnknown:                         "Unknown",
	InventoryWaitingForStart:              "InventoryWaitingForStart",
	InventoryRunningIdentification:        "InventoryRunningIdentification",
	InventoryWaitingForAnalysis:           "InventoryWaitingForAnalysis",
	InventoryRunningAnalysis:              "InventoryRunningAnalysis",
	InventoryCancelled:                    "InventoryCancelled",
	InventoryError:                        "InventoryError",
	InventoryFinished:                     "InventoryFinished",
	SynchronizationRunning:                "SynchronizationRunning",
	SynchronizationSourceActionsInitiated: "SynchronizationSourceActionsInitiated",
	SynchronizationError:                  "SynchronizationError",
	SynchronizationFinished:               "SynchronizationFinished",
}

func (s MemberStatus) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("MemberStatus(%d)", uint8(s))
}

// ParseMemberStatus reads a status name; Unknown is not a valid status to send.
func ParseMemberStatus(name string) (MemberStatus, error) {
	for i, n := range statusNames {
		if i > 0 && n == name {
			return MemberStatus(i), nil
		}
	}
	return StatusUnknown, fmt.Errorf("unknown member status %q", name)
}

func (s MemberStatus) MarshalJSON() ([]byte, error) {
	if s == StatusUnknown || int(s) >= len(statusNames) {
		return nil, fmt.Errorf("marshal %v: not a member status", s)
	}
	return json.Marshal(s.String())
}

func (s *MemberStatus) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return fmt.Errorf("member status: want a name such as \"InventoryFinished\": %w", err)
	}
	v, err := ParseMemberStatus(name)
	if err != nil {
		return err
	}
	*s = v
	return nil
}
