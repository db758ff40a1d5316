package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ferrysync/ferry/backend/protocol"
)

// memMember is a member's identity and status, kept beside the session's JSON so that a status
// update neither decodes nor encodes the session. A session's slice follows the order of its
// members and is replaced whole, never changed in place: readers may keep it after unlocking.
type memMember struct {
	instance, client string
	status           protocol.MemberStatus
	at               time.Time
}

func memMembers(s *Session) []memMember {
	out := make([]memMember, len(s.Members))
	for i, m := range s.Members {
		out[i] = memMember{instance: m.InstanceID, client: m.ClientID, status: m.Status, at: m.StatusAt}
	}
	return out
}

// memOverlay sets the members' statuses of s, decoded from the JSON stored with members.
func memOverlay(s *Session, members []memMember) {
	for i := range min(len(s.Members), len(members)) {
		m, mm := &s.Members[i], members[i]
		if m.InstanceID == mm.instance && m.ClientID == mm.client {
			m.Status, m.StatusAt = mm.status, mm.at
		}
	}
}

// checkStatus refuses what the stores cannot keep: a status without a name, a time JSON cannot
// hold.
func checkStatus(st protocol.MemberStatus, at time.Time) error {
	if _, err := protocol.ParseMemberStatus(st.String()); err != nil {
		return err
	}
	if _, err := at.MarshalText(); err != nil {
		return fmt.Errorf("status time: %w", err)
	}
	return nil
}

// SetMemberStatus applies the status under the session's lock and publishes before releasing
// it, so that pushes leave in the order the statuses were applied.
func (m *Memory) SetMemberStatus(ctx context.Context, id string, ttl time.Duration, clientID, instanceID string,
	u protocol.StatusUpdate, push Message) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := memCheckTTL(ttl); err != nil {
		return false, err
	}
	if err := checkStatus(u.Status, u.At); err != nil {
		return false, fmt.Errorf("set status in session %s: %w", id, err)
	}
	push.Event.Data = memClone(push.Event.Data)
	ms, err := m.session(id)
	if err != nil {
		return false, err
	}
	defer ms.mu.Unlock()
	i := -1
	for j, mm := range ms.members {
		if mm.instance == instanceID && mm.client == clientID {
			i = j
			break
		}
	}
	if i < 0 {
		return false, fmt.Errorf("set status in session %s: %w", id, ErrNotMember)
	}
	if !u.At.After(ms.members[i].at) {
		return false, nil
	}
	members := append([]memMember(nil), ms.members...)
	members[i].status, members[i].at = u.Status, u.At
	ms.members = members
	ms.expires.Store(m.now().Add(ttl).UnixNano())
	m.sendAll(m.subscriptions(), push)
	return true, nil
}
