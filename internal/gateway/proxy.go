package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// hopHeaders are connection-scoped and never forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forwardedRequestHeaders are the client headers a replica sees. The
// client's Authorization (a Skiff token) never leaves the gateway.
var forwardedRequestHeaders = []string{"Content-Type", "Accept", "Accept-Encoding", "User-Agent", "X-Request-Id", "Openai-Organization"}

// proxy sends the request to a replica of svc and copies the answer back.
// It reports whether a replica answered (for usage accounting).
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request, svc *service, routing string, body, original []byte, hideUsage bool, rec *RequestRecord, account func()) bool {
	key := ""
	if routing == PrefixAffinity {
		key = prefixKey(promptText(original))
	}
	tried := map[string]bool{}
	var lastErr error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		ep, aerr := g.waitForReplica(r.Context(), svc, key, tried, rec)
		if aerr != nil {
			if lastErr != nil && aerr.Status == http.StatusServiceUnavailable {
				aerr = errBadGateway(fmt.Sprintf("no replica of %s/%s could be reached (%v): the gateway keeps serving; retry shortly", svc.ns, svc.name, lastErr))
			}
			rec.Status = aerr.Status
			writeError(w, aerr)
			return false
		}
		tried[ep.Name] = true
		rec.Replica = ep.Name
		resp, reached, err := g.send(r, ep, body)
		if err != nil {
			g.release(ep, !reached, g.cfg.Now())
			if r.Context().Err() != nil {
				rec.Status = 499 // the client went away; nobody reads an answer
				return false
			}
			if !reached {
				lastErr = err
				continue
			}
			rec.Status = http.StatusBadGateway
			writeError(w, errBadGateway(fmt.Sprintf("replica %s of %s/%s failed: %v", ep.Name, svc.ns, svc.name, err)))
			return false
		}
		g.copyResponse(w, r.Context(), resp, hideUsage, rec, account)
		resp.Body.Close()
		g.release(ep, false, g.cfg.Now())
		return true
	}
	rec.Status = http.StatusBadGateway
	writeError(w, errBadGateway(fmt.Sprintf("no replica of %s/%s could be reached after %d tries (%v): retry shortly", svc.ns, svc.name, maxAttempts, lastErr)))
	return false
}

// waitForReplica returns a replica for the request, holding it in the
// service's bounded queue while none is ready (scale from zero, or every
// replica restarting).
func (g *Gateway) waitForReplica(ctx context.Context, svc *service, key string, tried map[string]bool, rec *RequestRecord) (*endpoint, *apiError) {
	var deadline <-chan time.Time
	var queuedAt time.Time
	defer func() {
		if !queuedAt.IsZero() {
			rec.Queued = g.cfg.Now().Sub(queuedAt)
			g.mu.Lock()
			svc.queued--
			g.mu.Unlock()
		}
	}()
	for {
		if ep := g.acquire(svc, key, tried, g.cfg.Now()); ep != nil {
			return ep, nil
		}
		g.mu.Lock()
		if svc.removed {
			g.mu.Unlock()
			return nil, errModelNotFound(rec.Model)
		}
		if len(tried) > 0 && len(svc.ready) > 0 {
			// Ready replicas exist but this request already failed to
			// reach each one it may use.
			g.mu.Unlock()
			return nil, errUnavailable("no reachable replica", time.Second)
		}
		max := svc.cfg.MaxQueue
		if max <= 0 {
			max = DefaultMaxQueue
		}
		if queuedAt.IsZero() {
			if svc.queued >= max {
				g.mu.Unlock()
				return nil, errUnavailable(fmt.Sprintf("%s/%s has no ready replica and %d requests already wait for one: retry after the Retry-After header's seconds",
					svc.ns, svc.name, max), 5*time.Second)
			}
			svc.queued++
			queuedAt = g.cfg.Now()
			t := time.NewTimer(g.cfg.ColdStartTimeout)
			defer t.Stop()
			deadline = t.C
		}
		wake := svc.wake
		g.mu.Unlock()
		if g.cfg.OnDemand != nil {
			g.cfg.OnDemand(svc.ns, svc.name)
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, &apiError{Status: 499, Type: typeServer, Message: "the client closed the request"}
		case <-deadline:
			return nil, errUnavailable(fmt.Sprintf("no replica of %s/%s became ready within %s: check `skiff describe inferenceservice %s -n %s`",
				svc.ns, svc.name, g.cfg.ColdStartTimeout, svc.name, svc.ns), 5*time.Second)
		}
	}
}

// send makes the upstream request. reached is false when the connection to
// the replica could not be made (the dial failed), so the request never
// reached it and can safely go elsewhere.
func (g *Gateway) send(r *http.Request, ep *endpoint, body []byte) (*http.Response, bool, error) {
	u := *ep.base
	u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
	u.RawPath = ""
	u.RawQuery = r.URL.RawQuery
	// Built by hand rather than with http.NewRequest, which would print
	// and parse the URL again on every request.
	up := (&http.Request{
		Method: http.MethodPost, URL: &u, Host: u.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        make(http.Header, len(forwardedRequestHeaders)+3),
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		GetBody:       func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
	}).WithContext(r.Context())
	// The names are canonical already: index the maps directly.
	for _, h := range forwardedRequestHeaders {
		if v := r.Header[h]; len(v) > 0 {
			up.Header[h] = v
		}
	}
	if len(up.Header["Content-Type"]) == 0 {
		up.Header["Content-Type"] = []string{"application/json"}
	}
	up.Header["X-Forwarded-For"] = []string{clientIP(r)}
	injectTrace(r.Context(), up.Header)
	// The transport directly: redirects are passed to the client as they
	// are, so http.Client would add nothing but its own bookkeeping.
	resp, err := g.cfg.Transport.RoundTrip(up)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, false, &url.Error{Op: "Post", URL: u.String(), Err: err}
		}
		return nil, true, &url.Error{Op: "Post", URL: u.String(), Err: err}
	}
	return resp, true, nil
}

func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// usageBody is the usage object of an answer or of a stream's last chunk.
type usageBody struct {
	Choices []json.RawMessage `json:"choices"`
	Usage   *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
}

// maxUsageScan bounds how much of a non-streamed answer is kept to read its
// usage; larger answers (big embedding batches) are passed through and
// their usage is read only if it fits.
const maxUsageScan = 4 << 20

func (g *Gateway) copyResponse(w http.ResponseWriter, ctx context.Context, resp *http.Response, hideUsage bool, rec *RequestRecord, account func()) {
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	for _, k := range hopHeaders {
		delete(h, k) // canonical names: no need for Header.Del's rewriting
	}
	h["X-Skiff-Replica"] = []string{rec.Replica}
	rec.Status = resp.StatusCode
	if ct := resp.Header["Content-Type"]; len(ct) > 0 && strings.HasPrefix(ct[0], "text/event-stream") {
		delete(h, "Content-Length")
		w.WriteHeader(resp.StatusCode)
		g.copyStream(w, ctx, resp.Body, hideUsage, rec, account)
		return
	}
	if resp.StatusCode >= 400 && !isJSON(resp.Header["Content-Type"]) && len(resp.Header["Content-Encoding"]) == 0 {
		// A model server's own error page (a plain-text 404 for an
		// endpoint it lacks): clients of the OpenAI API parse errors as
		// JSON, so it is passed on in that shape. (An encoded body, such
		// as a gzip-compressed page, is passed through as it came.)
		delete(h, "Content-Length")
		writeError(w, replicaError(resp))
		return
	}
	w.WriteHeader(resp.StatusCode)
	cb := copyBuffers.Get().(*copyBuffer)
	defer copyBuffers.Put(cb)
	cb.scan.Reset()
	lw := &limitedBuffer{buf: &cb.scan, max: maxUsageScan}
	// Plain Writes, not io.Copy: the ResponseWriter's ReadFrom would send
	// the headers and the body in two writes (two packets) where the
	// response's buffer sends a small answer in one.
	for {
		n, err := resp.Body.Read(cb.buf)
		if n > 0 {
			_, _ = lw.Write(cb.buf[:n])
			if _, werr := w.Write(cb.buf[:n]); werr != nil {
				if ctx.Err() == nil {
					g.cfg.Log.Warn("copying a replica's answer", "replica", rec.Replica, "err", werr)
				}
				return
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() == nil {
				g.cfg.Log.Warn("copying a replica's answer", "replica", rec.Replica, "err", err)
			}
			return
		}
	}
	if resp.StatusCode/100 == 2 && !lw.overflow {
		rec.PromptTokens, rec.CompletionTokens = readUsage(cb.scan.Bytes())
	}
	if cb.scan.Cap() > maxPooledScan {
		cb.scan = bytes.Buffer{} // keep no large answer's memory in the pool
	}
}

// isJSON says whether a Content-Type header names JSON.
func isJSON(ct []string) bool {
	if len(ct) == 0 {
		return false
	}
	mt, _, _ := strings.Cut(ct[0], ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// replicaError is a model server's non-JSON error answer in OpenAI's
// format, keeping its status and the start of its text.
func replicaError(resp *http.Response) *apiError {
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	msg := strings.Join(strings.Fields(string(text)), " ")
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e := &apiError{Status: resp.StatusCode, Type: typeInvalidRequest,
		Message: fmt.Sprintf("the model server answered %d: %s", resp.StatusCode, msg)}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		e.Type = typeNotFound
		e.Message += " (this model server may not offer this endpoint)"
	case resp.StatusCode >= 500:
		e.Type = typeServer
	}
	return e
}

// copyBuffer is the memory one non-streamed answer is copied through.
type copyBuffer struct {
	buf  []byte
	scan bytes.Buffer // the answer, kept to read its usage
}

// maxPooledScan bounds the scan buffer a pooled copyBuffer keeps.
const maxPooledScan = 64 << 10

var copyBuffers = sync.Pool{New: func() any { return &copyBuffer{buf: make([]byte, 32<<10)} }}

type limitedBuffer struct {
	buf      *bytes.Buffer
	max      int
	overflow bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if !l.overflow {
		if l.buf.Len()+len(p) > l.max {
			l.overflow = true
			l.buf.Reset()
		} else {
			l.buf.Write(p)
		}
	}
	return len(p), nil
}

// copyStream forwards server-sent events one by one, flushing each, and
// reads the usage chunk. A stream that breaks before its [DONE] ends with
// an error event, so clients do not hang or take a cut answer for a whole.
func (g *Gateway) copyStream(w http.ResponseWriter, ctx context.Context, body io.Reader, hideUsage bool, rec *RequestRecord, account func()) {
	flusher, _ := w.(http.Flusher)
	rc := http.NewResponseController(w)
	// Send the headers now: the client learns the stream started even if
	// the first token takes a while.
	if flusher != nil {
		flusher.Flush()
	} else {
		_ = rc.Flush()
	}
	br := bufio.NewReaderSize(body, 32<<10)
	var event []byte
	done := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long data line: keep reading it.
			event = append(event, line...)
			continue
		}
		event = append(event, line...)
		blank := len(bytes.TrimRight(line, "\r\n")) == 0 && len(line) > 0
		if blank || (err != nil && len(bytes.TrimSpace(event)) > 0) {
			forward, last := g.inspectEvent(event, hideUsage, rec)
			if last {
				account()
			}
			if forward {
				if _, werr := w.Write(event); werr != nil {
					if !done && !last {
						rec.Status = 499 // the client went away mid-stream
					}
					return
				}
				if flusher != nil {
					flusher.Flush()
				} else {
					_ = rc.Flush()
				}
			}
			done = done || last
			event = event[:0]
		}
		if err != nil {
			if ctx.Err() != nil {
				if !done {
					rec.Status = 499 // the client went away mid-stream
				}
				return
			}
			if !done {
				msg := "the replica ended the stream before it finished"
				if !errors.Is(err, io.EOF) {
					msg = fmt.Sprintf("the replica failed mid-stream: %v", err)
				}
				if rec.Status == http.StatusOK {
					rec.Status = http.StatusBadGateway
				}
				_, _ = w.Write(streamError(msg))
				if flusher != nil {
					flusher.Flush()
				}
			}
			return
		}
	}
}

// inspectEvent reads one SSE event: it records the time of the first
// content and the usage, and says whether to forward it and whether it was
// the final [DONE].
func (g *Gateway) inspectEvent(event []byte, hideUsage bool, rec *RequestRecord) (forward, last bool) {
	forward = true
	for _, line := range bytes.Split(event, []byte("\n")) {
		data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
		if !ok {
			continue
		}
		data = bytes.TrimSpace(data)
		if string(data) == "[DONE]" {
			return true, true
		}
		if rec.FirstToken.IsZero() {
			// The first chunk carries the role and, from vLLM-style
			// servers, arrives with the first token.
			rec.FirstToken = g.cfg.Now()
		}
		if !bytes.Contains(data, []byte(`"usage"`)) {
			continue
		}
		var u usageBody
		if json.Unmarshal(data, &u) != nil || u.Usage == nil {
			continue
		}
		rec.PromptTokens, rec.CompletionTokens = u.Usage.PromptTokens, u.Usage.CompletionTokens
		if hideUsage && len(u.Choices) == 0 {
			forward = false
		}
	}
	return forward, false
}

func sortModels(data []modelEntry) {
	sort.Slice(data, func(i, j int) bool {
		if data[i].ID != data[j].ID {
			return data[i].ID < data[j].ID
		}
		return data[i].OwnedBy < data[j].OwnedBy
	})
}
