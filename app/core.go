package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Refusals the webview shows as they are.
var (
	errClosing       = errors.New("Ferry is closing")
	errNoSession     = errors.New("no session is open: create or join one first")
	errSessionBusy   = errors.New("the session is being opened or closed; try again in a moment")
	errInventoryBusy = errors.New("the inventory is running")
	errSyncRunning   = errors.New("a synchronization is running")
	errNoInventory   = errors.New("the inventory is not finished")
	errNoSyncRunning = errors.New("no synchronization is running")
	errNothingToDo   = errors.New("there is nothing to synchronize")
	errPlanRan       = errors.New("this plan already ran: run the inventory again to compare the nodes as they are now")
	errPlanChanged   = errors.New("the plan changed since it was shown: check what it deletes again")
)

// core is the state the services share. One mutex guards it; nothing that waits (the network,
// the disk, a dialog) runs under it.
type core struct {
	log       *slog.Logger
	configDir string
	settings  *settingsStore
	// life ends at shutdown; background work derives from it.
	life context.Context
	end  context.CancelFunc
	wg   sync.WaitGroup

	mu            sync.Mutex
	out           emitter
	desk          desktop
	tray          Tray
	notifier      notifier
	closing       bool // shutdown started: no new work
	quitting      bool // the user asked to quit: the window closes even during a run
	hiddenByClose bool // the window was closed during a run and hidden instead
	revealed      bool // the window, which starts hidden, was fitted and shown

	identity *crypto.Identity
	embedded *cloud.Embedded
	sess     *openSession
	sessBusy bool // a session is being created, joined or quit
	trust    trustAsks

	nodes []*nodeState
	inv   *inventoryRun
	an    analysis
	run   *syncRun
	sync  SyncStatus // the last synchronization, or idle

	profile *profileRun // the profile that opened the session, if any
	shared  *sharedRun  // the shared profile's run that invited its members to the session
	// finders are the clients that look for invitations, by server URL.
	finders map[string]*client.Client
	// invitedJoinWait is how long a join by invitation waits to be let in: the member that
	// invited admits it without asking anyone, unless it is gone.
	invitedJoinWait time.Duration
	// staleInvites are the sessions of invitations that let no one in, by profile: they are
	// neither listed nor joined again.
	staleInvites map[string]string

	// giveBackWait is the idle time before memory let go returns to the system (giveBackLater);
	// giveBack, while it waits, makes it wait again.
	giveBackWait time.Duration
	giveBack     chan struct{}
	// gaveBack is told when giveBackLater ends, whether it gave memory back (tests); nil
	// otherwise.
	gaveBack func(bool)

	// beforeReport sees this member's action results before the orchestrator (tests pause a
	// run with it); nil otherwise.
	beforeReport func([]protocol.ActionResult)
}

func (c *core) events() emitter {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out
}

// emit sends an event to the webview.
func (c *core) emit(name string, data any) { c.events().Emit(name, data) }

func (c *core) window() desktop {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.desk
}

// goBackground runs fn in the background; shutdown waits for it.
func (c *core) goBackground(fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// idleLocked refuses work while the session changes, the inventory runs or a synchronization
// runs. c.mu is held.
func (c *core) idleLocked() error {
	switch {
	case c.closing:
		return errClosing
	case c.sessBusy:
		return errSessionBusy
	case c.inv != nil:
		return errInventoryBusy
	case c.run != nil:
		return errSyncRunning
	}
	return nil
}
