package httpapi_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/testdb"
)

func TestSignUpVerifyEmailThroughSMTP(t *testing.T) {
	eachMailBackend(t, auth.VerifyOn, func(t *testing.T, m *mailEnv) {
		c := m.client()
		c.signUp("new@example.com", pw)
		msg := m.mailTo(t, 1, "new@example.com")
		if !strings.Contains(strings.ToLower(msg.Subject), "verify") {
			t.Errorf("subject %q", msg.Subject)
		}
		link := m.linkIn(t, msg)
		if u := c.session()["user"].(map[string]any); u["emailVerified"] != false {
			t.Fatal("verified before the link was followed")
		}
		r := e2eGet(c, link)
		if r.Status != 200 || r.json(t)["status"] != true {
			t.Fatalf("verify-email: %d %s", r.Status, r.Body)
		}
		if u := c.session()["user"].(map[string]any); u["emailVerified"] != true {
			t.Error("email not verified after following the link")
		}
		// The link is single-use.
		if r := e2eGet(c, link); r.Status != 401 || r.code(t) != "INVALID_TOKEN" {
			t.Errorf("reused link: %d %s", r.Status, r.Body)
		}
	})
}

func e2eGet(c *client, path string) response { return c.get(path) }

func TestRequiredVerificationBlocksSignIn(t *testing.T) {
	eachMailBackend(t, auth.VerifyRequired, func(t *testing.T, m *mailEnv) {
		c := m.client()
		r := c.post("/api/auth/sign-up/email", map[string]any{"name": "R", "email": "req@example.com", "password": pw, "callbackURL": "/welcome"})
		if r.Status != 200 || r.json(t)["token"] != nil || c.session() != nil {
			t.Fatalf("sign-up with required verification must not sign in: %d %s", r.Status, r.Body)
		}
		// A second sign-up for the address answers the same (no enumeration).
		r2 := m.client().post("/api/auth/sign-up/email", map[string]any{"name": "R", "email": "req@example.com", "password": pw})
		if r2.Status != 200 || r2.json(t)["token"] != nil {
			t.Errorf("duplicate sign-up revealed the account: %d %s", r2.Status, r2.Body)
		}
		first := m.mailTo(t, 1, "req@example.com")
		s := m.client().post("/api/auth/sign-in/email", map[string]any{"email": "req@example.com", "password": pw})
		if s.Status != 403 || s.code(t) != "EMAIL_NOT_VERIFIED" {
			t.Fatalf("unverified sign-in: %d %s", s.Status, s.Body)
		}
		resent := m.mailTo(t, 2, "req@example.com")
		// Within a minute a second refusal does not send a third mail.
		m.client().post("/api/auth/sign-in/email", map[string]any{"email": "req@example.com", "password": pw})
		time.Sleep(150 * time.Millisecond)
		if n := len(m.smtp.Messages()); n != 2 {
			t.Errorf("%d mails after a second refused sign-in, want 2", n)
		}
		link := m.linkIn(t, resent)
		if !strings.Contains(m.linkIn(t, first), "callbackURL=%2Fwelcome") {
			t.Errorf("sign-up link lost its callbackURL: %s", m.linkIn(t, first))
		}
		// No app asked for the resent link: it ends on the hosted result page.
		r = c.get(link)
		if r.Status != 302 || r.Header.Get("Location") != "/verify-email" {
			t.Fatalf("resent link: %d %v", r.Status, r.Header)
		}
		if s := m.client().post("/api/auth/sign-in/email", map[string]any{"email": "req@example.com", "password": pw}); s.Status != 200 {
			t.Errorf("verified sign-in: %d %s", s.Status, s.Body)
		}
	})
}

func TestPasswordResetThroughSMTP(t *testing.T) {
	eachMailBackend(t, auth.VerifyOff, func(t *testing.T, m *mailEnv) {
		owner := m.client()
		owner.signUp("reset@example.com", pw)
		known := m.client().post("/api/auth/request-password-reset", map[string]any{"email": "reset@example.com", "redirectTo": "/reset"})
		unknown := m.client().post("/api/auth/request-password-reset", map[string]any{"email": "ghost@example.com", "redirectTo": "/reset"})
		if known.Status != 200 || string(known.Body) != string(unknown.Body) || unknown.Status != 200 {
			t.Fatalf("known %d %s vs unknown %d %s: must be identical", known.Status, known.Body, unknown.Status, unknown.Body)
		}
		msg := m.mailTo(t, 1, "reset@example.com")
		link := m.linkIn(t, msg)
		r := m.client().get(link)
		loc, _ := url.Parse(r.Header.Get("Location"))
		tok := loc.Query().Get("token")
		if r.Status != 302 || loc.Path != "/reset" || tok == "" {
			t.Fatalf("reset link: %d %s", r.Status, r.Header.Get("Location"))
		}
		if r := m.client().post("/api/auth/reset-password", map[string]any{"token": tok, "newPassword": "short"}); r.code(t) != "PASSWORD_TOO_SHORT" {
			t.Fatalf("short password: %s", r.Body)
		}
		// The bad attempt did not burn the token; two concurrent uses: one wins.
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = m.client().post("/api/auth/reset-password", map[string]any{"token": tok, "newPassword": "brand new password"}).Status
			}()
		}
		wg.Wait()
		if !(codes[0] == 200 && codes[1] == 400 || codes[0] == 400 && codes[1] == 200) {
			t.Fatalf("concurrent resets: %v, want one 200 and one 400", codes)
		}
		if owner.session() != nil {
			t.Error("reset did not revoke the existing session")
		}
		if r := m.client().post("/api/auth/sign-in/email", map[string]any{"email": "reset@example.com", "password": pw}); r.Status != 401 {
			t.Error("old password still works")
		}
		if r := m.client().post("/api/auth/sign-in/email", map[string]any{"email": "reset@example.com", "password": "brand new password"}); r.Status != 200 {
			t.Errorf("new password refused: %d", r.Status)
		}
		if r := m.client().get(link); !strings.Contains(r.Header.Get("Location"), "error=INVALID_TOKEN") {
			t.Errorf("used reset link: %s", r.Header.Get("Location"))
		}
		// Only one mail was ever sent: nothing for the unknown address.
		time.Sleep(100 * time.Millisecond)
		if n := len(m.smtp.Messages()); n != 1 {
			t.Errorf("%d mails sent, want 1", n)
		}
	})
}

func TestMagicLinkThroughSMTP(t *testing.T) {
	eachMailBackend(t, auth.VerifyOff, func(t *testing.T, m *mailEnv) {
		if r := m.client().post("/api/auth/sign-in/magic-link", map[string]any{"email": "magic@example.com", "callbackURL": "https://evil.example/x"}); r.Status != 403 {
			t.Fatalf("foreign callback accepted: %d", r.Status)
		}
		r := m.client().post("/api/auth/sign-in/magic-link", map[string]any{"email": "Magic@Example.com", "name": "Mage", "callbackURL": "/app", "newUserCallbackURL": "/welcome"})
		if r.Status != 200 || r.json(t)["status"] != true {
			t.Fatalf("magic link: %d %s", r.Status, r.Body)
		}
		link := m.linkIn(t, m.mailTo(t, 1, "magic@example.com"))
		c := m.client()
		v := c.get(link)
		if v.Status != 302 || v.Header.Get("Location") != "/welcome" {
			t.Fatalf("new user magic link: %d %s", v.Status, v.Header.Get("Location"))
		}
		u := c.session()["user"].(map[string]any)
		if u["email"] != "magic@example.com" || u["emailVerified"] != true || u["name"] != "Mage" {
			t.Errorf("created user = %v", u)
		}
		if v := m.client().get(link); !strings.Contains(v.Header.Get("Location"), "error=INVALID_TOKEN") {
			t.Errorf("reused magic link: %s", v.Header.Get("Location"))
		}
		// An existing user lands on callbackURL; an expired link fails.
		m.client().post("/api/auth/sign-in/magic-link", map[string]any{"email": "magic@example.com", "callbackURL": "/app"})
		link2 := m.linkIn(t, m.mailTo(t, 2, "magic@example.com"))
		if v := m.client().get(link2); v.Header.Get("Location") != "/app" {
			t.Errorf("existing user: %s", v.Header.Get("Location"))
		}
		m.client().post("/api/auth/sign-in/magic-link", map[string]any{"email": "magic@example.com"})
		link3 := m.linkIn(t, m.mailTo(t, 3, "magic@example.com"))
		m.clock.Advance(5*time.Minute + time.Second)
		if v := m.client().get(link3); v.Status == 200 || v.code(t) != "INVALID_TOKEN" {
			t.Errorf("expired magic link: %d %s", v.Status, v.Body)
		}
		if v := m.client().get("/api/auth/magic-link/verify?token=" + strings.Repeat("A", 43)); v.code(t) != "INVALID_TOKEN" {
			t.Errorf("forged token: %s", v.Body)
		}
	})
}

func TestEmailOTPThroughSMTP(t *testing.T) {
	eachMailBackend(t, auth.VerifyOn, func(t *testing.T, m *mailEnv) {
		n := 0
		send := func(email, typ string) string {
			t.Helper()
			r := m.client().post("/api/auth/email-otp/send-verification-otp", map[string]any{"email": email, "type": typ})
			if r.Status != 200 || r.json(t)["success"] != true {
				t.Fatalf("send %s otp: %d %s", typ, r.Status, r.Body)
			}
			n++
			return m.otpIn(t, m.mailTo(t, n, email))
		}
		// sign-in: signs up a new user, verified.
		code := send("otp@example.com", "sign-in")
		c := m.client()
		if r := c.post("/api/auth/sign-in/email-otp", map[string]any{"email": "otp@example.com", "otp": code}); r.Status != 200 {
			t.Fatalf("sign-in otp: %d %s", r.Status, r.Body)
		}
		if u := c.session()["user"].(map[string]any); u["emailVerified"] != true {
			t.Error("otp sign-in did not verify the address")
		}
		if r := m.client().post("/api/auth/sign-in/email-otp", map[string]any{"email": "otp@example.com", "otp": code}); r.code(t) != "INVALID_OTP" {
			t.Errorf("reused code: %s", r.Body)
		}
		// email-verification for an unverified password user.
		m.client().signUp("unv@example.com", pw)
		n++ // the sign-up verification link
		m.mailTo(t, n, "unv@example.com")
		code = send("unv@example.com", "email-verification")
		if r := m.client().post("/api/auth/email-otp/verify-email", map[string]any{"email": "unv@example.com", "otp": code}); r.Status != 200 || r.json(t)["user"].(map[string]any)["emailVerified"] != true {
			t.Fatalf("verify-email otp: %d %s", r.Status, r.Body)
		}
		// forget-password: three wrong codes kill the code.
		code = send("unv@example.com", "forget-password")
		for i := range 3 {
			r := m.client().post("/api/auth/email-otp/reset-password", map[string]any{"email": "unv@example.com", "otp": "000000"[:6-len(code)] + wrong(code, i), "password": "another password"})
			if r.Status != 400 || r.code(t) != "INVALID_OTP" {
				t.Fatalf("wrong code %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		r := m.client().post("/api/auth/email-otp/reset-password", map[string]any{"email": "unv@example.com", "otp": code, "password": "another password"})
		if r.Status != 403 || r.code(t) != "TOO_MANY_ATTEMPTS" {
			t.Fatalf("right code after 3 wrong: %d %s", r.Status, r.Body)
		}
		if r := m.client().post("/api/auth/sign-in/email", map[string]any{"email": "unv@example.com", "password": pw}); r.Status != 200 {
			t.Error("a dead code changed the password")
		}
		// A fresh code works once, even when used twice at the same time.
		code = send("unv@example.com", "forget-password")
		var wg sync.WaitGroup
		st := make([]int, 2)
		for i := range st {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st[i] = m.client().post("/api/auth/email-otp/reset-password", map[string]any{"email": "unv@example.com", "otp": code, "password": "another password"}).Status
			}()
		}
		wg.Wait()
		if !(st[0] == 200 && st[1] == 400 || st[0] == 400 && st[1] == 200) {
			t.Errorf("concurrent code use: %v", st)
		}
		if r := m.client().post("/api/auth/sign-in/email", map[string]any{"email": "unv@example.com", "password": "another password"}); r.Status != 200 {
			t.Error("otp reset did not set the password")
		}
		// Expired code.
		code = send("unv@example.com", "sign-in")
		m.clock.Advance(5*time.Minute + time.Second)
		if r := m.client().post("/api/auth/sign-in/email-otp", map[string]any{"email": "unv@example.com", "otp": code}); r.code(t) != "OTP_EXPIRED" {
			t.Errorf("expired code: %s", r.Body)
		}
		// Unknown addresses get the same answer and no mail.
		before := len(m.smtp.Messages())
		r = m.client().post("/api/auth/email-otp/send-verification-otp", map[string]any{"email": "ghost@example.com", "type": "forget-password"})
		if r.Status != 200 || r.json(t)["success"] != true {
			t.Errorf("unknown address: %d %s", r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
		if len(m.smtp.Messages()) != before {
			t.Error("mail sent to an unknown address")
		}
	})
}

// wrong returns a six-digit code different from code (varying with i).
func wrong(code string, i int) string {
	b := []byte(code)
	b[i] = '0' + (b[i]-'0'+1)%10
	return string(b)
}

func TestChangeEmailThroughSMTP(t *testing.T) {
	eachMailBackend(t, auth.VerifyOn, func(t *testing.T, m *mailEnv) {
		c := m.client()
		c.signUp("old@example.com", pw)
		c.get(m.linkIn(t, m.mailTo(t, 1, "old@example.com"))) // verify
		m.client().signUp("taken@example.com", pw)
		m.mailTo(t, 2, "taken@example.com")
		if r := c.post("/api/auth/change-email", map[string]any{"newEmail": "taken@example.com"}); r.Status != 422 {
			t.Errorf("change to a taken address: %d %s", r.Status, r.Body)
		}
		if r := c.post("/api/auth/change-email", map[string]any{"newEmail": "new@example.com", "callbackURL": "/settings"}); r.Status != 200 {
			t.Fatalf("change-email: %d %s", r.Status, r.Body)
		}
		msg := m.mailTo(t, 3, "new@example.com")
		if u := c.session()["user"].(map[string]any); u["email"] != "old@example.com" {
			t.Fatalf("email changed before confirmation: %v", u["email"])
		}
		r := c.get(m.linkIn(t, msg))
		if r.Status != 302 || r.Header.Get("Location") != "/settings" {
			t.Fatalf("confirm: %d %s", r.Status, r.Header.Get("Location"))
		}
		u := c.session()["user"].(map[string]any)
		if u["email"] != "new@example.com" || u["emailVerified"] != true {
			t.Errorf("after confirmation: %v", u)
		}
		if _, err := m.store.GetUserByEmail(context.Background(), "old@example.com"); err == nil {
			t.Error("old address still belongs to a user")
		}
	}, func(o *auth.EmailOptions) {})
}

func TestChangeEmailConfirmsOldAddressFirst(t *testing.T) {
	eachMailBackend(t, auth.VerifyOn, func(t *testing.T, m *mailEnv) {
		c := m.client()
		c.signUp("first@example.com", pw)
		c.get(m.linkIn(t, m.mailTo(t, 1, "first@example.com")))
		c.post("/api/auth/change-email", map[string]any{"newEmail": "second@example.com"})
		approve := m.mailTo(t, 2, "first@example.com")
		r := c.get(m.linkIn(t, approve))
		if r.Status != 200 {
			t.Fatalf("approve: %d %s", r.Status, r.Body)
		}
		if u := c.session()["user"].(map[string]any); u["email"] != "first@example.com" {
			t.Fatal("changed on approval alone")
		}
		c.get(m.linkIn(t, m.mailTo(t, 3, "second@example.com")))
		if u := c.session()["user"].(map[string]any); u["email"] != "second@example.com" {
			t.Errorf("after both steps: %v", u["email"])
		}
	}, func(o *auth.EmailOptions) { o.ChangeEmailConfirmOld = true })
}

func TestMagicLinkRespectsSignupModeAndResetCreatesCredential(t *testing.T) {
	st := testdb.SQLite(t)
	m := newMailEnv(t, st, auth.VerifyOff)
	m.client().signUp("member@example.com", pw)
	m.auth.Signup = auth.SignupClosed
	r1 := m.client().post("/api/auth/sign-in/magic-link", map[string]any{"email": "stranger@example.com", "errorCallbackURL": "/oops"})
	r2 := m.client().post("/api/auth/sign-in/magic-link", map[string]any{"email": "member@example.com", "errorCallbackURL": "/oops"})
	if r1.Status != 200 || string(r1.Body) != string(r2.Body) {
		t.Fatalf("unknown %d %s vs known %d %s: must be identical", r1.Status, r1.Body, r2.Status, r2.Body)
	}
	msgs := m.smtp.WaitFor(t, 2, 5*time.Second)
	var strangerLink string
	for _, msg := range msgs {
		if msg.To[0] == "stranger@example.com" {
			strangerLink = m.linkIn(t, msg)
		}
	}
	v := m.client().get(strangerLink)
	if v.Status != 302 || v.Header.Get("Location") != "/oops?error=new_user_signup_disabled" {
		t.Fatalf("closed sign-up via magic link: %d %s", v.Status, v.Header.Get("Location"))
	}
	if _, err := st.GetUserByEmail(context.Background(), "stranger@example.com"); err == nil {
		t.Fatal("a user was created with sign-up closed")
	}
}

func TestResetCreatesCredentialForPasswordlessUser(t *testing.T) {
	st := testdb.SQLite(t)
	m := newMailEnv(t, st, auth.VerifyOff)
	m.client().post("/api/auth/sign-in/magic-link", map[string]any{"email": "nopw@example.com"})
	c := m.client()
	if r := c.get(m.linkIn(t, m.mailTo(t, 1, "nopw@example.com"))); r.Status != 200 {
		t.Fatalf("magic sign-up: %d %s", r.Status, r.Body)
	}
	u, _ := st.GetUserByEmail(context.Background(), "nopw@example.com")
	if accs, _ := st.ListAccounts(context.Background(), u.ID); len(accs) != 0 {
		t.Fatalf("magic-link user has accounts: %+v", accs)
	}
	m.client().post("/api/auth/request-password-reset", map[string]any{"email": "nopw@example.com", "redirectTo": "/r"})
	loc, _ := url.Parse(m.client().get(m.linkIn(t, m.mailTo(t, 2, "nopw@example.com"))).Header.Get("Location"))
	if r := m.client().post("/api/auth/reset-password", map[string]any{"token": loc.Query().Get("token"), "newPassword": "first password!"}); r.Status != 200 {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	if r := m.client().post("/api/auth/sign-in/email", map[string]any{"email": "nopw@example.com", "password": "first password!"}); r.Status != 200 {
		t.Errorf("password sign-in after reset: %d %s", r.Status, r.Body)
	}
	// The reset link has expired after an hour.
	m.client().post("/api/auth/request-password-reset", map[string]any{"email": "nopw@example.com", "redirectTo": "/r"})
	link := m.linkIn(t, m.mailTo(t, 3, "nopw@example.com"))
	m.clock.Advance(time.Hour + time.Second)
	if r := m.client().get(link); !strings.Contains(r.Header.Get("Location"), "error=INVALID_TOKEN") {
		t.Errorf("expired reset link: %s", r.Header.Get("Location"))
	}
}

func TestAutoSignInAfterVerification(t *testing.T) {
	m := newMailEnv(t, testdb.SQLite(t), auth.VerifyRequired, func(o *auth.EmailOptions) { o.AutoSignInAfterVerify = true })
	m.client().post("/api/auth/sign-up/email", map[string]any{"name": "A", "email": "auto@example.com", "password": pw})
	c := m.client()
	r := c.get(m.linkIn(t, m.mailTo(t, 1, "auto@example.com")))
	if r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	s := c.session()
	if s == nil || s["user"].(map[string]any)["emailVerified"] != true {
		t.Fatalf("not signed in after verification: %v", s)
	}
}

func TestConcurrentRefusedSignInsSendOneMail(t *testing.T) {
	eachMailBackend(t, auth.VerifyRequired, func(t *testing.T, m *mailEnv) {
		m.client().post("/api/auth/sign-up/email", map[string]any{"name": "C", "email": "conc@example.com", "password": pw})
		m.mailTo(t, 1, "conc@example.com")
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.client().post("/api/auth/sign-in/email", map[string]any{"email": "conc@example.com", "password": pw})
			}()
		}
		wg.Wait()
		m.mailTo(t, 2, "conc@example.com")
		time.Sleep(200 * time.Millisecond)
		if n := len(m.smtp.Messages()); n != 2 {
			t.Errorf("%d mails after 8 concurrent refused sign-ins, want 2 (sign-up + one resend)", n)
		}
	})
}
