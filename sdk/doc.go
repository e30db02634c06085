// Package sdk connects a Go application to Auther.
//
// It covers the four things an app needs once Auther owns its users:
//
//   - Verifying access tokens. A Verifier checks Auther's JWT access tokens
//     offline against the keys Auther publishes at <issuer>/api/auth/jwks:
//     the algorithm is pinned (RS256 unless configured), iss and aud must
//     match, exp/nbf/iat are checked with at most 30 s of leeway, and the
//     header typ must be at+jwt so an ID token is never taken for an access
//     token. The key set is cached (1 h by default, 12 h at most), refetched
//     when a token names an unknown kid but at most once per 10 s, and kept
//     when Auther cannot be reached. Middleware wraps it for net/http (and
//     chi, whose middleware type is the same); ClaimsFrom reads the typed
//     Claims from the request context.
//
//   - Receiving webhooks. WebhookHandler checks the HMAC signature in
//     constant time against one or more secrets, refuses timestamps more
//     than 5 minutes off, lets one delivery at a time apply each event id
//     through a Deduper (MemoryDeduper, or SQLDeduper shared by replicas),
//     and answers 500 when the app's handler fails so that Auther retries.
//     Delivery is at least once; SQLDeduper.CompleteTx with
//     ShadowStore.ApplyTx makes it exactly once in the app's database.
//
//   - Keeping a shadow users table. ShadowStore creates the row of a user
//     on first sight of a token (EnsureFromClaims, race-safe), applies the
//     user.* events, and tombstones deleted users so that a token issued
//     before the deletion can never bring the row back, however long it
//     lives.
//
//   - Reconciling. Reconcile walks the shadow table against Auther's admin
//     API and repairs drift, refusing to delete when most users look gone;
//     Reconciler.ResyncUser does one user.
//
// It depends on the standard library and go-jose only; bring your own SQL
// driver (tested with modernc.org/sqlite and pgx).
//
// See docs/sdk.md in the repository for a walk-through, the webhook status
// codes and adapters for gin and echo.
package sdk
