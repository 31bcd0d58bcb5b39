// Package egress checks URLs that users supply (model sources, webhooks)
// before the server connects to them, so that a tenant cannot make the
// server reach its own loopback services, the cloud metadata endpoint
// (169.254.169.254), link-local addresses or private networks. Checker
// resolves host names and checks every address, and its DialContext checks
// the address actually dialled, which defeats DNS rebinding between check
// and connect.
package egress
