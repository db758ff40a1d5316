// Command member stands in for the other computer of a shared profile in Ferry's end-to-end run.
//
//	member pair DIR_A NAME_A FOLDER_A DIR_B NAME_B FOLDER_B URL PROFILE
//	    # gives the configuration folders DIR_A and DIR_B an identity key each and the profile
//	    # PROFILE shared between them on the server URL: each keeps its folder, the other's key
//	    # under its name, and one secret
//	member host DIR URL PROFILE
//	    # runs PROFILE as the computer of DIR: creates a session on URL, invites the profile's
//	    # members, prints "invited SESSION" and waits until SIGTERM or SIGINT
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ferrysync/ferry/backend/client"
	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/profile"
	"github.com/ferrysync/ferry/backend/session"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 10 && os.Args[1] == "pair":
		a := side{dir: os.Args[2], name: os.Args[3], folder: os.Args[4]}
		b := side{dir: os.Args[5], name: os.Args[6], folder: os.Args[7]}
		err = pair(a, b, os.Args[8], os.Args[9])
	case len(os.Args) == 5 && os.Args[1] == "host":
		err = host(os.Args[2], os.Args[3], os.Args[4])
	default:
		fmt.Fprintln(os.Stderr, "usage: member pair DIR_A NAME_A FOLDER_A DIR_B NAME_B FOLDER_B URL PROFILE | host DIR URL PROFILE")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "member:", err)
		os.Exit(1)
	}
}

type side struct {
	dir, name, folder, code string
	id                      *crypto.Identity
}

func pair(a, b side, url, name string) error {
	secret, err := crypto.NewProfileSecret()
	if err != nil {
		return err
	}
	for _, s := range []*side{&a, &b} {
		if s.id, err = crypto.LoadOrCreateIdentity(s.dir); err != nil {
			return err
		}
	}
	// The codes of a session of the two, A first: the mirror goes from A's folder.
	a.code, b.code = "Aa", "Ba"
	for _, s := range [][2]side{{a, b}, {b, a}} {
		self, other := s[0], s[1]
		p := &profile.Profile{Name: name, Mode: "mirror", From: a.code, Server: url, Secret: secret[:],
			Nodes:   []profile.Node{{Code: self.code, Sources: []string{self.folder}}},
			Members: []profile.Member{{Name: other.name, ClientID: other.id.ClientID(), Key: other.id.Public()}}}
		if err := profile.NewStore(self.dir).Save(p); err != nil {
			return err
		}
	}
	return nil
}

func host(dir, url, name string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	p, err := profile.NewStore(dir).Get(name)
	if err != nil {
		return err
	}
	id, err := crypto.LoadOrCreateIdentity(dir)
	if err != nil {
		return err
	}
	c, err := client.New(url, id, client.Options{})
	if err != nil {
		return err
	}
	if err := c.Login(ctx); err != nil {
		return err
	}
	peers := make([]session.Peer, len(p.Members))
	for i, m := range p.Members {
		peers[i] = session.Peer{Name: m.Name, ClientID: m.ClientID, Key: m.Key}
	}
	m, err := session.Create(ctx, c, p.Specs(), session.OnlyPeers(peers))
	if err != nil {
		return err
	}
	defer func() { _, _ = m.Close(context.Background(), 5*time.Second) }()
	if err := m.Invite(ctx, p.ProfileSecret(), peers, time.Hour); err != nil {
		return err
	}
	fmt.Printf("invited %s\n", m.ID())
	<-ctx.Done()
	if err := m.Uninvite(context.Background(), p.ProfileSecret()); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
