package app

import (
	"errors"
	"time"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/session"
)

// A join meets the identity key of a computer this one has not trusted before: the user
// compares the safety words shown on both computers and trusts the key or refuses it. A key
// trusted is remembered in the same trust store as the ferry command's, so the next join
// between the two computers asks nothing.

// trustWait is how long a question waits for its answer before it counts as refused.
const trustWait = 4 * time.Minute

var errNoTrustQuestion = errors.New("this question was already answered or has expired")

// TrustQuestion asks whether to trust another computer's identity key.
type TrustQuestion struct {
	ID int64 `json:"id"`
	// Role is the other computer's part in the join: "host" when this computer joins its
	// session, "joiner" when it asks to join this computer's session.
	Role     string   `json:"role"`
	Computer string   `json:"computer"` // its id, derived from its key
	Words    []string `json:"words"`    // the twelve safety words, the same on both computers
}

// TrustAnswered tells the webview that a question is closed (answered, expired or cancelled).
type TrustAnswered struct {
	ID      int64 `json:"id"`
	Trusted bool  `json:"trusted"`
}

type trustAsks struct {
	next    int64
	pending map[int64]chan bool
}

// trustOptions are the session options of a create or a join: the trust store and the
// questions.
func (c *core) trustOptions() ([]session.Option, error) {
	store, err := crypto.OpenTrustStore(c.configDir)
	if err != nil {
		return nil, err
	}
	return []session.Option{session.WithTrust(store), session.ConfirmKey(c.askTrust)}, nil
}

// askTrust shows kc's question and waits for the answer; no answer within trustWait, or
// Ferry closing, refuses.
func (c *core) askTrust(kc session.KeyCheck) bool {
	role := "host"
	if kc.Role == session.RoleJoiner {
		role = "joiner"
	}
	answer := make(chan bool, 1)
	c.mu.Lock()
	if c.trust.pending == nil {
		c.trust.pending = map[int64]chan bool{}
	}
	c.trust.next++
	q := TrustQuestion{ID: c.trust.next, Role: role, Computer: kc.Peer, Words: kc.SafetyWords}
	c.trust.pending[q.ID] = answer
	desk := c.desk
	c.mu.Unlock()
	if desk != nil {
		desk.showWindow()
	}
	c.emit(EventTrustAsked, q)

	timer := time.NewTimer(trustWait)
	defer timer.Stop()
	trusted := false
	select {
	case trusted = <-answer:
	case <-timer.C:
	case <-c.life.Done():
	}
	c.mu.Lock()
	delete(c.trust.pending, q.ID)
	c.mu.Unlock()
	c.emit(EventTrustAnswered, TrustAnswered{ID: q.ID, Trusted: trusted})
	return trusted
}

// AnswerTrust answers a trust question (trust:asked): trusted or refused.
func (s *Sessions) AnswerTrust(id int64, trusted bool) error {
	c := s.c
	c.mu.Lock()
	answer, ok := c.trust.pending[id]
	delete(c.trust.pending, id)
	c.mu.Unlock()
	if !ok {
		return errNoTrustQuestion
	}
	answer <- trusted
	return nil
}
