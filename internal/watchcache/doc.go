// Package watchcache keeps in-memory views of the Store with client-go
// informers: NewInformer adapts a kind of the Store to client-go's
// reflector (list, watch from the list's revision, relist when the watch
// expires or breaks), and Start feeds such an informer into a Handler. The
// scheduling loop, the job controller, the authenticator (tokens), the
// policy engine and admission read these views so that none of them reads
// the store per request or per cycle. Shared hands one informer per kind
// to all of a process's controllers, and Work is the worker loop their
// reconcilers run under.
package watchcache
