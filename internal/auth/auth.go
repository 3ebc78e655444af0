// Package auth is Wild Central's authentication: the admin password set
// through a one-time setup link, browser sessions and scoped API tokens.
// Everything secret is stored hashed, in one 0600 file that is written
// atomically under a lock, so the CLI and the daemon can both edit it.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wild-cloud/wild/internal/fsutil"
	"github.com/wild-cloud/wild/internal/problem"
)

// Scope is what a principal may do. Each scope includes the ones below it.
type Scope string

const (
	Read    Scope = "read"
	Operate Scope = "operate"
	Admin   Scope = "admin"
)

func (s Scope) rank() int { return slices.Index([]Scope{Read, Operate, Admin}, s) }

// Allows reports whether s includes need.
func (s Scope) Allows(need Scope) bool { return s.rank() >= need.rank() && need.rank() >= 0 }

// ParseScope validates a scope name.
func ParseScope(s string) (Scope, error) {
	sc := Scope(s)
	if sc.rank() < 0 {
		return "", problem.New(problem.Invalid, fmt.Sprintf("unknown scope %q: use read, operate or admin", s))
	}
	return sc, nil
}

// Principal is who made a request.
type Principal struct {
	Kind  string `json:"kind"` // session or token
	Name  string `json:"name"`
	Scope Scope  `json:"scope"`
}

// TokenInfo describes an API token; the token itself is never stored.
type TokenInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scope     Scope     `json:"scope"`
	CreatedAt time.Time `json:"createdAt"`
	Revoked   bool      `json:"revoked,omitempty"`
}

type tokenRec struct {
	TokenInfo
	Hash string `json:"hash"`
}

type sessionRec struct {
	Hash    string    `json:"hash"`
	Expires time.Time `json:"expires"`
}

type state struct {
	PasswordHash string       `json:"passwordHash,omitempty"`
	SetupHash    string       `json:"setupHash,omitempty"`
	SetupExpires time.Time    `json:"setupExpires,omitzero"`
	Tokens       []tokenRec   `json:"tokens,omitempty"`
	Sessions     []sessionRec `json:"sessions,omitempty"`
}

// Store keeps the auth state of one data dir.
type Store struct {
	dir string
	// SessionTTL is how long a browser session lasts.
	SessionTTL time.Duration
	now        func() time.Time
}

// Open returns the store kept in dir (created on first write).
func Open(dir string) *Store {
	return &Store{dir: dir, SessionTTL: 12 * time.Hour, now: time.Now}
}

func (s *Store) file() string { return filepath.Join(s.dir, "auth.json") }

// ErrUnauthorized is returned for any failed credential check; it never says
// which part was wrong.
var ErrUnauthorized = problem.New(problem.Unauthorized, "not signed in or the credentials are wrong")

func (s *Store) read() (*state, error) {
	b, err := os.ReadFile(s.file())
	if errors.Is(err, os.ErrNotExist) {
		return &state{}, nil
	}
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove it; wild never overwrites a file it cannot read)", s.file(), err)
	}
	return &st, nil
}

// view reads the state under a shared lock.
func (s *Store) view() (*state, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	unlock, err := fsutil.RLock(s.file() + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.read()
}

// update changes the state under an exclusive lock and writes it atomically.
func (s *Store) update(fn func(st *state) error) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	unlock, err := fsutil.Lock(s.file() + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.read()
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	s.dropExpired(st)
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(s.file(), b, 0o600)
}

func (s *Store) dropExpired(st *state) {
	now := s.now()
	st.Sessions = slices.DeleteFunc(st.Sessions, func(r sessionRec) bool { return now.After(r.Expires) })
}

// NeedsSetup reports whether no admin password is set yet.
func (s *Store) NeedsSetup() (bool, error) {
	st, err := s.view()
	if err != nil {
		return false, err
	}
	return st.PasswordHash == "", nil
}

// SetupTTL is how long Wild Central's first-start setup link stays valid.
const SetupTTL = time.Hour

// NewSetupToken makes a one-time token for the setup link, valid for ttl.
// Only its hash is kept; it replaces any earlier one.
func (s *Store) NewSetupToken(ttl time.Duration) (string, error) {
	tok, err := random(24)
	if err != nil {
		return "", err
	}
	return tok, s.update(func(st *state) error {
		if st.PasswordHash != "" {
			return problem.New(problem.Conflict, "the admin password is already set")
		}
		st.SetupHash, st.SetupExpires = hash(tok), s.now().Add(ttl)
		return nil
	})
}

// MinPassword is the shortest admin password accepted.
const MinPassword = 10

// CompleteSetup sets the admin password with a valid setup token, and
// returns a new session.
func (s *Store) CompleteSetup(token, password string) (string, error) {
	if len(password) < MinPassword {
		return "", problem.New(problem.Invalid, fmt.Sprintf("the password must have at least %d characters", MinPassword))
	}
	ph, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	sid, err := random(32)
	if err != nil {
		return "", err
	}
	return sid, s.update(func(st *state) error {
		if st.PasswordHash != "" {
			return problem.New(problem.Conflict, "the admin password is already set; sign in instead")
		}
		if st.SetupHash == "" || s.now().After(st.SetupExpires) || !equalHash(st.SetupHash, hash(token)) {
			return problem.New(problem.Unauthorized, "the setup link is invalid or expired; restart wild serve for a new one")
		}
		st.PasswordHash, st.SetupHash, st.SetupExpires = string(ph), "", time.Time{}
		st.Sessions = append(st.Sessions, sessionRec{Hash: hash(sid), Expires: s.now().Add(s.SessionTTL)})
		return nil
	})
}

// Login checks the admin password and returns a new session id.
func (s *Store) Login(password string) (string, error) {
	st, err := s.view()
	if err != nil {
		return "", err
	}
	if st.PasswordHash == "" {
		return "", problem.New(problem.PreconditionFailed, "no admin password is set yet; open the setup link that wild serve printed")
	}
	if bcrypt.CompareHashAndPassword([]byte(st.PasswordHash), []byte(password)) != nil {
		return "", ErrUnauthorized
	}
	sid, err := random(32)
	if err != nil {
		return "", err
	}
	return sid, s.update(func(st *state) error {
		st.Sessions = append(st.Sessions, sessionRec{Hash: hash(sid), Expires: s.now().Add(s.SessionTTL)})
		return nil
	})
}

// Logout ends a session.
func (s *Store) Logout(sid string) error {
	h := hash(sid)
	return s.update(func(st *state) error {
		st.Sessions = slices.DeleteFunc(st.Sessions, func(r sessionRec) bool { return r.Hash == h })
		return nil
	})
}

// Session returns the principal of a live session.
func (s *Store) Session(sid string) (Principal, error) {
	st, err := s.view()
	if err != nil {
		return Principal{}, err
	}
	h, now := hash(sid), s.now()
	for _, r := range st.Sessions {
		if equalHash(r.Hash, h) && now.Before(r.Expires) {
			return Principal{Kind: "session", Name: "admin", Scope: Admin}, nil
		}
	}
	return Principal{}, ErrUnauthorized
}

const tokenPrefix = "wild_"

// CreateToken makes an API token. The returned string is the only time the
// token is shown; only its hash is kept.
func (s *Store) CreateToken(name string, scope Scope) (string, TokenInfo, error) {
	if strings.TrimSpace(name) == "" || len(name) > 64 {
		return "", TokenInfo{}, problem.New(problem.Invalid, "a token needs a name of 1 to 64 characters")
	}
	if scope.rank() < 0 {
		return "", TokenInfo{}, problem.New(problem.Invalid, fmt.Sprintf("unknown scope %q: use read, operate or admin", scope))
	}
	id, err := random(6)
	if err != nil {
		return "", TokenInfo{}, err
	}
	secret, err := random(32)
	if err != nil {
		return "", TokenInfo{}, err
	}
	id = strings.NewReplacer("-", "x", "_", "y").Replace(id)
	info := TokenInfo{ID: id, Name: name, Scope: scope, CreatedAt: s.now().UTC()}
	err = s.update(func(st *state) error {
		st.Tokens = append(st.Tokens, tokenRec{TokenInfo: info, Hash: hash(secret)})
		return nil
	})
	return tokenPrefix + id + "_" + secret, info, err
}

// Tokens lists the API tokens (never the tokens themselves).
func (s *Store) Tokens() ([]TokenInfo, error) {
	st, err := s.view()
	if err != nil {
		return nil, err
	}
	out := make([]TokenInfo, 0, len(st.Tokens))
	for _, t := range st.Tokens {
		out = append(out, t.TokenInfo)
	}
	return out, nil
}

// RevokeToken makes a token unusable at once.
func (s *Store) RevokeToken(id string) error {
	return s.update(func(st *state) error {
		for i := range st.Tokens {
			if st.Tokens[i].ID == id {
				st.Tokens[i].Revoked = true
				return nil
			}
		}
		return problem.New(problem.NotFound, fmt.Sprintf("no token with id %q", id)).With("token.list", "list the tokens")
	})
}

// Token returns the principal of a valid API token.
func (s *Store) Token(tok string) (Principal, error) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	id, secret, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 {
		return Principal{}, ErrUnauthorized
	}
	st, err := s.view()
	if err != nil {
		return Principal{}, err
	}
	h := hash(secret)
	for _, t := range st.Tokens {
		if t.ID == id && !t.Revoked && equalHash(t.Hash, h) {
			return Principal{Kind: "token", Name: t.Name, Scope: t.Scope}, nil
		}
	}
	return Principal{}, ErrUnauthorized
}

func random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hash is for high-entropy secrets (tokens, session ids), where a fast hash
// is enough; the password uses bcrypt.
func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func equalHash(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
