package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/session"
)

// Bounds of the session calls.
const (
	sessionCallTimeout = 30 * time.Second
	joinTimeout        = 5 * time.Minute // the oldest member must admit the joiner
	// invitedJoinTimeout bounds a join by a shared profile's invitation: the member that
	// invited admits it without asking its user.
	invitedJoinTimeout = time.Minute
	statusWait         = 10 * time.Second
)

// SessionInfo is the open session as the webview shows it.
type SessionInfo struct {
	ID        string   `json:"id"`
	Password  string   `json:"password"`
	ServerURL string   `json:"serverURL"`
	Embedded  bool     `json:"embedded"`
	Self      string   `json:"self"`
	Members   []Member `json:"members"`
}

// Member is one member of the session.
type Member struct {
	ID      string `json:"id"`
	Letter  string `json:"letter"`
	Status  string `json:"status"`
	Self    bool   `json:"self"`
	Present bool   `json:"present"`
	// Nodes are what another member brings, by code and by the names of its folders (never
	// their paths); empty for this member, whose nodes Data lists.
	Nodes []MemberNode `json:"nodes"`
}

// MemberNode is another member's data node.
type MemberNode struct {
	Code    string         `json:"code"`
	Machine string         `json:"machine"` // the computer's name, "" when unknown
	Sources []MemberSource `json:"sources"`
}

// MemberSource is a data source of another member, by its folder's or file's name.
type MemberSource struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Sessions is the service of the cloud session.
type Sessions struct {
	c *core
}

// openSession is this instance's membership of a session.
type openSession struct {
	member *session.Member
	client *client.Client
	info   SessionInfo   // guarded by core.mu
	stop   func()        // stops following the pushes; nil until followed
	done   chan struct{} // closed when the pushes are no longer followed
	dirty  chan struct{} // the session changed: read it again
	decl   declarer      // this member's nodes on the server
	// joined is set once this member took its part in the session's inventory, started by
	// itself or by the oldest member (guarded by core.mu).
	joined bool
}

// Create creates a session with this instance as its first member. The session server is the
// one of the settings, or the embedded one, started on first use. The password is generated:
// it never reaches the server.
func (s *Sessions) Create() (SessionInfo, error) {
	return s.open(func(ctx context.Context, c *client.Client) (*session.Member, error) {
		ctx, cancel := context.WithTimeout(ctx, sessionCallTimeout)
		defer cancel()
		opts, err := s.c.trustOptions()
		if err != nil {
			return nil, err
		}
		m, err := session.Create(ctx, c, nil, append(opts, session.WithLogger(s.c.log))...)
		if err != nil {
			return m, fmt.Errorf("create a session: %w", err)
		}
		return m, nil
	})
}

// Join asks to join session id with its password and waits until its oldest member checked
// the password and admitted this instance.
func (s *Sessions) Join(id, password string) (SessionInfo, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if !protocol.SessionIDPattern.MatchString(id) {
		return SessionInfo{}, fmt.Errorf("session id %q: want three digits, three letters and three digits, such as 123abc456", id)
	}
	if strings.TrimSpace(password) == "" {
		return SessionInfo{}, errors.New("give the session's password")
	}
	return s.open(func(ctx context.Context, c *client.Client) (*session.Member, error) {
		ctx, cancel := context.WithTimeout(ctx, joinTimeout)
		defer cancel()
		opts, err := s.c.trustOptions()
		if err != nil {
			return nil, err
		}
		return session.Join(ctx, c, session.JoinRequest{ID: id, Password: password}, append(opts, session.WithLogger(s.c.log))...)
	})
}

// Quit leaves the session; refused while a synchronization runs. A running inventory is
// cancelled. The nodes, the rules, the comparison and the last run's status go with the
// session: the next one starts empty.
func (s *Sessions) Quit() error {
	c := s.c
	c.mu.Lock()
	switch {
	case c.closing:
		c.mu.Unlock()
		return errClosing
	case c.sess == nil:
		c.mu.Unlock()
		return errNoSession
	case c.sessBusy:
		c.mu.Unlock()
		return errSessionBusy
	case c.run != nil:
		c.mu.Unlock()
		return fmt.Errorf("%w: abort it or wait for its end before quitting the session", errSyncRunning)
	}
	c.sessBusy = true
	c.wg.Add(1) // shutdown waits for the quit
	defer c.wg.Done()
	sess, inv := c.sess, c.inv
	c.mu.Unlock()
	if inv != nil {
		inv.cancel()
		<-inv.done
	}
	c.uninvite(sess)
	s.leave(sess)
	c.mu.Lock()
	c.sess, c.sessBusy = nil, false
	c.nodes = nil
	c.an.forgetInventory()
	c.an.forgetRules(c.compareDefaults())
	c.an.targeted = nil
	c.sync = idleStatus()
	c.mu.Unlock()
	c.emit(EventSessionChanged, nil)
	c.giveBackLater()
	return nil
}

// Current is the open session, or nil.
func (s *Sessions) Current() *SessionInfo {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil
	}
	info := c.sess.info.clone()
	return &info
}

// open logs in and opens a session with join on the settings' server, then follows its pushes.
func (s *Sessions) open(join func(context.Context, *client.Client) (*session.Member, error)) (SessionInfo, error) {
	return s.openOn(s.server, join)
}

// openOn is open on the server that server says.
func (s *Sessions) openOn(server func() (string, bool, error), join func(context.Context, *client.Client) (*session.Member, error)) (SessionInfo, error) {
	c := s.c
	c.mu.Lock()
	switch {
	case c.closing:
		c.mu.Unlock()
		return SessionInfo{}, errClosing
	case c.sessBusy:
		c.mu.Unlock()
		return SessionInfo{}, errSessionBusy
	case c.sess != nil:
		c.mu.Unlock()
		return SessionInfo{}, errors.New("a session is open: quit it first")
	}
	c.sessBusy = true
	c.wg.Add(1) // shutdown waits for the session to be opened, then leaves it
	defer c.wg.Done()
	c.mu.Unlock()
	sess, err := s.connect(server, join)
	if err == nil {
		s.follow(sess)
	}
	c.mu.Lock()
	c.sessBusy = false
	if err == nil && c.closing {
		err = errClosing
	}
	if err != nil {
		c.mu.Unlock()
		if sess != nil {
			s.leave(sess)
		}
		return SessionInfo{}, err
	}
	c.sess = sess
	c.an.forgetInventory()
	c.an.targeted = nil
	c.sync = idleStatus()
	info := sess.info.clone()
	c.mu.Unlock()
	sess.poke() // session:changed from the follower, in order with the pushes
	return info, nil
}

// connect reaches the server, logs in and runs join. On an error after the session exists, the
// session is returned too, to be left.
func (s *Sessions) connect(server func() (string, bool, error), join func(context.Context, *client.Client) (*session.Member, error)) (*openSession, error) {
	c := s.c
	url, embedded, err := server()
	if err != nil {
		return nil, err
	}
	id, err := s.identity()
	if err != nil {
		return nil, err
	}
	cl, err := client.New(url, id, client.Options{Logger: c.log})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(c.life, sessionCallTimeout)
	err = cl.Login(ctx)
	cancel()
	if err != nil {
		return nil, serverError(url, embedded, err)
	}
	m, err := join(c.life, cl)
	if m == nil {
		return nil, readable(err)
	}
	sess := &openSession{member: m, client: cl}
	sess.info = SessionInfo{ID: m.ID(), Password: m.Password(), ServerURL: url, Embedded: embedded, Self: m.Self(), Members: []Member{}}
	if err != nil {
		return sess, readable(err)
	}
	ctx, cancel = context.WithTimeout(c.life, sessionCallTimeout)
	defer cancel()
	if snap, err := cl.Session(ctx, m.ID()); err == nil {
		sess.info.setMembers(snap, m)
	}
	return sess, nil
}

// server is the session server to use: the settings' one, or the embedded one, started now
// if needed.
func (s *Sessions) server() (url string, embedded bool, err error) {
	c := s.c
	if url := c.settings.get().ServerURL; url != "" {
		return url, false, nil
	}
	c.mu.Lock()
	e := c.embedded
	c.mu.Unlock()
	if e == nil {
		// Only one open runs at a time (sessBusy), so only one starts the server.
		e, err = cloud.StartEmbedded(c.life, c.log)
		if err != nil {
			return "", false, fmt.Errorf("start the session server built into Ferry: %w", err)
		}
		c.mu.Lock()
		c.embedded = e
		c.mu.Unlock()
	}
	return e.URL(), true, nil
}

// identity is this installation's key, created on first use.
func (s *Sessions) identity() (*crypto.Identity, error) {
	c := s.c
	c.mu.Lock()
	id := c.identity
	c.mu.Unlock()
	if id != nil {
		return id, nil
	}
	id, err := crypto.LoadOrCreateIdentity(c.configDir)
	if err != nil {
		return nil, fmt.Errorf("this installation's key in %s: %w", c.configDir, err)
	}
	c.mu.Lock()
	c.identity = id
	c.mu.Unlock()
	return id, nil
}

// follow emits session:changed after pushes: every burst of pushes is read back as one session
// snapshot.
func (s *Sessions) follow(sess *openSession) {
	c := s.c
	pushes, unsubscribe := sess.member.Subscribe()
	ctx, cancel := context.WithCancel(c.life)
	sess.stop = func() { cancel(); unsubscribe() }
	sess.done = make(chan struct{})
	dirty := make(chan struct{}, 1)
	sess.dirty = dirty
	sess.decl.poke = make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.declareLive(ctx, sess)
	}()
	go func() {
		wg.Wait()
		close(sess.done)
	}()
	go func() { // reads the pushes at once: a slow reader holds back every subscriber
		for {
			select {
			case _, ok := <-pushes:
				if !ok {
					return
				}
				sess.poke()
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-dirty:
			case <-ctx.Done():
				return
			}
			callCtx, cancelCall := context.WithTimeout(ctx, sessionCallTimeout)
			snap, err := sess.client.Session(callCtx, sess.member.ID())
			cancelCall()
			if err != nil {
				if ctx.Err() == nil {
					c.log.Info("read the session after a push", "err", err)
				}
				continue
			}
			c.mu.Lock()
			before := len(sess.info.Members)
			sess.info.setMembers(snap, sess.member)
			info, current := sess.info.clone(), c.sess == sess
			// The oldest member started the session's inventory: this member takes its part
			// without a click, as ferry join does.
			follow := current && snap.InventoryStarted && !sess.joined && len(snap.Members) > 1 &&
				snap.Members[0].InstanceID != sess.member.Self() && c.inv == nil && c.run == nil
			c.mu.Unlock()
			if follow {
				if err := (&Inventory{c: c}).Start(); err != nil {
					c.log.Info("take part in the session's inventory", "err", err)
					c.emit(EventInventoryDone, InventoryDone{Error: "The other computer started the inventory, but this one could not take part: " + err.Error()})
				}
			}
			if len(info.Members) != before {
				sess.decl.kick() // someone joined: show it this member's folders
				c.sharedMembersChanged(sess)
			}
			if current {
				c.emit(EventSessionChanged, info)
			}
		}
	}()
}

// poke asks the follower to read the session again and emit it.
func (sess *openSession) poke() {
	select {
	case sess.dirty <- struct{}{}:
	default:
	}
}

// leave stops following the session and quits it, waiting a little for the member statuses
// to reach the server.
func (s *Sessions) leave(sess *openSession) {
	if sess.stop != nil {
		sess.stop()
		<-sess.done
	}
	undelivered, err := sess.member.Close(context.WithoutCancel(s.c.life), statusWait)
	if err != nil {
		s.c.log.Warn("leave the session", "session", sess.info.ID, "err", err)
	}
	if undelivered > 0 {
		s.c.log.Warn("member statuses did not reach the server", "count", undelivered)
	}
}

// serverError says why the session server at url could not be used, and what to do.
func serverError(url string, embedded bool, err error) error {
	switch {
	case embedded:
		return fmt.Errorf("the session server built into Ferry did not answer (%w); restart Ferry and try again", readable(err))
	case errors.Is(err, client.ErrUnreachable):
		return fmt.Errorf("the session server %s cannot be reached: check the address in Settings, or use the built-in server for folders on this computer", url)
	}
	return fmt.Errorf("the session server %s refused this computer (%w): check the address in Settings, or use the built-in server for folders on this computer", url, readable(err))
}

// letter is this member's letter, "A" until known.
func (i *SessionInfo) letter() string {
	for _, m := range i.Members {
		if m.Self {
			return m.Letter
		}
	}
	return "A"
}

func (i *SessionInfo) setMembers(s *protocol.Session, me *session.Member) {
	i.Members = make([]Member, 0, len(s.Members))
	for _, m := range s.Members {
		mb := Member{
			ID:      m.InstanceID,
			Letter:  m.Letter,
			Status:  m.Status.String(),
			Self:    m.InstanceID == me.Self(),
			Present: m.Present,
			Nodes:   []MemberNode{},
		}
		if !mb.Self {
			for _, n := range me.NodesOf(m) {
				node := MemberNode{Code: n.Code, Machine: n.Machine, Sources: make([]MemberSource, 0, len(n.Sources))}
				for _, src := range n.Sources {
					node.Sources = append(node.Sources, MemberSource(src))
				}
				mb.Nodes = append(mb.Nodes, node)
			}
		}
		i.Members = append(i.Members, mb)
	}
}

func (i SessionInfo) clone() SessionInfo {
	i.Members = append([]Member{}, i.Members...)
	return i
}

// readable turns server and network errors into a sentence for the user.
func readable(err error) error {
	if err == nil {
		return nil
	}
	if code := session.RefusalCode(err); code != "" {
		return errors.New(refusalWords(code))
	}
	if errors.Is(err, client.ErrUnreachable) {
		return errors.New("the session server cannot be reached")
	}
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Message != "" {
		return fmt.Errorf("the session server refused: %s", pe.Message)
	}
	return err
}

// refusalWords tells why a join was refused, and what to do about it.
func refusalWords(code string) string {
	switch code {
	case protocol.JoinWrongPassword, protocol.JoinBadProof:
		return "The join was refused: the password is not the session's. Check it with the person who created the session."
	case protocol.JoinUntrustedKey:
		return "The join was refused: the computer that created the session does not trust this computer yet. Ask its user to accept this computer when it asks."
	case protocol.JoinKeyChanged:
		return "The join was refused: this computer's key is not the one the session's creator knows for it. Ask its user to check this computer's safety words."
	case protocol.JoinDeclined:
		return "The join was refused by the user of the computer that created the session."
	case protocol.JoinTooManyAttempts:
		return "The join was refused after too many wrong passwords: ask for a new session."
	case protocol.JoinSessionFull:
		return "The join was refused: the session already has its five members."
	case protocol.JoinInventoryStarted:
		return "The join was refused: the session already started comparing its folders. Ask for a new session."
	case protocol.JoinValidatorLeft, protocol.JoinSessionClosed:
		return "The join was refused: the session ended before admitting this computer. Ask for a new session."
	}
	return "The join was refused by the computer that created the session (" + strings.ReplaceAll(code, "_", " ") + "). Try again, or ask for a new session."
}
