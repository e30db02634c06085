// Package id generates primary keys.
//
// Scheme: UUIDv7 (RFC 9562) in its canonical text form. The first 48 bits are
// the Unix time in milliseconds, so ids sort by creation time and B-tree
// inserts stay append-mostly (no random page splits as with UUIDv4 or Better
// Auth's 32 random letters); the remaining 74 bits are random, so ids cannot
// be guessed or enumerated. Ids are not secrets — tokens are generated
// separately with 256 bits of entropy. The text form fits Better Auth's text
// id columns, and PostgreSQL can cast it to uuid if an app wants to.
package id

import "github.com/google/uuid"

// New returns a fresh time-sortable random id.
func New() string {
	u, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when crypto/rand fails, which Go treats as fatal too.
		panic(err)
	}
	return u.String()
}
