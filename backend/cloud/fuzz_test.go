package cloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// The fuzzers feed arbitrary bodies to the request decoders and arbitrary strings to the token
// parser. They must never panic, must refuse with a 400/413 *apiError, and whatever they accept
// must satisfy the rules checked here independently, and survive a JSON round trip. Seed corpora
// are under testdata/fuzz/. Inputs are bounded (maxFuzzInput): the size limits themselves are
// covered by the Refusals test, and minimizing huge inputs stalls the fuzzer.

const maxFuzzInput = 16 << 10

// checkDecoded runs decode on body and checks the outcome with valid.
func checkDecoded[T any](t *testing.T, name string, body []byte, decode func([]byte) (T, error), valid func(T) bool) {
	t.Helper()
	if len(body) > maxFuzzInput {
		t.Skip("input larger than maxFuzzInput")
	}
	v, err := decode(body)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			t.Fatalf("%s: %q: error %v is not a client error", name, body, err)
		}
		if ae.status != http.StatusBadRequest && ae.status != http.StatusRequestEntityTooLarge || ae.body.Code == "" || ae.body.Message == "" {
			t.Fatalf("%s: %q: answer %d %+v", name, body, ae.status, ae.body)
		}
		return
	}
	if !valid(v) {
		t.Fatalf("%s: accepted an invalid request %q → %+v", name, body, v)
	}
	if !json.Valid(body) && len(bytes.TrimSpace(body)) > 0 {
		t.Fatalf("%s: accepted a body that is not JSON: %q", name, body)
	}
	// What was accepted encodes to a body that is accepted again as the same request.
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: re-encode %+v: %v", name, v, err)
	}
	v2, err := decode(again)
	if err != nil {
		t.Fatalf("%s: re-encoded request %s refused: %v", name, again, err)
	}
	if third, _ := json.Marshal(v2); !bytes.Equal(third, again) {
		t.Fatalf("%s: round trip changed the request:\n %s\n %s", name, again, third)
	}
}

func blobOK(b protocol.Blob, required bool) bool {
	return len(b) <= protocol.MaxBlobBytes && (!required || len(b) > 0)
}

func idOK(id string) bool {
	if len(id) < 1 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func instanceOK(id string) bool { return len(id) >= 8 && idOK(id) }

func sessionIDOK(id string) bool {
	if len(id) != 9 {
		return false
	}
	for i, r := range id {
		digit := r >= '0' && r <= '9'
		if (i < 3 || i > 5) != digit || !digit && (r < 'a' || r > 'z') {
			return false
		}
	}
	return true
}

func FuzzDecodeAuth(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded(t, "challenge", body, decodeChallengeRequest, func(r protocol.ChallengeRequest) bool {
			return len(r.PublicKey) == 32
		})
		checkDecoded(t, "login", body, decodeLoginRequest, func(r protocol.LoginRequest) bool {
			return len(r.PublicKey) == 32 && len(r.Nonce) == 32 && len(r.Signature) == 64 && instanceOK(r.InstanceID) &&
				len(r.MachineOS) <= protocol.MaxMachineOS && utf8.ValidString(r.MachineOS) &&
				strings.IndexFunc(r.MachineOS, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
		})
		checkDecoded(t, "refresh", body, decodeRefreshRequest, func(r protocol.RefreshRequest) bool {
			return r.RefreshToken != "" && len(r.RefreshToken) <= maxTokenLen
		})
	})
}

func FuzzDecodeSession(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded(t, "create", body, decodeCreateSession, func(r protocol.CreateSessionRequest) bool {
			return blobOK(r.Settings, true) && blobOK(r.PrivateData, false)
		})
		checkDecoded(t, "settings", body, decodeSettingsUpdate, func(r protocol.SettingsUpdate) bool {
			return blobOK(r.Settings, true)
		})
		checkDecoded(t, "status", body, decodeStatusUpdate, func(r protocol.StatusUpdate) bool {
			return r.Status >= protocol.InventoryWaitingForStart && r.Status <= protocol.SynchronizationFinished && !r.At.IsZero()
		})
		if _, err := decodeEmpty(body); err == nil {
			if s := string(bytes.TrimSpace(body)); s != "" && s != "null" && s != "{}" {
				t.Fatalf("empty: accepted %q", body)
			}
		}
	})
}

func FuzzDecodeNodes(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded(t, "node", body, decodeNodeRequest, func(r protocol.NodeRequest) bool {
			return idOK(r.ID) && blobOK(r.Data, true)
		})
		checkDecoded(t, "source", body, decodeSourceRequest, func(r protocol.SourceRequest) bool {
			return idOK(r.ID) && blobOK(r.Data, true)
		})
	})
}

func FuzzDecodeJoin(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded(t, "join", body, decodeJoinRequest, func(r protocol.JoinRequest) bool {
			return len(r.IdentityKey) == 32 && len(r.JoinKey) == 32 && len(r.JoinKeySignature) == 64
		})
		checkDecoded(t, "challenge", body, decodeJoinChallenge, func(r protocol.JoinChallengeRequest) bool {
			return len(r.IdentityKey) == 32 && len(r.Salt) >= 16 && len(r.Salt) <= 64 && len(r.Nonce) == 32 &&
				len(r.ProofKey) == 32 && len(r.Signature) == 64
		})
		checkDecoded(t, "proof", body, decodeJoinProof, func(r protocol.JoinProofRequest) bool {
			return len(r.Proof) > 0 && len(r.Proof) <= protocol.MaxProofBytes
		})
		checkDecoded(t, "admit", body, decodeAdmitRequest, func(r protocol.AdmitRequest) bool {
			return len(r.IdentityKey) == 32 && len(r.WrappedKey) == crypto.WrappedKeySize
		})
		checkDecoded(t, "refuse", body, decodeRefuseRequest, func(r protocol.RefuseRequest) bool {
			return len(r.Reason) <= protocol.MaxReasonBytes && utf8.ValidString(r.Reason) &&
				(r.Code == "" || protocol.RefusalCodePattern.MatchString(r.Code))
		})
	})
}

func FuzzDecodeHello(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecoded(t, "hello", body, decodeHello, func(h protocol.Hello) bool {
			if h.AccessToken == "" || len(h.Sessions) > protocol.MaxHelloSessions {
				return false
			}
			for i, id := range h.Sessions {
				if !sessionIDOK(id) || slices.Contains(h.Sessions[:i], id) {
					return false
				}
			}
			return true
		})
	})
}

// fuzzIssuer issues the tokens of the seed corpus: fixed secret, fixed clock.
func fuzzIssuer() *tokenIssuer {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	return &tokenIssuer{secret: []byte("fuzz secret: 32 bytes or more....."), ttl: time.Hour, now: func() time.Time { return at }}
}

// FuzzParseAccessToken: a token is accepted only when it is exactly one the server issued (any
// change breaks the MAC), and never past its expiry.
func FuzzParseAccessToken(f *testing.F) {
	ti := fuzzIssuer()
	valid, _, err := ti.issue(principal{ClientID: "ABCD-EFGH-IJKL-MNOP", InstanceID: "inst-0123456789"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Fuzz(func(t *testing.T, token string) {
		if len(token) > maxFuzzInput {
			t.Skip("input larger than maxFuzzInput")
		}
		p, err := ti.parse(token)
		if err != nil {
			if !errors.Is(err, errTokenMalformed) && !errors.Is(err, errTokenSignature) && !errors.Is(err, errTokenExpired) {
				t.Fatalf("parse %q: unexpected error %v", token, err)
			}
			return
		}
		if token != valid {
			t.Fatalf("accepted a token the server did not issue: %q → %+v", token, p)
		}
		late := *ti
		late.now = func() time.Time { return ti.now().Add(2 * time.Hour) }
		if _, err := late.parse(token); !errors.Is(err, errTokenExpired) {
			t.Fatalf("expired token: %v", err)
		}
	})
}
