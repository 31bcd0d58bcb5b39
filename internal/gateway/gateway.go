package gateway

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"skiff.dev/skiff/internal/auth"
)

// Authenticator turns a bearer token into an identity (auth.TokenCache).
type Authenticator interface {
	Authenticate(token string) (auth.Identity, bool)
}

// Service is what the gateway knows of one InferenceService.
type Service struct {
	Namespace, Name string
	// Models are the model names requests use to reach this service.
	Models []string
	// Routing is RoundRobin, LeastRequest or PrefixAffinity ("" means
	// LeastRequest).
	Routing string
	// KeyLimit caps each API key, NamespaceLimit all keys of one namespace
	// together, on this service.
	KeyLimit, NamespaceLimit Limit
	// MaxQueue bounds the requests held while no replica is ready
	// (DefaultMaxQueue when 0).
	MaxQueue int
	// LogPrompts puts request bodies in RequestRecord.Prompt (at most
	// MaxPromptBytes of each).
	LogPrompts bool
}

// Endpoint is one replica the gateway may send requests to.
type Endpoint struct {
	// Name is the replica's name, unique within its service.
	Name string
	// URL is the replica's base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Draining replicas get no new requests; the ones in flight finish.
	Draining bool
	// Revision names the template the replica runs. When the ready
	// replicas of a service run more than one revision, the gateway first
	// picks a revision by Weight and then applies the routing policy
	// among that revision's replicas.
	Revision string
	// Weight is the revision's share of requests (a percent; the same on
	// every replica of one revision).
	Weight int
}

// ServiceStats is the demand on one service, for the autoscaler.
type ServiceStats struct {
	// InFlight counts requests being answered by replicas.
	InFlight int
	// Queued counts requests waiting for a ready replica.
	Queued int
	// LastRequest is when the last request arrived (zero: none yet).
	LastRequest time.Time
	// Replicas maps each known replica to its requests in flight.
	Replicas map[string]int
}

// Defaults.
const (
	DefaultMaxBodyBytes     = 8 << 20
	DefaultMaxQueue         = 256
	DefaultColdStartTimeout = 5 * time.Minute
	// maxAttempts bounds the replicas one request is tried on when it
	// cannot reach them.
	maxAttempts = 3
	// downFor keeps a replica that refused a connection out of rotation.
	downFor = 2 * time.Second
)

// Config configures a Gateway.
type Config struct {
	Auth Authenticator
	// Now is the clock limits and statistics use (time.Now when nil).
	Now func() time.Time
	// MaxBodyBytes refuses larger request bodies with 413.
	MaxBodyBytes int64
	// ColdStartTimeout is how long a request waits for a ready replica.
	ColdStartTimeout time.Duration
	// OnDemand is called (without locks held) when a request arrives for a
	// service that has no ready replica, so the controller can scale it up.
	OnDemand func(namespace, name string)
	// Transport reaches replicas; nil builds one for loopback replicas.
	Transport http.RoundTripper
	// Observe, when set, receives one record per finished request, and
	// one (status 429, no replica) per request a rate limit refused.
	Observe func(RequestRecord)
	// Metrics, when set, records every request and is served on /metrics.
	Metrics *Metrics
	// Tracer makes the spans of inference requests; nil uses the global
	// OpenTelemetry provider (a no-op unless the process configured one).
	Tracer trace.Tracer
	// Ready, when set, holds requests until it is closed: the controller
	// closes it once the gateway knows every service (after a restart).
	Ready <-chan struct{}
	Log   *slog.Logger
}

// RequestRecord describes one finished inference request.
type RequestRecord struct {
	Namespace, Service, Model, Key, Replica, Path string
	Stream                                        bool
	Status                                        int
	PromptTokens, CompletionTokens                int64
	// Start is when the request arrived; FirstToken when the first content
	// reached the client (streams; zero otherwise); End when it finished.
	Start, FirstToken, End time.Time
	// Queued is how long the request waited for a ready replica.
	Queued time.Duration
	// Prompt is the request body, set only for services with LogPrompts
	// (cut to MaxPromptBytes).
	Prompt string
}

// MaxPromptBytes bounds the prompt kept in one RequestRecord.
const MaxPromptBytes = 64 << 10

// Gateway routes OpenAI API requests to the replicas of InferenceServices.
// It is an http.Handler.
type Gateway struct {
	cfg    Config
	client *http.Client
	mux    *http.ServeMux
	limits *limiter
	usage  *usageBook

	// scrapeInterval is ScrapeLoads' period in nanoseconds (0 until it
	// runs: least-load then routes on in-flight counts alone).
	scrapeInterval atomic.Int64

	mu       sync.Mutex
	services map[string]*service   // namespace/name
	models   map[string][]*service // model name -> services serving it
}

type service struct {
	// ns and name never change; cfg is read and written under Gateway.mu.
	ns, name    string
	cfg         Service
	eps         map[string]*endpoint
	ready       []*endpoint // not draining, by name
	ring        *ring
	rr          uint64
	split       splitter
	queued      int
	lastRequest time.Time
	// wake is closed (and replaced) when the service gains a ready replica
	// or is removed, waking the requests held for it.
	wake    chan struct{}
	removed bool
}

type endpoint struct {
	Endpoint
	base      *url.URL
	inFlight  int
	downUntil time.Time
	// load is the last /metrics reading (least-load services only).
	load backendLoad
}

// New returns a Gateway with no services.
func New(cfg Config) *Gateway {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ColdStartTimeout <= 0 {
		cfg.ColdStartTimeout = DefaultColdStartTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Transport == nil {
		cfg.Transport = &http.Transport{
			// Replicas are local processes: never send their traffic
			// through a proxy from the environment.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			// Pass the replica's encoding through untouched.
			DisableCompression: true,
		}
	}
	g := &Gateway{
		cfg:      cfg,
		client:   &http.Client{Transport: cfg.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		limits:   newLimiter(),
		usage:    newUsageBook(),
		services: map[string]*service{},
		models:   map[string][]*service{},
	}
	g.routes()
	return g
}

func serviceKey(namespace, name string) string { return namespace + "/" + name }

// SetService adds or updates a service; its replicas are kept.
func (g *Gateway) SetService(s Service) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := serviceKey(s.Namespace, s.Name)
	svc, ok := g.services[k]
	if !ok {
		svc = &service{ns: s.Namespace, name: s.Name, eps: map[string]*endpoint{}, wake: make(chan struct{})}
		g.services[k] = svc
	}
	svc.cfg = s
	svc.cfg.Models = append([]string(nil), s.Models...)
	g.reindexLocked()
}

// RemoveService forgets a service; requests held for it are answered 404.
func (g *Gateway) RemoveService(namespace, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := serviceKey(namespace, name)
	svc, ok := g.services[k]
	if !ok {
		return
	}
	delete(g.services, k)
	svc.removed = true
	close(svc.wake)
	svc.wake = make(chan struct{})
	g.reindexLocked()
}

func (g *Gateway) reindexLocked() {
	g.models = map[string][]*service{}
	keys := make([]string, 0, len(g.services))
	for k := range g.services {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		svc := g.services[k]
		for _, m := range svc.cfg.Models {
			g.models[m] = append(g.models[m], svc)
		}
	}
}

// SetEndpoints replaces the replicas of a service. Replicas left out are
// forgotten (requests in flight to them still finish); draining ones get
// no new requests. It fails for an unknown service.
func (g *Gateway) SetEndpoints(namespace, name string, eps []Endpoint) error {
	parsed := make([]*url.URL, len(eps))
	for i, e := range eps {
		u, err := url.Parse(e.URL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("endpoint %s: %q is not a base URL such as http://127.0.0.1:8000", e.Name, e.URL)
		}
		parsed[i] = u
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	svc, ok := g.services[serviceKey(namespace, name)]
	if !ok {
		return fmt.Errorf("service %s/%s is not known to the gateway", namespace, name)
	}
	next := make(map[string]*endpoint, len(eps))
	for i, e := range eps {
		ep, ok := svc.eps[e.Name]
		if !ok || ep.URL != e.URL {
			ep = &endpoint{Endpoint: e, base: parsed[i]}
		}
		ep.Draining, ep.Revision, ep.Weight = e.Draining, e.Revision, e.Weight
		next[e.Name] = ep
	}
	svc.eps = next
	var ready []*endpoint
	var names []string
	for _, ep := range next {
		if !ep.Draining {
			ready = append(ready, ep)
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].Name < ready[j].Name })
	for _, ep := range ready {
		names = append(names, ep.Name)
	}
	hadReady := len(svc.ready) > 0
	svc.ready = ready
	svc.ring = newRing(names)
	if len(ready) > 0 && !hadReady {
		close(svc.wake)
		svc.wake = make(chan struct{})
	}
	return nil
}

// Stats reports the demand on a service; ok is false for an unknown one.
func (g *Gateway) Stats(namespace, name string) (ServiceStats, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	svc, ok := g.services[serviceKey(namespace, name)]
	if !ok {
		return ServiceStats{}, false
	}
	st := ServiceStats{Queued: svc.queued, LastRequest: svc.lastRequest, Replicas: make(map[string]int, len(svc.eps))}
	for n, ep := range svc.eps {
		st.Replicas[n] = ep.inFlight
		st.InFlight += ep.inFlight
	}
	return st, true
}

// Usage returns the token usage recorded for namespace ("" for all).
func (g *Gateway) Usage(namespace string) []UsageRecord { return g.usage.records(namespace) }

// acquire picks a ready replica for a request, skipping the tried ones,
// and counts the request in flight on it. It returns nil when no replica
// can take it now.
func (g *Gateway) acquire(svc *service, key string, tried map[string]bool, now time.Time) *endpoint {
	g.mu.Lock()
	defer g.mu.Unlock()
	var eps []*endpoint
	var cands []candidate
	for _, ep := range svc.ready {
		if tried[ep.Name] || now.Before(ep.downUntil) {
			continue
		}
		eps = append(eps, ep)
		c := candidate{name: ep.Name, inFlight: ep.inFlight}
		if svc.cfg.Routing == LeastLoad {
			c.score = loadScore(ep.inFlight, ep.load, g.fresh(ep.load.at, now))
		}
		cands = append(cands, c)
	}
	if len(eps) == 0 {
		return nil
	}
	eps, cands = svc.split.choose(eps, cands)
	svc.rr++
	var i int
	switch svc.cfg.Routing {
	case RoundRobin:
		i = pickRoundRobin(cands, svc.rr)
	case PrefixAffinity:
		i = pickPrefixAffinity(svc.ring, cands, key)
	case LeastLoad:
		i = pickLeastLoad(cands, svc.rr)
	default:
		i = pickLeastRequest(cands, svc.rr)
	}
	eps[i].inFlight++
	return eps[i]
}

func (g *Gateway) release(ep *endpoint, unreachable bool, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ep.inFlight--
	if unreachable {
		ep.downUntil = now.Add(downFor)
	}
}
