package controller

import "context"

// CycleObserver watches scheduling cycles from the loop that runs them:
// Start is called before a cycle with the loop's context and returns the
// context the cycle runs in (e.g. carrying a trace span) and a function
// called with the cycle's result. The scheduling core itself is never
// instrumented.
type CycleObserver interface {
	StartCycle(ctx context.Context) (context.Context, func(err error))
}

func (l *SchedulingLoop) observeCycle(ctx context.Context) (context.Context, func(error)) {
	if l.Observer == nil {
		return ctx, func(error) {}
	}
	return l.Observer.StartCycle(ctx)
}
