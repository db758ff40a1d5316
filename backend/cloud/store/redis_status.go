package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ferrysync/ferry/backend/protocol"
)

// Member statuses live beside the session document, in a hash with one field per member:
//
//	P:status:{id}   instance id → "<unix s> <ns> <status> <at, RFC 3339> <client id>"
//
// A status update is then one script run that neither reads nor writes the document: the hash
// tells membership and the current status; the script applies newest-wins, refreshes both TTLs
// and publishes the push. The session writes (create, update, delete) keep the fields equal to
// the members, and the reads merge them into the members, so callers see one session as before.
// Redis drops an empty hash: a session without members has no status key.

// setStatusScript: KEYS session, status; ARGV instance, client, unix seconds, nanoseconds, field
// value, TTL in milliseconds, push channel, push message; without the last two it publishes
// nothing (a cluster, where the caller publishes on a shard channel after). It answers 1 when applied, 0 when not
// newer, -1 when the session is unknown and -2 when the hash has no field for this member.
var setStatusScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
	return -1
end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if not cur then
	return -2
end
local s, ns, client = string.match(cur, '^(%S+) (%S+) %S+ %S+ (.*)$')
if client ~= ARGV[2] then
	return -2
end
s, ns = tonumber(s), tonumber(ns)
local ns2, s2 = tonumber(ARGV[4]), tonumber(ARGV[3])
if s2 < s or (s2 == s and ns2 <= ns) then
	return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
if ARGV[7] then
	redis.call('PUBLISH', ARGV[7], ARGV[8])
end
return 1
`)

// readSessionScript reads the document and the status fields at once; nil when unknown.
var readSessionScript = redis.NewScript(`
local doc = redis.call('GET', KEYS[1])
if not doc then
	return false
end
return {doc, redis.call('HGETALL', KEYS[2])}
`)

// SetMemberStatus is one round trip (setStatusScript) when the hash knows the member. Otherwise
// it falls back to a document update, which decides membership from the members themselves and
// writes the missing fields: a session stored before statuses had their hash heals this way.
func (r *Redis) SetMemberStatus(ctx context.Context, id string, ttl time.Duration, clientID, instanceID string,
	u protocol.StatusUpdate, push Message) (bool, error) {
	if err := redisCheckTTL(ttl); err != nil {
		return false, fmt.Errorf("set status in session %s: %w", id, err)
	}
	if id == "" {
		return false, fmt.Errorf("set status: no session id: %w", ErrNotFound)
	}
	v, err := statusValue(clientID, u.Status, u.At)
	if err != nil {
		return false, fmt.Errorf("set status in session %s: %w", id, err)
	}
	msg, err := json.Marshal(push)
	if err != nil {
		return false, fmt.Errorf("set status in session %s: encode %s: %w", id, push.Event.Type, err)
	}
	args := []any{instanceID, clientID, u.At.Unix(), u.At.Nanosecond(), v, ttlMillis(ttl)}
	if !r.sharded {
		args = append(args, r.pushChannel(), msg)
	}
	res, err := r.runScript(ctx, setStatusScript, r.sessionKeys(id), args...)
	if err != nil {
		return false, fmt.Errorf("set status in session %s: %w", id, redisErr(err))
	}
	switch res {
	case 1:
		// A shard channel may live on another node than the session: publish now, and as the
		// server's own pushes, log a lost one rather than fail a stored update.
		// The update is stored whatever becomes of the caller's request: so is its push.
		if r.sharded {
			if err := r.publish(context.WithoutCancel(ctx), r.pushChannelOf(push), msg); err != nil {
				r.log.Warn("status push lost", "session", id, "err", redisErr(err))
			}
		}
		return true, nil
	case 0:
		return false, nil
	case -1:
		return false, fmt.Errorf("set status in session %s: %w", id, ErrNotFound)
	}
	return r.setStatusByUpdate(ctx, id, ttl, clientID, instanceID, u, push)
}

// setStatusByUpdate is the slow path of SetMemberStatus, for a member the hash does not name.
func (r *Redis) setStatusByUpdate(ctx context.Context, id string, ttl time.Duration, clientID, instanceID string,
	u protocol.StatusUpdate, push Message) (bool, error) {
	applied := false
	_, err := r.UpdateSession(ctx, id, ttl, func(s *Session) error {
		applied = false
		i := slices.IndexFunc(s.Members, func(m protocol.Member) bool {
			return m.InstanceID == instanceID && m.ClientID == clientID
		})
		if i < 0 {
			return fmt.Errorf("set status in session %s: %w", id, ErrNotMember)
		}
		m := &s.Members[i]
		if !u.At.After(m.StatusAt) {
			return ErrNoChange
		}
		m.Status, m.StatusAt = u.Status, u.At
		applied = true
		return nil
	})
	if err != nil {
		return false, err
	}
	// The status is stored: like the server's own pushes, a lost one is logged, not returned.
	if applied {
		if err := r.Publish(ctx, push); err != nil {
			r.log.Warn("status push lost", "session", id, "err", err)
		}
	}
	return applied, nil
}

// sessionKeys are the keys of a session: its document and its status hash, in one hash slot.
func (r *Redis) sessionKeys(id string) []string {
	return []string{r.sessionKey("session", id), r.sessionKey("status", id)}
}

// readSession returns the document of a session and its status fields, read at once.
func (r *Redis) readSession(ctx context.Context, keys []string) (string, map[string]string, error) {
	v, err := readSessionScript.Run(ctx, r.client, keys).Slice()
	if err != nil {
		return "", nil, err
	}
	var (
		doc  string
		flat []any
		ok   = len(v) == 2
	)
	if ok {
		doc, ok = v[0].(string)
	}
	if ok {
		flat, ok = v[1].([]any)
	}
	if !ok || len(flat)%2 != 0 {
		return "", nil, fmt.Errorf("read: unexpected answer %v", v)
	}
	fields := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, ok1 := flat[i].(string)
		val, ok2 := flat[i+1].(string)
		if !ok1 || !ok2 {
			return "", nil, fmt.Errorf("read: unexpected status field %v", flat[i:i+2])
		}
		fields[k] = val
	}
	return doc, fields, nil
}

// decodeMerged decodes a document and merges the status fields into its members.
func decodeMerged(doc string, fields map[string]string) (*Session, error) {
	s, err := decodeSession([]byte(doc))
	if err != nil {
		return nil, err
	}
	if err := mergeStatuses(s, fields); err != nil {
		return nil, err
	}
	return s, nil
}

// mergeStatuses sets the members' statuses from the status fields. A field counts for the
// member of its instance and client, unless the document holds a newer status (written by a
// process that predates the hash).
func mergeStatuses(s *Session, fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	for i := range s.Members {
		m := &s.Members[i]
		v, ok := fields[m.InstanceID]
		if !ok {
			continue
		}
		client, st, at, err := parseStatusValue(v)
		if err != nil {
			return fmt.Errorf("status of %s: %w", m.InstanceID, err)
		}
		if client == m.ClientID && !at.Before(m.StatusAt) {
			m.Status, m.StatusAt = st, at
		}
	}
	return nil
}

// statusFields are the status fields the members of s call for: one per instance id, for the
// first member holding it (the server keeps instance ids unique in a session).
func statusFields(s *Session) (map[string]string, error) {
	fields := make(map[string]string, len(s.Members))
	for _, m := range s.Members {
		if _, dup := fields[m.InstanceID]; dup {
			continue
		}
		v, err := statusValue(m.ClientID, m.Status, m.StatusAt)
		if err != nil {
			return nil, fmt.Errorf("status of %s: %w", m.InstanceID, err)
		}
		fields[m.InstanceID] = v
	}
	return fields, nil
}

// statusValue encodes a status field. The seconds and nanoseconds let the script compare times
// exactly (Lua numbers are doubles); the RFC 3339 text keeps the time as JSON would, zone
// included; the client id comes last, whatever it holds.
func statusValue(clientID string, st protocol.MemberStatus, at time.Time) (string, error) {
	if err := checkStatus(st, at); err != nil {
		return "", err
	}
	text, err := at.MarshalText()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(64 + len(clientID))
	b.WriteString(strconv.FormatInt(at.Unix(), 10))
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(at.Nanosecond()))
	b.WriteByte(' ')
	b.WriteString(st.String())
	b.WriteByte(' ')
	b.Write(text)
	b.WriteByte(' ')
	b.WriteString(clientID)
	return b.String(), nil
}

var errBadStatusValue = errors.New("malformed status field")

func parseStatusValue(v string) (clientID string, st protocol.MemberStatus, at time.Time, err error) {
	f := strings.SplitN(v, " ", 5)
	if len(f) != 5 {
		return "", 0, time.Time{}, fmt.Errorf("%w %q", errBadStatusValue, v)
	}
	if st, err = protocol.ParseMemberStatus(f[2]); err != nil {
		return "", 0, time.Time{}, fmt.Errorf("%w %q: %w", errBadStatusValue, v, err)
	}
	if err := at.UnmarshalText([]byte(f[3])); err != nil {
		return "", 0, time.Time{}, fmt.Errorf("%w %q: %w", errBadStatusValue, v, err)
	}
	return f[4], st, at, nil
}

// ttlMillis is a TTL for PX and PEXPIRE, which want whole milliseconds.
func ttlMillis(ttl time.Duration) int64 { return max(ttl.Milliseconds(), 1) }
