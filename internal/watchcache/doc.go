// Package watchcache keeps an in-memory view of one kind up to date from
// the Store: it lists once, then follows a watch from the list's revision
// and relists when the watch expires or breaks. The authenticator (tokens)
// and the policy engine use it so that neither reads the store per request.
package watchcache
