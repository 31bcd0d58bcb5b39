// Package client is the Go client of the skiff API, used by the CLI, the
// end-to-end tests and anything else that talks to a skiff server.
//
// Objects are the typed v1alpha1 structs; the URL of each call is derived
// from the v1alpha1 kind registry. Every error the server answers with comes
// back as *apierrors.StatusError decoded from its Status body, so callers
// use apierrors.IsNotFound, IsConflict and friends; a server that cannot be
// reached yields *UnreachableError.
package client
