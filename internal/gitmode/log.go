package gitmode

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/names"
)

// Entry is one commit in `wild instance log`.
type Entry struct {
	Commit  string    `json:"commit"`
	Short   string    `json:"short"`
	Author  string    `json:"author"`
	Date    time.Time `json:"date"`
	Message string    `json:"message"`
}

// Log lists commits, newest first. With app set, only commits touching
// apps/<app>/ or scoped to it (config(ghost): ... changes config.yaml only).
// limit <= 0 means all.
func Log(inst *instance.Instance, app string, limit int) ([]Entry, error) {
	if app != "" {
		if err := names.Validate("app", app); err != nil {
			return nil, err
		}
	}
	if !IsRepo(inst) {
		return nil, errNotRepo(inst)
	}
	r, err := open(inst)
	if err != nil {
		return nil, err
	}
	if _, err := r.Head(); err != nil {
		return []Entry{}, nil // no commits yet
	}
	it, err := r.Log(&git.LogOptions{Order: git.LogOrderCommitterTime})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []Entry{}
	for limit <= 0 || len(out) < limit {
		c, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if app != "" {
			ok, err := concerns(c, app)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		out = append(out, Entry{
			Commit: c.Hash.String(), Short: c.Hash.String()[:8], Author: c.Author.Name,
			Date: c.Author.When, Message: strings.TrimSpace(c.Message),
		})
	}
	return out, nil
}

func concerns(c *object.Commit, app string) (bool, error) {
	if Scope(c.Message) == app {
		return true, nil
	}
	prefix := path.Join(instance.AppsDir, app) + "/"
	tree, err := c.Tree()
	if err != nil {
		return false, err
	}
	var parent *object.Tree
	if c.NumParents() > 0 {
		p, err := c.Parent(0)
		if err != nil {
			return false, err
		}
		if parent, err = p.Tree(); err != nil {
			return false, err
		}
	}
	// Only names are compared, so no file contents are diffed.
	changes, err := object.DiffTree(parent, tree)
	if err != nil {
		return false, err
	}
	for _, ch := range changes {
		if strings.HasPrefix(ch.From.Name, prefix) || strings.HasPrefix(ch.To.Name, prefix) {
			return true, nil
		}
	}
	return false, nil
}

func errNotRepo(inst *instance.Instance) error {
	return fmt.Errorf("instance %s is not a git repository; make it one with: wild instance git init", inst.Name)
}

// pendingFile holds the commit message of an update that stopped on
// conflicts, kept inside .git/ because it is about this checkout.
func pendingFile(inst *instance.Instance, app string) string {
	return inst.Path(git.GitDirName, "wild-pending-"+app)
}

// SetPending records the message to commit once app's conflicts are
// resolved.
func SetPending(inst *instance.Instance, app, message string) error {
	return fsutil.WriteFileAtomic(pendingFile(inst, app), []byte(message), 0o644)
}

// Pending returns the message recorded by SetPending, or "".
func Pending(inst *instance.Instance, app string) string {
	b, err := os.ReadFile(pendingFile(inst, app))
	if err != nil {
		return ""
	}
	return string(b)
}

// ClearPending forgets a pending message.
func ClearPending(inst *instance.Instance, app string) {
	_ = os.Remove(pendingFile(inst, app))
}

// FileHistory calls fn with file's content at each commit from HEAD
// backwards (at most limit commits) until fn returns true.
func FileHistory(inst *instance.Instance, file string, limit int, fn func(data []byte) bool) error {
	if !IsRepo(inst) {
		return nil
	}
	r, err := open(inst)
	if err != nil {
		return err
	}
	if _, err := r.Head(); err != nil {
		return nil
	}
	it, err := r.Log(&git.LogOptions{Order: git.LogOrderCommitterTime})
	if err != nil {
		return err
	}
	defer it.Close()
	for n := 0; n < limit; n++ {
		c, err := it.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		f, err := c.File(file)
		if err != nil {
			continue
		}
		s, err := f.Contents()
		if err == nil && fn([]byte(s)) {
			return nil
		}
	}
	return nil
}
