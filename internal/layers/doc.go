// Package layers has no code. Its test holds the import rules of
// docs/dev/architecture.md: what the domain packages may link, and which
// packages may obtain a writable root.
package layers
