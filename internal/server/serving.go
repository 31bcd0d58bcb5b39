package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/internal/auth"
	"skiff.dev/skiff/internal/controller"
	"skiff.dev/skiff/internal/gateway"
	"skiff.dev/skiff/internal/serving"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/watchcache"
)

// DefaultGatewayListen is the OpenAI-compatible gateway's address.
const DefaultGatewayListen = "127.0.0.1:7401"

// servingParts are what startServing needs from the rest of the server.
type servingParts struct {
	store    store.Store
	clock    clock.WithTicker
	recorder *controller.Recorder
	tokens   *auth.TokenCache
	log      *slog.Logger
	// observe receives every finished gateway request (the request log).
	observe func(gateway.RequestRecord)
	// informers are shared with the other controllers.
	informers *watchcache.Shared
	// registry is the server's /metrics registry; the gateway's metrics
	// are served there too.
	registry prometheus.Registerer
}

// startServing opens the gateway's listener and starts the serving
// controller (on ctrlCtx, tracked by wg) and the gateway. It returns the
// gateway's URL and a function that stops the gateway.
func startServing(ctrlCtx context.Context, wg *sync.WaitGroup, cfg Config, p servingParts) (string, func(context.Context), error) {
	addr := cfg.GatewayListen
	if addr == "" {
		addr = DefaultGatewayListen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return "", nil, fmt.Errorf("gateway listen on %s: the address is in use: stop the other server or pass --gateway-listen with a free port", addr)
		}
		return "", nil, fmt.Errorf("gateway listen on %s: %w", addr, err)
	}
	ctl := &serving.Controller{Store: p.store, Clock: p.clock, Recorder: p.recorder, Log: p.log, Informers: p.informers}
	ctl.Init()
	gwMetrics := gateway.NewMetrics()
	if p.registry != nil {
		if err := registerAll(p.registry, gwMetrics.Collectors()); err != nil {
			return "", nil, fmt.Errorf("registering the gateway's metrics: %w", err)
		}
	}
	gw := gateway.New(gateway.Config{Auth: p.tokens, MaxBodyBytes: cfg.GatewayMaxBodyBytes, OnDemand: ctl.OnDemand, Log: p.log, Metrics: gwMetrics, Ready: ctl.Synced(), Observe: p.observe})
	ctl.Gateway = gw
	wg.Add(1)
	go func() {
		defer wg.Done()
		gw.ScrapeLoads(ctrlCtx, gateway.DefaultLoadScrapeInterval)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ctl.Run(ctrlCtx); err != nil {
			p.log.Error("serving controller stopped", "err", err)
		}
	}()
	// No write timeout: streams last as long as generation does.
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("gateway stopped", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), func(ctx context.Context) { _ = srv.Shutdown(ctx) }, nil
}

func registerAll(r prometheus.Registerer, cs []prometheus.Collector) error {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
