package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/wild-cloud/wild/internal/auth"
	"github.com/wild-cloud/wild/internal/central"
	"github.com/wild-cloud/wild/internal/names"
	"github.com/wild-cloud/wild/internal/wire"
)

// accepted is the answer to every mutating call: the operation, running.
type accepted struct {
	Location string `header:"Location"`
	Body     wire.RunInfo
}

func (s *Server) start(ctx context.Context, spec central.Spec) (*accepted, error) {
	p := PrincipalOf(ctx)
	spec.By = p.Kind + ":" + p.Name
	ri, err := s.Runner.Start(spec)
	if err != nil {
		return nil, err
	}
	return &accepted{Location: Prefix + "/operations/" + ri.ID, Body: ri}, nil
}

type opIDIn struct {
	ID string `path:"id" maxLength:"200" pattern:"^[A-Za-z0-9_-]+$"`
}

type opListIn struct {
	Instance string `query:"instance" maxLength:"63"`
	App      string `query:"app" maxLength:"63"`
}

type runOut struct{ Body wire.RunInfo }

type runsOut struct {
	Body struct {
		Operations []wire.RunInfo `json:"operations"`
	}
}

type envelopesOut struct {
	Body struct {
		Events []wire.Envelope `json:"events"`
	}
}

type eventsIn struct {
	Op          string `query:"op" maxLength:"200" doc:"Only this operation's events; the stream ends when it ends."`
	Instance    string `query:"instance" maxLength:"63"`
	App         string `query:"app" maxLength:"63"`
	After       int64  `query:"after" minimum:"0" doc:"Replay events after this id (Last-Event-ID wins when both are given)."`
	LastEventID string `header:"Last-Event-ID" maxLength:"20"`
}

func (s *Server) operationRoutes() {
	tags := []string{"operations"}
	register(s, op{id: "list-operations", method: http.MethodGet, path: "/operations", scope: auth.Read, tags: tags,
		summary: "List operations run by Wild Central, newest first"}, func(ctx context.Context, in *opListIn) (*runsOut, error) {
		if err := validNames(in.Instance, in.App); err != nil {
			return nil, err
		}
		out := &runsOut{}
		out.Body.Operations = s.Runner.List(central.Topic{Instance: in.Instance, App: in.App})
		return out, nil
	})
	register(s, op{id: "get-operation", method: http.MethodGet, path: "/operations/{id}", scope: auth.Read, tags: tags,
		summary: "Get one operation with its result or error"}, func(ctx context.Context, in *opIDIn) (*runOut, error) {
		ri, err := s.Runner.Get(in.ID)
		return &runOut{Body: ri}, err
	})
	register(s, op{id: "cancel-operation", method: http.MethodPost, path: "/operations/{id}/cancel", scope: auth.Operate, tags: tags,
		summary: "Cancel a running operation (it stops at its next safe point)"}, func(ctx context.Context, in *opIDIn) (*runOut, error) {
		ri, err := s.Runner.Cancel(in.ID)
		return &runOut{Body: ri}, err
	})
	register(s, op{id: "operation-events", method: http.MethodGet, path: "/operations/{id}/events", scope: auth.Read, tags: tags,
		summary: "The whole event log of one operation"}, func(ctx context.Context, in *opIDIn) (*envelopesOut, error) {
		if _, err := s.Runner.Get(in.ID); err != nil {
			return nil, err
		}
		out := &envelopesOut{}
		out.Body.Events = s.Bus.Since(central.Topic{Op: in.ID}, 0)
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "events", Method: http.MethodGet, Path: Prefix + "/events", Tags: tags,
		Summary:     "Follow events live (Server-Sent Events)",
		Description: "Every message has an id; reconnect with Last-Event-ID to replay what was missed, with no gap. A comment is sent as heartbeat every 15 s. With op=ID the stream ends after that operation's terminal status.",
		Metadata:    map[string]any{"scope": auth.Read},
		Security:    []map[string][]string{{"token": {}}, {"session": {}}},
		Responses: map[string]*huma.Response{"200": {Description: "An event stream", Content: map[string]*huma.MediaType{
			"text/event-stream": {Schema: s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[wire.Envelope](), true, "Envelope")}}}},
	}, func(ctx context.Context, in *eventsIn) (*huma.StreamResponse, error) {
		after, err := s.cursor(in)
		if err != nil {
			return nil, err
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) { s.stream(hctx, in, after) }}, nil
	})
}

func (s *Server) cursor(in *eventsIn) (int64, error) {
	if err := validNames(in.Instance, in.App); err != nil {
		return 0, err
	}
	if in.Op != "" {
		if _, err := s.Runner.Get(in.Op); err != nil {
			return 0, err
		}
	}
	if in.LastEventID == "" {
		return in.After, nil
	}
	id, err := strconv.ParseInt(in.LastEventID, 10, 64)
	if err != nil || id < 0 {
		return 0, invalid("Last-Event-ID %q is not an event id", in.LastEventID)
	}
	return id, nil
}

// stream replays then follows, in one subscription so nothing falls in
// between. A slow client is cut off and replays on reconnect.
func (s *Server) stream(hctx huma.Context, in *eventsIn, after int64) {
	_, w := humago.Unwrap(hctx)
	rc := http.NewResponseController(w)
	hctx.SetHeader("Content-Type", "text/event-stream")
	hctx.SetHeader("Cache-Control", "no-store")
	hctx.SetHeader("X-Accel-Buffering", "no")
	hctx.SetStatus(http.StatusOK)
	s.Metrics.SSEClient(1)
	defer s.Metrics.SSEClient(-1)

	topic := central.Topic{Op: in.Op, Instance: in.Instance, App: in.App}
	replay, ch, cancel := s.Bus.Subscribe(topic, after)
	defer cancel()
	write := func(e wire.Envelope) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if err := writeSSE(w, e); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(wire.Envelope{}) {
		return
	}
	for _, e := range replay {
		if !write(e) || s.ends(in, e) {
			return
		}
	}
	if in.Op != "" && s.opEnded(in.Op) && len(replay) == 0 {
		return
	}
	tick := time.NewTicker(s.Heartbeat)
	defer tick.Stop()
	done := hctx.Context().Done()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case e, ok := <-ch:
			if !ok || !write(e) || s.ends(in, e) {
				return
			}
		}
	}
}

func (s *Server) ends(in *eventsIn, e wire.Envelope) bool {
	return in.Op != "" && e.Status != "" && e.Status != wire.Running
}

func (s *Server) opEnded(id string) bool {
	ri, err := s.Runner.Get(id)
	return err == nil && ri.Terminal()
}

func writeSSE(w http.ResponseWriter, e wire.Envelope) error {
	if e.ID == 0 {
		// The opening comment commits the headers so a client knows it is
		// attached before the first event.
		_, err := fmt.Fprint(w, ": attached\n\n")
		return err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	kind := "event"
	if e.Status != "" {
		kind = "status"
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, kind, b)
	return err
}

// validNames checks optional instance and app filters.
func validNames(inst, app string) error {
	for _, v := range []struct{ kind, name string }{{"instance", inst}, {"app", app}} {
		if v.name != "" {
			if err := names.Validate(v.kind, v.name); err != nil {
				return invalid("%v", err)
			}
		}
	}
	return nil
}
