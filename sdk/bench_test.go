package sdk_test

import (
	"context"
	"testing"
	"time"

	"github.com/auther/auther/sdk"
)

// BenchmarkVerify measures Verifier.Verify on Auther-shaped access tokens
// with a warm key cache: what every authenticated request costs an app.
// The JWKS server must see no request during the timed loop.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			k := newKey(b, alg)
			is := newIssuer(b, k)
			now := time.Now()
			v, err := sdk.NewVerifier(context.Background(), sdk.Config{Issuer: is.url(), Audience: audience, Algorithms: []string{alg}})
			if err != nil {
				b.Fatal(err)
			}
			tok := k.sign(b, is.claims(now, "0193a4b2-7c1d-7e8f-9a0b-1c2d3e4f5a6b"))
			ctx := context.Background()
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
			hits := is.hits.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if got := is.hits.Load(); got != hits {
				b.Fatalf("the key set was fetched %d times during the loop", got-hits)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
		})
	}
}
