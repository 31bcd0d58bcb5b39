// Package auth authenticates API callers by bearer token.
//
// The server keeps only SHA-256 hashes of the tokens it accepts and compares
// them in constant time, so neither a memory dump nor response timing reveals
// a token. On first start EnsureAdminToken creates the admin token file
// (mode 0600) that `skiff up` points the CLI at.
//
// Identity is deliberately a struct: a later issue adds users, roles and
// namespace grants without changing the Authenticator's shape.
package auth
