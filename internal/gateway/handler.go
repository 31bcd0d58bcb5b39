package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/authz"
)

// invokeKind is the kind the gateway authorizes calls against.
const invokeKind = "InferenceService"

func (g *Gateway) routes() {
	g.mux = http.NewServeMux()
	for _, p := range []string{"/v1/chat/completions", "/v1/completions", "/v1/embeddings"} {
		g.mux.HandleFunc("POST "+p, g.serveInference)
	}
	g.mux.HandleFunc("GET /v1/models", g.serveModels)
	g.mux.HandleFunc("GET /v1/usage", g.serveUsage)
	g.mux.HandleFunc("GET /metrics", g.serveMetrics)
	g.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest,
			Message: fmt.Sprintf("%s %s is not served: use POST /v1/chat/completions, /v1/completions, /v1/embeddings or GET /v1/models", r.Method, r.URL.Path)})
	})
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// waitReady holds a request until the gateway knows every service.
func (g *Gateway) waitReady(r *http.Request) *apiError {
	if g.cfg.Ready == nil {
		return nil
	}
	t := time.NewTimer(g.cfg.ColdStartTimeout)
	defer t.Stop()
	select {
	case <-g.cfg.Ready:
		return nil
	case <-r.Context().Done():
		return &apiError{Status: 499, Type: typeServer, Message: "the client closed the request"}
	case <-t.C:
		return errUnavailable("the gateway is starting: retry shortly", 5*time.Second)
	}
}

func (g *Gateway) authenticate(r *http.Request) (auth.Identity, *apiError) {
	if aerr := g.waitReady(r); aerr != nil {
		return auth.Identity{}, aerr
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Identity{}, errUnauthorized("You didn't provide an API key: send a Skiff token as 'Authorization: Bearer <token>' (create one with skiff token create)")
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return auth.Identity{}, errUnauthorized("The Authorization header must be 'Bearer <token>'")
	}
	id, ok := g.cfg.Auth.Authenticate(strings.TrimSpace(tok))
	if !ok {
		return auth.Identity{}, errUnauthorized("Incorrect API key provided: the token is unknown, expired or revoked; create one with skiff token create")
	}
	return id, nil
}

// keyName names an identity's key in usage records and limits.
func keyName(id auth.Identity) string {
	switch {
	case id.TokenID != "":
		return id.TokenID
	case id.Admin:
		return auth.AdminName
	default:
		return id.Name
	}
}

// inferenceRequest is the part of a request body every request needs read.
type inferenceRequest struct {
	Model         string         `json:"model"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options"`
}

// promptFields are what prefix affinity hashes; they are decoded only for
// services that route by prefix.
type promptFields struct {
	Messages []chatMessage   `json:"messages"`
	Prompt   json.RawMessage `json:"prompt"`
	Input    json.RawMessage `json:"input"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// readRequest reads and checks the body: a JSON object with a model.
func (g *Gateway) readRequest(w http.ResponseWriter, r *http.Request) ([]byte, *inferenceRequest, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, nil, &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest,
				Message: fmt.Sprintf("The request body is larger than the gateway's limit of %d bytes: send a shorter prompt", g.cfg.MaxBodyBytes)}
		}
		return nil, nil, errBadRequest("reading the request body: "+err.Error(), "")
	}
	req, err := decodeRequest(body)
	if err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return nil, nil, errBadRequest(fmt.Sprintf("%s: must be %s, not %s", typeErr.Field, typeErr.Type, typeErr.Value), typeErr.Field)
		}
		return nil, nil, errBadRequest("We could not parse the JSON body of your request ("+err.Error()+"): send a JSON object such as {\"model\": \"...\", \"messages\": [...]}", "")
	}
	if req.Model == "" {
		return nil, nil, errBadRequest("you must provide a model parameter", "model")
	}
	return body, &req, nil
}

// resolve finds the service a model name reaches for id. A model served in
// the caller's namespace wins; "namespace/model" names one explicitly.
func (g *Gateway) resolve(id auth.Identity, model string) (*service, string, *apiError) {
	g.mu.Lock()
	defer g.mu.Unlock()
	name := model
	var candidates []*service
	if ns, m, ok := strings.Cut(model, "/"); ok {
		for _, s := range g.models[m] {
			if s.ns == ns {
				candidates = append(candidates, s)
			}
		}
		if len(candidates) > 0 {
			name = m
		}
	}
	if len(candidates) == 0 {
		candidates = g.models[model]
	}
	if len(candidates) == 0 {
		return nil, "", errModelNotFound(model)
	}
	var mine []*service
	for _, s := range candidates {
		if authz.Authorize(id, authz.Invoke, invokeKind, s.ns).Allowed {
			mine = append(mine, s)
		}
	}
	var namespaces []string
	for _, s := range mine {
		if !slices.Contains(namespaces, s.ns) {
			namespaces = append(namespaces, s.ns)
		}
	}
	if len(namespaces) == 1 {
		// Several services of one namespace (admission refuses a second
		// one, but objects written around the API can still overlap): the
		// first registration serves, deterministically.
		mine = mine[:1]
	}
	switch {
	case len(mine) == 1:
		return mine[0], name, nil
	case len(mine) > 1:
		names := make([]string, len(namespaces))
		for i, ns := range namespaces {
			names[i] = ns + "/" + name
		}
		return nil, "", errBadRequest(fmt.Sprintf("model %q is served in several namespaces: name one of %s", model, strings.Join(names, ", ")), "model")
	}
	return nil, "", &apiError{Status: http.StatusForbidden, Type: typePermission, Param: "model", Code: "model_forbidden",
		Message: fmt.Sprintf("Your key may not use model %q: it is served in namespace %q and your key reaches namespace %q only; ask an admin of %q for a token",
			model, candidates[0].cfg.Namespace, id.Namespace, candidates[0].cfg.Namespace)}
}

// serviceConfig is what one request reads of its service's settings,
// copied under one lock.
type serviceConfig struct {
	keyLimit, nsLimit Limit
	logPrompts        bool
	routing           string
}

func (g *Gateway) serviceConfig(svc *service) serviceConfig {
	g.mu.Lock()
	defer g.mu.Unlock()
	return serviceConfig{keyLimit: svc.cfg.KeyLimit, nsLimit: svc.cfg.NamespaceLimit,
		logPrompts: svc.cfg.LogPrompts, routing: svc.cfg.Routing}
}

func limitChecks(svc *service, sc serviceConfig, id auth.Identity) []limitCheck {
	if sc.keyLimit == (Limit{}) && sc.nsLimit == (Limit{}) {
		return nil
	}
	ns := id.Namespace
	if ns == "" {
		ns = svc.ns
	}
	sk := svc.ns + "/" + svc.name
	key := keyName(id)
	return []limitCheck{
		{key: "key/" + key + "/" + sk, what: "key " + key + " on " + sk, limit: sc.keyLimit},
		{key: "ns/" + ns + "/" + sk, what: "namespace " + ns + " on " + sk, limit: sc.nsLimit},
	}
}

// maxLoggedModel bounds the model name a refused request is recorded with
// (the name is the client's, and no service vouches for it).
const maxLoggedModel = 256

// refusalLogLimit bounds how many refusals per minute one key leaves in
// the request log: no service's limits apply to them, and the log (its
// buffer and its row cap) is shared. Every refusal is still counted in
// the metrics.
var refusalLogLimit = Limit{RequestsPerMinute: 60}

// refuse answers a request refused before it reached a service, and
// records it: in the request log when the caller is known (an
// unauthenticated request leaves no record a client could flood the log
// with), and in the metrics always, under namespace and model labels only
// a token or a service defines.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, id *auth.Identity, req *inferenceRequest, start time.Time, aerr *apiError) {
	writeError(w, aerr)
	rec := RequestRecord{Path: r.URL.Path, Status: aerr.Status, Start: start, End: g.cfg.Now()}
	if id != nil {
		rec.Namespace, rec.Key = id.Namespace, keyName(*id)
	}
	if g.cfg.Metrics != nil {
		g.cfg.Metrics.Observe(rec)
	}
	if id == nil || g.cfg.Observe == nil {
		return
	}
	sample := []limitCheck{{key: "refused/" + rec.Key, what: "refusals of key " + rec.Key, limit: refusalLogLimit}}
	if _, over := g.limits.admit(sample, start); over != "" {
		return
	}
	if req != nil {
		rec.Model, rec.Stream = req.Model, req.Stream
		if len(rec.Model) > maxLoggedModel {
			rec.Model = rec.Model[:maxLoggedModel]
		}
	}
	g.cfg.Observe(rec)
}

func (g *Gateway) serveInference(w http.ResponseWriter, r *http.Request) {
	start := g.cfg.Now()
	id, aerr := g.authenticate(r)
	if aerr != nil {
		g.refuse(w, r, nil, nil, start, aerr)
		return
	}
	body, req, aerr := g.readRequest(w, r)
	if aerr != nil {
		g.refuse(w, r, &id, nil, start, aerr)
		return
	}
	svc, model, aerr := g.resolve(id, req.Model)
	if aerr != nil {
		g.refuse(w, r, &id, req, start, aerr)
		return
	}
	rec := RequestRecord{Namespace: svc.ns, Service: svc.name, Model: model, Key: keyName(id),
		Path: r.URL.Path, Stream: req.Stream, Start: start}
	sc := g.serviceConfig(svc)
	if sc.logPrompts {
		rec.Prompt = string(body[:min(len(body), MaxPromptBytes)])
	}
	checks := limitChecks(svc, sc, id)
	if wait, msg := g.limits.admit(checks, start); msg != "" {
		aerr := errRateLimited(msg+": retry after the Retry-After header's seconds", wait)
		writeError(w, aerr)
		// The request log shows refusals too; no replica saw this one.
		rec.Status, rec.End = aerr.Status, g.cfg.Now()
		g.finish(rec)
		return
	}
	up, hideUsage, err := upstreamBody(body, req, model, r.URL.Path)
	if err != nil {
		aerr := errBadRequest(err.Error(), "")
		writeError(w, aerr)
		rec.Status, rec.End = aerr.Status, g.cfg.Now()
		g.finish(rec)
		return
	}
	g.touch(svc, start)
	ctx, span := g.startSpan(r.Context(), r.URL.Path, model)
	// account charges the token limits and books the usage, once: for a
	// stream just before its final [DONE] reaches the client, so that the
	// client's next request already sees the charge.
	accounted := false
	account := func() {
		if accounted {
			return
		}
		accounted = true
		rec.End = g.cfg.Now()
		g.limits.charge(checks, rec.PromptTokens+rec.CompletionTokens, rec.End)
		g.usage.add(rec.Namespace, rec.Model, rec.Key, rec.PromptTokens, rec.CompletionTokens)
	}
	if g.proxy(w, r.WithContext(ctx), svc, sc.routing, up, body, hideUsage, &rec, account) {
		account()
	} else {
		rec.End = g.cfg.Now()
		g.limits.charge(checks, rec.PromptTokens+rec.CompletionTokens, rec.End)
	}
	endSpan(span, &rec)
	g.finish(rec)
}

// finish records a request that reached a service: metrics, request log.
func (g *Gateway) finish(rec RequestRecord) {
	if g.cfg.Metrics != nil {
		g.cfg.Metrics.Observe(rec)
	}
	if g.cfg.Observe != nil {
		g.cfg.Observe(rec)
	}
}

func (g *Gateway) touch(svc *service, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.After(svc.lastRequest) {
		svc.lastRequest = now
	}
}

// upstreamBody is the body sent to the replica: the client's, with the
// model's namespace prefix removed and, for streams that did not ask for
// usage, stream_options.include_usage turned on (hideUsage then tells the
// proxy to keep the usage chunk from the client).
func upstreamBody(body []byte, req *inferenceRequest, model, path string) ([]byte, bool, error) {
	wantUsage := req.Stream && path != "/v1/embeddings" && (req.StreamOptions == nil || !req.StreamOptions.IncludeUsage)
	if model == req.Model && !wantUsage {
		return body, false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, false, fmt.Errorf("the request body must be a JSON object: %w", err)
	}
	mb, _ := json.Marshal(model)
	m["model"] = mb
	if wantUsage {
		var so map[string]json.RawMessage
		if raw, ok := m["stream_options"]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &so); err != nil {
				return nil, false, fmt.Errorf("stream_options: must be an object: %w", err)
			}
		}
		if so == nil {
			so = map[string]json.RawMessage{}
		}
		so["include_usage"] = json.RawMessage("true")
		sb, _ := json.Marshal(so)
		m["stream_options"] = sb
	}
	out, err := json.Marshal(m)
	return out, wantUsage, err
}

// promptText is the text prefix affinity hashes: the messages in order,
// or the prompt, or the embedding input.
func promptText(body []byte) string {
	var req promptFields
	if json.Unmarshal(body, &req) != nil {
		return ""
	}
	var b strings.Builder
	for _, m := range req.Messages {
		b.WriteString(m.Role)
		b.WriteByte(':')
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			b.WriteString(s)
		} else {
			var parts []struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(m.Content, &parts) == nil {
				for _, p := range parts {
					b.WriteString(p.Text)
				}
			}
		}
		b.WriteByte('\n')
		if b.Len() >= prefixLen {
			return b.String()
		}
	}
	for _, raw := range []json.RawMessage{req.Prompt, req.Input} {
		if len(raw) == 0 {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			b.WriteString(s)
			continue
		}
		var list []string
		if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
			b.WriteString(list[0])
			continue
		}
		b.Write(raw) // token ids: their text form hashes as well
	}
	return b.String()
}

type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (g *Gateway) serveModels(w http.ResponseWriter, r *http.Request) {
	id, aerr := g.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	g.mu.Lock()
	data := []modelEntry{}
	seen := map[string]int{}
	for _, svc := range g.services {
		if !authz.Authorize(id, authz.Invoke, invokeKind, svc.ns).Allowed {
			continue
		}
		for _, m := range svc.cfg.Models {
			seen[m]++
			data = append(data, modelEntry{ID: m, Object: "model", OwnedBy: svc.ns})
		}
	}
	g.mu.Unlock()
	// A name served in several visible namespaces is listed qualified, as
	// requests must then name it.
	for i := range data {
		if seen[data[i].ID] > 1 {
			data[i].ID = data[i].OwnedBy + "/" + data[i].ID
		}
	}
	sortModels(data)
	writeJSON(w, map[string]any{"object": "list", "data": data})
}

func (g *Gateway) serveUsage(w http.ResponseWriter, r *http.Request) {
	id, aerr := g.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	ns := id.Namespace
	if id.Admin {
		ns = r.URL.Query().Get("namespace")
	}
	if ns == "" && !id.Admin {
		writeError(w, &apiError{Status: http.StatusForbidden, Type: typePermission, Message: "your key reaches no namespace"})
		return
	}
	writeJSON(w, map[string]any{"object": "list", "data": g.usage.records(ns)})
}

// serveMetrics serves Config.Metrics to cluster-admins (Prometheus scrapes
// with the admin token as its bearer credential).
func (g *Gateway) serveMetrics(w http.ResponseWriter, r *http.Request) {
	id, aerr := g.authenticate(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if !id.Admin {
		writeError(w, &apiError{Status: http.StatusForbidden, Type: typePermission, Message: "metrics are for cluster-admins: scrape with the admin token"})
		return
	}
	if g.cfg.Metrics == nil {
		writeError(w, &apiError{Status: http.StatusNotFound, Type: typeNotFound, Message: "this gateway keeps no metrics"})
		return
	}
	g.cfg.Metrics.Handler().ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
