package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/protocol"
)

// Kinds of data source.
const (
	KindFolder = "folder"
	KindFile   = "file"
)

// Node is one of this member's data nodes.
type Node struct {
	Code    string   `json:"code"`
	Member  string   `json:"member"` // the member's letter
	Sources []Source `json:"sources"`
}

// Source is a data source: a folder or a file.
type Source struct {
	Code string `json:"code"`
	Path string `json:"path"`
	Kind string `json:"kind"`
}

// Data is the service of this member's data nodes and sources.
type Data struct {
	c *core

	mu         sync.Mutex
	lastFolder string // the folder the picker chose last; the picker opens there
}

type nodeState struct {
	code    string
	sources []sourceState
}

type sourceState struct {
	path, kind string
}

// Nodes lists this member's nodes in order.
func (d *Data) Nodes() []Node {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, c.nodeLocked(n))
	}
	return out
}

// AddNode adds a node with the next free code: A, B, C… for the only member of a session, the
// member's letter followed by a, b, c… when there are others.
func (d *Data) AddNode() (Node, error) {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.idleLocked(); err != nil {
		return Node{}, err
	}
	if len(c.nodes) >= protocol.MaxNodes {
		return Node{}, fmt.Errorf("a member has at most %d data nodes", protocol.MaxNodes)
	}
	n := &nodeState{code: c.nextCodeLocked()}
	c.nodes = append(c.nodes, n)
	c.dataChangedLocked()
	return c.nodeLocked(n), nil
}

// addNodeCode adds a node with code: a shared profile's nodes keep their codes, which its other
// members' rules may name.
func (d *Data) addNodeCode(code string) error {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.idleLocked(); err != nil {
		return err
	}
	if c.nodeIndexLocked(code) >= 0 || len(c.nodes) >= protocol.MaxNodes {
		return fmt.Errorf("data node %s is there already, or there are %d", code, protocol.MaxNodes)
	}
	c.nodes = append(c.nodes, &nodeState{code: code})
	c.dataChangedLocked()
	return nil
}

// RemoveNode removes a node with its sources.
func (d *Data) RemoveNode(code string) error {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.idleLocked(); err != nil {
		return err
	}
	i := c.nodeIndexLocked(code)
	if i < 0 {
		return fmt.Errorf("there is no data node %q", code)
	}
	c.nodes = slices.Delete(c.nodes, i, i+1)
	c.dataChangedLocked()
	return nil
}

// AddSource adds a folder or a file to a node. The path must be absolute (or start with ~/),
// exist, not be a symbolic link, and neither hold nor lie inside another data source.
func (d *Data) AddSource(node, path string) (Source, error) {
	abs, kind, err := checkSourcePath(path)
	if err != nil {
		return Source{}, err
	}
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.idleLocked(); err != nil {
		return Source{}, err
	}
	i := c.nodeIndexLocked(node)
	if i < 0 {
		return Source{}, fmt.Errorf("there is no data node %q", node)
	}
	n := c.nodes[i]
	if len(n.sources) >= protocol.MaxSourcesNode {
		return Source{}, fmt.Errorf("a data node holds at most %d data sources", protocol.MaxSourcesNode)
	}
	for _, other := range c.nodes {
		for j, s := range other.sources {
			code := sourceCode(other.code, j)
			switch {
			case s.path == abs:
				return Source{}, fmt.Errorf("%s is already data source %s", abs, code)
			case within(abs, s.path):
				return Source{}, fmt.Errorf("%s is inside data source %s (%s): data sources must not overlap", abs, code, s.path)
			case within(s.path, abs):
				return Source{}, fmt.Errorf("%s holds data source %s (%s): data sources must not overlap", abs, code, s.path)
			}
		}
	}
	n.sources = append(n.sources, sourceState{path: abs, kind: kind})
	c.dataChangedLocked()
	return Source{Code: sourceCode(n.code, len(n.sources)-1), Path: abs, Kind: kind}, nil
}

// RemoveSource removes a data source; the node's later sources take the codes down by one.
func (d *Data) RemoveSource(code string) error {
	c := d.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.idleLocked(); err != nil {
		return err
	}
	for _, n := range c.nodes {
		for j := range n.sources {
			if sourceCode(n.code, j) == code {
				n.sources = slices.Delete(n.sources, j, j+1)
				c.dataChangedLocked()
				return nil
			}
		}
	}
	return fmt.Errorf("there is no data source %q", code)
}

// PickFolder asks for a folder with the native dialog, which opens on the folder chosen last,
// else the home folder; "" when cancelled.
func (d *Data) PickFolder() (string, error) {
	d.mu.Lock()
	start := d.lastFolder
	d.mu.Unlock()
	if start == "" {
		start, _ = os.UserHomeDir()
	}
	p, err := d.c.window().pickFolder("Choose a folder to synchronize", start)
	if err != nil {
		return "", fmt.Errorf("the folder dialog did not open (%w): type the folder's path instead", err)
	}
	if p != "" {
		d.mu.Lock()
		d.lastFolder = p
		d.mu.Unlock()
	}
	return p, nil
}

// CreateFolder creates the folder at path (absolute, or starting with ~/) with its missing
// parents, and returns its clean path. A folder already there is fine.
func (d *Data) CreateFolder(path string) (string, error) {
	p, err := cleanPath(path)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return "", fmt.Errorf("%s cannot be created (%w): choose another place", p, osReason(err))
	}
	return p, nil
}

// PickFile asks for a file with the native dialog; "" when cancelled.
func (d *Data) PickFile() (string, error) {
	p, err := d.c.window().pickFile("Choose a file to synchronize")
	if err != nil {
		return "", fmt.Errorf("choose a file: %w", err)
	}
	return p, nil
}

// dataChangedLocked drops the comparison of the nodes before and has the session's other
// members shown the nodes now. c.mu is held.
func (c *core) dataChangedLocked() {
	c.an.forgetInventory()
	if c.sess != nil {
		c.sess.decl.kick()
	}
}

// specsLocked are the nodes as the inventory takes them.
func (c *core) specsLocked() []plan.NodeSpec {
	specs := make([]plan.NodeSpec, 0, len(c.nodes))
	for _, n := range c.nodes {
		s := plan.NodeSpec{Code: n.code}
		for _, src := range n.sources {
			s.Roots = append(s.Roots, src.path)
		}
		specs = append(specs, s)
	}
	return specs
}

// checkNodesLocked tells what keeps the nodes from being inventoried.
func (c *core) checkNodesLocked() error {
	switch {
	case c.sess != nil && (len(c.sess.info.Members) > 1 || c.shared != nil):
		// The other computers bring the other folders: the session's flow checks there are two.
		if len(c.nodes) == 0 {
			return errors.New("add a folder of this computer to the session")
		}
	case len(c.nodes) < 2:
		return errors.New("add at least two data nodes, each with a data source")
	}
	for _, n := range c.nodes {
		if len(n.sources) == 0 {
			return fmt.Errorf("data node %s has no data source", n.code)
		}
	}
	return nil
}

func (c *core) nodeLocked(n *nodeState) Node {
	out := Node{Code: n.code, Member: c.letterLocked(), Sources: make([]Source, 0, len(n.sources))}
	for j, s := range n.sources {
		out.Sources = append(out.Sources, Source{Code: sourceCode(n.code, j), Path: s.path, Kind: s.kind})
	}
	return out
}

func (c *core) nodeIndexLocked(code string) int {
	return slices.IndexFunc(c.nodes, func(n *nodeState) bool { return n.code == code })
}

// letterLocked is this member's letter ("A" outside a session).
func (c *core) letterLocked() string {
	if c.sess == nil {
		return "A"
	}
	return c.sess.info.letter()
}

// nextCodeLocked is the first free node code.
func (c *core) nextCodeLocked() string {
	taken := func(code string) bool { return c.nodeIndexLocked(code) >= 0 }
	if c.sess != nil && (len(c.sess.info.Members) > 1 || c.shared != nil) {
		letter := c.sess.info.letter()
		for r := 'a'; r <= 'z'; r++ {
			if code := letter + string(r); !taken(code) {
				return code
			}
		}
	}
	for r := 'A'; r <= 'Z'; r++ {
		if code := string(r); !taken(code) {
			return code
		}
	}
	return "" // unreachable: at most protocol.MaxNodes nodes
}

func sourceCode(node string, i int) string { return node + strconv.Itoa(i+1) }

// within tells whether path p lies strictly inside folder dir.
func within(p, dir string) bool {
	if dir == string(filepath.Separator) {
		return p != dir
	}
	return strings.HasPrefix(p, dir+string(filepath.Separator))
}

// cleanPath makes p absolute (~/ is the home folder) and clean.
func cleanPath(p string) (string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return "", errors.New("give the path of a folder or a file")
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("%s: the home folder is unknown (%w): give the full path", p, err)
		}
		p = filepath.Join(home, p[1:])
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%q is not an absolute path: give the full path, starting with /", p)
	}
	return filepath.Clean(p), nil
}

// osReason is a file system error without the system call and path it names (which the
// message around it says in words): "permission denied", not "mkdir /x: permission denied".
func osReason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkSourcePath cleans a data source path and tells its kind.
func checkSourcePath(path string) (abs, kind string, err error) {
	p, err := cleanPath(path)
	if err != nil {
		return "", "", err
	}
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Errorf("%s does not exist", p)
	case err != nil:
		return "", "", fmt.Errorf("%s cannot be read (%w): check its permissions, or choose another one", p, osReason(err))
	case fi.Mode()&fs.ModeSymlink != 0:
		return "", "", fmt.Errorf("%s is a symbolic link; Ferry does not follow links: choose the folder or file it points to", p)
	case fi.IsDir():
		return p, KindFolder, nil
	case fi.Mode().IsRegular():
		return p, KindFile, nil
	}
	return "", "", fmt.Errorf("%s is neither a folder nor a regular file", p)
}
