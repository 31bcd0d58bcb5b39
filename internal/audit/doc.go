// Package audit appends one JSON line per API request to a log under the
// data directory: who, which verb on which kind, namespace and name, whether
// authentication and authorization allowed it, the HTTP code and when. It
// never records tokens, request bodies or query strings. The file rotates by
// size (audit.log, audit.log.1, ... audit.log.N) and Query reads it back for
// `skiff audit`.
package audit
