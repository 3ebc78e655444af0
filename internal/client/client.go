// Package client talks to Wild Central's API for the CLI's remote mode.
// It gives back the service layer's own types: results decode into the
// lifecycle structs, events arrive on an event.Observer, and API errors
// become *problem.Error with their code and hint, so the CLI prints the
// same words and exits with the same codes as in local mode.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wild-cloud/wild/internal/event"
	"github.com/wild-cloud/wild/internal/problem"
	"github.com/wild-cloud/wild/internal/wire"
)

// Client calls one Wild Central with one token.
type Client struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// New returns a client for base (e.g. http://127.0.0.1:5055).
func New(base, token string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{}}
}

// Do sends a JSON request to an API path (under /api/v1) and decodes the
// answer into out (nil to drop it). API errors come back as *problem.Error.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	res, err := c.send(ctx, method, path, in, "")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return decodeError(res)
	}
	if out == nil || res.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: bad answer from Wild Central: %w", method, path, err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, in any, lastID string) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+"/api/v1"+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, problem.Wrap(problem.Unavailable, err, "cannot reach Wild Central at "+c.Base).
			With("server.check", "check that wild serve runs there")
	}
	return res, nil
}

func decodeError(res *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var e struct{ Error wire.ErrorBody }
	if json.Unmarshal(b, &e) != nil || e.Error.Message == "" {
		return problem.New(problem.Internal, fmt.Sprintf("Wild Central answered %s: %s", res.Status, strings.TrimSpace(string(b))))
	}
	pe := e.Error.Problem()
	if res.StatusCode == http.StatusUnauthorized {
		pe.With("login", "sign in again")
	}
	return pe
}

// Run starts an operation (a 202 answer), relays its events to obs as they
// happen, and decodes its result into out. A dropped stream reconnects
// with Last-Event-ID, so no event is lost or shown twice.
func (c *Client) Run(ctx context.Context, method, path string, in any, obs event.Observer, out any) (wire.RunInfo, error) {
	var ri wire.RunInfo
	if err := c.Do(ctx, method, path, in, &ri); err != nil {
		return ri, err
	}
	if err := c.Follow(ctx, ri.ID, obs); err != nil {
		return ri, err
	}
	if err := c.Do(ctx, http.MethodGet, "/operations/"+ri.ID, nil, &ri); err != nil {
		return ri, err
	}
	if out != nil && len(ri.Result) > 0 {
		if err := json.Unmarshal(ri.Result, out); err != nil {
			return ri, fmt.Errorf("operation %s: bad result: %w", ri.ID, err)
		}
	}
	if ri.Error != nil {
		return ri, ri.Error.Problem()
	}
	return ri, nil
}

// Follow relays one operation's events until it ends.
func (c *Client) Follow(ctx context.Context, id string, obs event.Observer) error {
	last := ""
	for attempt := 0; ; attempt++ {
		done, err := c.stream(ctx, id, &last, obs)
		if done {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= 20 {
			return fmt.Errorf("lost the event stream of %s: %w", id, err)
		}
		time.Sleep(time.Duration(min(attempt+1, 5)) * 200 * time.Millisecond)
	}
}

// stream reads until the operation's terminal status (done) or the
// connection drops; last tracks the newest event id seen.
func (c *Client) stream(ctx context.Context, id string, last *string, obs event.Observer) (bool, error) {
	res, err := c.send(ctx, http.MethodGet, "/events?op="+url.QueryEscape(id), nil, *last)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, decodeError(res)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var evID string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			evID = line[4:]
		case strings.HasPrefix(line, "data: "):
			var env wire.Envelope
			if json.Unmarshal([]byte(line[6:]), &env) != nil {
				continue
			}
			*last = evID
			if env.Event != nil && obs != nil {
				obs.Observe(*env.Event)
			}
			if env.Status != "" && env.Status != wire.Running {
				return true, nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return false, errors.New("the stream ended early")
}
