package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wild-cloud/wild/internal/auth"
	"github.com/wild-cloud/wild/internal/central"
	"github.com/wild-cloud/wild/internal/problem"
)

// SessionCookie holds a browser's session id.
const SessionCookie = "wild_session"

// Authenticate finds the principal of a request: a bearer token, else a
// session cookie. The UI and /metrics use it too.
func (s *Server) Authenticate(r *http.Request) (auth.Principal, error) {
	return s.principal(r.Header.Get("Authorization"), func() string {
		c, err := r.Cookie(SessionCookie)
		if err != nil {
			return ""
		}
		return c.Value
	})
}

func (s *Server) principal(authz string, cookie func() string) (auth.Principal, error) {
	if tok, ok := strings.CutPrefix(authz, "Bearer "); ok {
		return s.Auth.Token(strings.TrimSpace(tok))
	}
	if sid := cookie(); sid != "" {
		return s.Auth.Session(sid)
	}
	return auth.Principal{}, auth.ErrUnauthorized
}

// authorize checks every huma operation against the scope it declares.
func (s *Server) authorize(ctx huma.Context, next func(huma.Context)) {
	need, _ := ctx.Operation().Metadata["scope"].(auth.Scope)
	if need == "" {
		next(ctx)
		return
	}
	p, err := s.principal(ctx.Header("Authorization"), func() string { return cookieValue(ctx.Header("Cookie"), SessionCookie) })
	if err != nil {
		_ = huma.WriteErr(s.api, ctx, http.StatusUnauthorized, "sign in first: not signed in or the credentials are wrong")
		return
	}
	if !p.Scope.Allows(need) {
		_ = huma.WriteErr(s.api, ctx, http.StatusForbidden, fmt.Sprintf("this needs scope %q; %s %q has %q", need, p.Kind, p.Name, p.Scope))
		return
	}
	next(huma.WithValue(ctx, principalKey, p))
}

func cookieValue(header, name string) string {
	r := http.Request{Header: http.Header{"Cookie": {header}}}
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

func clientIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

type setupIn struct {
	Body struct {
		Token    string `json:"token" minLength:"1" maxLength:"200" doc:"The token from the setup link wild serve printed."`
		Password string `json:"password" minLength:"1" maxLength:"200" doc:"The new admin password (at least 10 characters)."`
	}
}

type loginIn struct {
	Body struct {
		Password string `json:"password" minLength:"1" maxLength:"200"`
		// IssueToken makes the login return an API token instead of a
		// cookie: that is how `wild login` signs the CLI in.
		IssueToken string `json:"issueToken,omitempty" maxLength:"64" doc:"Return a new admin API token with this name instead of a session cookie (for the CLI)."`
	}
}

type sessionOut struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
	Body      struct {
		Principal auth.Principal `json:"principal"`
		Token     string         `json:"token,omitempty" doc:"The API token, shown this once."`
	}
}

type meOut struct {
	Body struct {
		Principal  auth.Principal `json:"principal"`
		NeedsSetup bool           `json:"needsSetup"`
	}
}

type empty struct{}

func (s *Server) session(sid string) http.Cookie {
	return http.Cookie{Name: SessionCookie, Value: sid, Path: "/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.Auth.SessionTTL.Seconds())}
}

func (s *Server) authRoutes() {
	tags := []string{"auth"}
	register(s, op{id: "setup", method: http.MethodPost, path: "/auth/setup", tags: tags,
		summary: "Set the admin password with the one-time setup token"}, func(ctx context.Context, in *setupIn) (*sessionOut, error) {
		sid, err := s.Auth.CompleteSetup(in.Body.Token, in.Body.Password)
		if err != nil {
			return nil, err
		}
		out := &sessionOut{SetCookie: s.session(sid)}
		out.Body.Principal = auth.Principal{Kind: "session", Name: "admin", Scope: auth.Admin}
		return out, nil
	})
	register(s, op{id: "login", method: http.MethodPost, path: "/auth/login", tags: tags,
		summary: "Sign in with the admin password"}, s.login)
	register(s, op{id: "logout", method: http.MethodPost, path: "/auth/logout", tags: tags, scope: auth.Read,
		summary: "Sign out this browser session"}, func(ctx context.Context, in *struct {
		Session string `cookie:"wild_session"`
	}) (*sessionOut, error) {
		if in.Session != "" {
			if err := s.Auth.Logout(in.Session); err != nil {
				return nil, err
			}
		}
		out := &sessionOut{SetCookie: http.Cookie{Name: SessionCookie, Path: "/", HttpOnly: true, Secure: s.Secure,
			SameSite: http.SameSiteStrictMode, MaxAge: -1}}
		out.Body.Principal = PrincipalOf(ctx)
		return out, nil
	})
	register(s, op{id: "me", method: http.MethodGet, path: "/auth/me", tags: tags, scope: auth.Read,
		summary: "Who am I"}, func(ctx context.Context, _ *empty) (*meOut, error) {
		out := &meOut{}
		out.Body.Principal = PrincipalOf(ctx)
		return out, nil
	})
}

// login is rate limited per client address; only failures count.
func (s *Server) login(ctx context.Context, in *loginIn) (*sessionOut, error) {
	ip := remoteOf(ctx)
	if ok, wait := s.Limiter.Allow(ip); !ok {
		return nil, problem.New(problem.TooManyRequests, fmt.Sprintf("too many failed sign-ins; try again in %s", wait.Round(time.Second)))
	}
	sid, err := s.Auth.Login(in.Body.Password)
	if err != nil {
		if problem.CodeOf(err) == problem.Unauthorized {
			s.Limiter.Fail(ip)
			_ = s.Audit.Record(central.AuditEntry{Who: "?", Action: "login.failed", Remote: ip})
		}
		return nil, err
	}
	out := &sessionOut{}
	out.Body.Principal = auth.Principal{Kind: "session", Name: "admin", Scope: auth.Admin}
	if in.Body.IssueToken == "" {
		out.SetCookie = s.session(sid)
		return out, nil
	}
	// The CLI wants a token, not a browser session.
	_ = s.Auth.Logout(sid)
	tok, info, err := s.Auth.CreateToken(in.Body.IssueToken, auth.Admin)
	if err != nil {
		return nil, err
	}
	_ = s.Audit.Record(central.AuditEntry{Who: "admin", Action: "token.create", Target: info.ID, Remote: ip})
	out.Body.Token = tok
	out.Body.Principal = auth.Principal{Kind: "token", Name: info.Name, Scope: info.Scope}
	return out, nil
}

type tokenCreateIn struct {
	Body struct {
		Name  string     `json:"name" minLength:"1" maxLength:"64"`
		Scope auth.Scope `json:"scope" enum:"read,operate,admin"`
	}
}

type tokenCreateOut struct {
	Body struct {
		Token string         `json:"token" doc:"The token, shown this once."`
		Info  auth.TokenInfo `json:"info"`
	}
}

type tokenListOut struct {
	Body struct {
		Tokens []auth.TokenInfo `json:"tokens"`
	}
}

type tokenIDIn struct {
	ID string `path:"id" maxLength:"64"`
}

func (s *Server) tokenRoutes() {
	tags := []string{"tokens"}
	register(s, op{id: "create-token", method: http.MethodPost, path: "/tokens", scope: auth.Admin, status: http.StatusCreated, tags: tags,
		summary: "Create an API token (shown once)"}, func(ctx context.Context, in *tokenCreateIn) (*tokenCreateOut, error) {
		tok, info, err := s.Auth.CreateToken(in.Body.Name, in.Body.Scope)
		if err != nil {
			return nil, err
		}
		s.audit(ctx, "token.create", "", info.ID)
		out := &tokenCreateOut{}
		out.Body.Token, out.Body.Info = tok, info
		return out, nil
	})
	register(s, op{id: "list-tokens", method: http.MethodGet, path: "/tokens", scope: auth.Admin, tags: tags,
		summary: "List API tokens (never the tokens themselves)"}, func(ctx context.Context, _ *empty) (*tokenListOut, error) {
		ts, err := s.Auth.Tokens()
		out := &tokenListOut{}
		out.Body.Tokens = ts
		return out, err
	})
	register(s, op{id: "revoke-token", method: http.MethodDelete, path: "/tokens/{id}", scope: auth.Admin, status: http.StatusNoContent, tags: tags,
		summary: "Revoke an API token"}, func(ctx context.Context, in *tokenIDIn) (*empty, error) {
		if err := s.Auth.RevokeToken(in.ID); err != nil {
			return nil, err
		}
		s.audit(ctx, "token.revoke", "", in.ID)
		return &empty{}, nil
	})
}

func (s *Server) audit(ctx context.Context, action, inst, target string) {
	p := PrincipalOf(ctx)
	_ = s.Audit.Record(central.AuditEntry{Who: p.Kind + ":" + p.Name, Action: action, Instance: inst, Target: target, Remote: remoteOf(ctx)})
}
