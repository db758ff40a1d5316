package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ferrysync/ferry/backend/protocol"
)

// Before anything changes every member answers the plan: the others send their answers to the
// oldest member, which sends every other member the session's verdict: the run goes on when
// every member agreed, and stops, nothing changed, at the first member that did not.

const (
	blobAnswer  = "answer"  // a member's answer to the plan, to the oldest member
	blobVerdict = "verdict" // the oldest member's decision, to every other member
	maxAnswer   = 64 << 10
)

// Answer is a member's answer to the plan.
type Answer struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"` // why not, for the others
	// Limit: refused for deleting past this member's deletion limit.
	Limit bool `json:"limit,omitempty"`
}

// verdict is the session's decision: OK, or the first member that did not agree and its answer.
type verdict struct {
	OK     bool   `json:"ok"`
	Member string `json:"member,omitempty"` // instance id
	Answer Answer `json:"answer"`
}

// NotConfirmedError is a member's refusal of the plan: nothing changed.
type NotConfirmedError struct {
	Who    string // "member B", or "this member"
	Self   bool   // this member refused
	Answer Answer
}

func (e *NotConfirmedError) Error() string {
	reason := e.Answer.Reason
	if reason == "" {
		reason = "not confirmed"
	}
	if e.Self {
		return reason
	}
	return fmt.Sprintf("%s did not agree to the plan (%s): nothing changed", e.Who, reason)
}

// Answer gives this member's answer to the plan, once (later answers are ignored). Synchronize
// answers yes for a member that did not answer.
func (f *Flow) Answer(ctx context.Context, a Answer) error {
	var err error
	f.answerOnce.Do(func() {
		if f.Oldest() {
			f.answer <- a
			return
		}
		err = f.phase(ctx, func(ctx context.Context) error {
			data, _ := json.Marshal(a)
			if err := f.x.SendBlob(ctx, blobAnswer, protocol.TransferPlan, []string{f.sess.Members[0].InstanceID}, bytes.NewReader(data)); err != nil {
				return fmt.Errorf("send this member's answer to the plan: %w", err)
			}
			return nil
		})
	})
	return err
}

// Verdict waits for the session's decision on the plan: nil when every member agreed, a
// *NotConfirmedError naming the first member that did not otherwise. It may be waited for
// while this member's user is still deciding: another member's refusal ends the question.
func (f *Flow) Verdict(ctx context.Context) error {
	f.verdictOnce.Do(func() {
		if f.Oldest() {
			f.verdictErr = f.phase(ctx, f.decide)
		} else {
			f.verdictErr = f.phase(ctx, f.awaitVerdict)
		}
	})
	return f.verdictErr
}

// decide is the oldest member's part: it collects the answers and sends the verdict.
func (f *Flow) decide(ctx context.Context) error {
	type answered struct {
		from string
		a    Answer
		err  error
	}
	others := f.others()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make(chan answered, len(others)+1)
	for _, from := range others {
		go func() {
			var a Answer
			err := receiveStream(ctx, f.x, blobAnswer, from, func(r io.Reader) error {
				return json.NewDecoder(io.LimitReader(r, maxAnswer)).Decode(&a)
			})
			if err != nil {
				err = fmt.Errorf("the answer of %s to the plan: %w", f.who(from), err)
			}
			answers <- answered{from: from, a: a, err: err}
		}()
	}
	go func() {
		select {
		case a := <-f.answer:
			answers <- answered{from: f.m.Self(), a: a}
		case <-ctx.Done():
		}
	}()
	v := verdict{OK: true}
	var failure error
	for range len(others) + 1 {
		var got answered
		select {
		case got = <-answers:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if got.err != nil {
			failure = got.err
			v = verdict{Member: f.m.Self(), Answer: Answer{Reason: "the oldest member could not read every answer"}}
			break
		}
		if !got.a.OK {
			v = verdict{Member: got.from, Answer: got.a}
			break
		}
	}
	data, _ := json.Marshal(v)
	if err := f.x.SendBlob(ctx, blobVerdict, protocol.TransferPlan, others, bytes.NewReader(data)); err != nil && failure == nil {
		if v.OK {
			failure = fmt.Errorf("send the verdict on the plan: %w", err)
		} else {
			// A refusal stands whatever reached the others: nothing runs anywhere. The member
			// that refused may well have read the verdict and left before the send ended.
			f.log.Info("the verdict on the plan may not have reached every member", "err", err)
		}
	}
	if failure != nil {
		return failure
	}
	return f.notConfirmed(v)
}

// awaitVerdict is the other members' part: the oldest member's verdict.
func (f *Flow) awaitVerdict(ctx context.Context) error {
	var v verdict
	err := receiveStream(ctx, f.x, blobVerdict, f.sess.Members[0].InstanceID, func(r io.Reader) error {
		return json.NewDecoder(io.LimitReader(r, maxAnswer)).Decode(&v)
	})
	if err != nil {
		return fmt.Errorf("the verdict on the plan: %w", err)
	}
	return f.notConfirmed(v)
}

func (f *Flow) notConfirmed(v verdict) error {
	if v.OK {
		return nil
	}
	who := f.who(v.Member)
	var codes []string
	for _, r := range sessionNodes(&f.sess) {
		if r.owner == v.Member {
			codes = append(codes, r.code)
		}
	}
	switch len(codes) {
	case 0:
	case 1:
		who += " (node " + codes[0] + ")"
	default:
		who += " (nodes " + strings.Join(codes, ", ") + ")"
	}
	return &NotConfirmedError{Who: who, Self: v.Member == f.m.Self(), Answer: v.Answer}
}
