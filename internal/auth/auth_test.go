package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/wild-cloud/wild/internal/problem"
)

func TestSetupLoginSessionsTokens(t *testing.T) {
	s := Open(t.TempDir())
	now := time.Now()
	s.now = func() time.Time { return now }
	tok, err := s.NewSetupToken(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteSetup(tok, "short"); problem.CodeOf(err) != problem.Invalid {
		t.Fatalf("short password: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := s.CompleteSetup(tok, "long enough password"); problem.CodeOf(err) != problem.Unauthorized {
		t.Fatalf("expired setup token: %v", err)
	}
	tok, _ = s.NewSetupToken(time.Minute)
	sid, err := s.CompleteSetup(tok, "long enough password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteSetup(tok, "another password!"); err == nil {
		t.Fatal("setup token reused")
	}
	if p, err := s.Session(sid); err != nil || p.Scope != Admin {
		t.Fatalf("session: %+v %v", p, err)
	}
	if _, err := s.Login("wrong password"); err != ErrUnauthorized {
		t.Fatalf("wrong password: %v", err)
	}
	sid2, err := s.Login("long enough password")
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(s.SessionTTL + time.Second)
	if _, err := s.Session(sid2); err == nil {
		t.Fatal("expired session accepted")
	}

	plain, info, err := s.CreateToken("ci", Operate)
	if err != nil || !strings.HasPrefix(plain, "wild_"+info.ID+"_") {
		t.Fatalf("token %q %+v %v", plain, info, err)
	}
	p, err := s.Token(plain)
	if err != nil || p.Scope != Operate || !p.Scope.Allows(Read) || p.Scope.Allows(Admin) {
		t.Fatalf("token principal %+v %v", p, err)
	}
	if _, err := s.Token(plain + "x"); err == nil {
		t.Fatal("a wrong token was accepted")
	}
	if err := s.RevokeToken(info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token(plain); err == nil {
		t.Fatal("a revoked token was accepted")
	}
	if err := s.RevokeToken("nope"); problem.CodeOf(err) != problem.NotFound {
		t.Fatalf("revoke unknown: %v", err)
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(2, time.Minute)
	now := time.Now()
	l.now = func() time.Time { return now }
	l.Fail("a")
	l.Fail("a")
	if ok, wait := l.Allow("a"); ok || wait <= 0 {
		t.Fatalf("after 2 failures: %v %v", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another client was limited")
	}
	now = now.Add(61 * time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("the window did not slide")
	}
}
