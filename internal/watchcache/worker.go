package watchcache

import (
	"context"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/workqueue"
)

// Work runs a level-triggered controller's worker: it takes keys from q
// until q shuts down and reconciles each. A failed key is retried with
// q's rate limiter (a conflict is expected and not logged); a key whose
// reconcile asks to be looked at again after a delay is requeued then;
// otherwise its retry history is forgotten. what names the key's kind in
// log lines, e.g. "job".
func Work(ctx context.Context, q workqueue.TypedRateLimitingInterface[string], log *slog.Logger, what string,
	reconcile func(ctx context.Context, key string) (time.Duration, error)) {
	for {
		key, quit := q.Get()
		if quit {
			return
		}
		after, err := reconcile(ctx, key)
		switch {
		case err != nil:
			if !apierrors.IsConflict(err) && ctx.Err() == nil {
				log.Warn("reconciling "+what, what, key, "err", err)
			}
			q.AddRateLimited(key)
		case after > 0:
			q.Forget(key)
			q.AddAfter(key, after)
		default:
			q.Forget(key)
		}
		q.Done(key)
	}
}
