package apiserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// serveLog streams a replica's log. Data is flushed as soon as it is read
// so `logs -f` is live, and the source is closed when the client goes away
// so a follower never outlives its reader.
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, t target) {
	if s.cfg.Logs == nil {
		writeError(w, apierrors.NewServiceUnavailable("logs are not available: this server runs no workloads"))
		return
	}
	q := r.URL.Query()
	opts := LogOptions{Follow: isTrue(q.Get("follow"))}
	if a := q.Get("attempt"); a != "" {
		n, err := strconv.ParseInt(a, 10, 32)
		if err != nil || n < 0 {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("attempt %q: use a whole number from 0 (see status.attempt of the job)", a)))
			return
		}
		n32 := int32(n)
		opts.Attempt = &n32
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	src, err := s.cfg.Logs.OpenLog(ctx, t.namespace, t.name, q.Get("replica"), opts)
	if err != nil {
		writeError(w, err)
		return
	}
	var once sync.Once
	closeSrc := func() { once.Do(func() { _ = src.Close() }) }
	defer closeSrc()
	// A Read blocked waiting for new output returns once the source is
	// closed; that is how a follow ends when the client disconnects.
	stop := context.AfterFunc(ctx, closeSrc)
	defer stop()

	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
		if err == io.EOF || ctx.Err() != nil {
			return
		}
		if err != nil {
			// The header is out; end the body so the client notices.
			panic(http.ErrAbortHandler)
		}
	}
}
