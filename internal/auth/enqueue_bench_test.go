package auth_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/clock"
	"github.com/auther/auther/internal/mail"
	"github.com/auther/auther/internal/mailqueue"
	"github.com/auther/auther/internal/password"
	"github.com/auther/auther/internal/seal"
	"github.com/auther/auther/internal/session"
	"github.com/auther/auther/internal/testdb"
	"github.com/auther/auther/internal/verification"
)

// BenchmarkEnqueue measures request-to-enqueue for each mail flow: the
// domain work from the call to the committed outbox row (render, seal, one
// transaction), without HTTP and without the anti-enumeration answer floor.
func BenchmarkEnqueue(b *testing.B) {
	for _, be := range testdb.Backends {
		b.Run(be.Name, func(b *testing.B) {
			st := be.Open(b)
			tmpl, _ := mail.LoadTemplates("")
			box, _ := seal.New("bench-secret-bench-secret-bench-secret", "mail")
			clk := clock.Real{}
			opts := auth.DefaultEmailOptions()
			opts.Mail = &mailqueue.Composer{Templates: tmpl, Box: box, Product: "Auther", Clock: clk}
			opts.BaseURL = "http://127.0.0.1:3000"
			opts.OTP = verification.NewOTPHasher("bench-secret-bench-secret-bench-secret")
			opts.Verification = auth.VerifyOn
			svc := &auth.Service{Store: st, Hasher: password.NewPool(0), Clock: clk, Policy: session.DefaultPolicy,
				MinPassword: 8, MaxPassword: 128, Signup: auth.SignupOpen, Email: opts}
			ctx := context.Background()
			if _, err := svc.CreateUser(ctx, "Bench", "bench@example.com", "correct horse battery", false, false); err != nil {
				b.Fatal(err)
			}
			flows := map[string]func(i int) error{
				"verify-email":   func(int) error { return svc.SendVerificationEmail(ctx, "bench@example.com", "", nil) },
				"reset-password": func(int) error { return svc.RequestPasswordReset(ctx, "bench@example.com", "/reset") },
				"magic-link": func(i int) error {
					return svc.SendMagicLink(ctx, fmt.Sprintf("m%d@example.com", i), "", auth.MagicLinkURLs{Callback: "/app"})
				},
				"email-otp": func(int) error { return svc.SendOTP(ctx, "bench@example.com", auth.OTPSignIn) },
			}
			for _, name := range []string{"verify-email", "reset-password", "magic-link", "email-otp"} {
				b.Run(name, func(b *testing.B) {
					i := 0
					for b.Loop() {
						if err := flows[name](i); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
			}
		})
	}
}
