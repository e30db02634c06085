package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:3000" || c.DataDir != "./auther-data" || c.BaseURL != "http://127.0.0.1:3000" ||
		c.Signup != "open" || c.CookiePrefix != "auther" || c.SessionExpiresIn != 168*time.Hour ||
		c.SessionUpdateAge != 24*time.Hour || c.PasswordMinLength != 8 || c.PasswordMaxLength != 128 || !c.RateLimit || c.Migrate {
		t.Errorf("defaults: %+v", c)
	}
}

func TestPrecedenceFlagOverEnvOverFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "auther.yaml")
	os.WriteFile(file, []byte("addr: 127.0.0.1:4000\nsignup: closed\ntrusted-origins:\n  - https://a.example.com\n  - https://b.example.com\n"), 0o600)
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--addr", "127.0.0.1:5000", "--migrate"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(fs, env(map[string]string{"AUTHER_ADDR": "127.0.0.1:4500", "AUTHER_SIGNUP": "secret", "AUTHER_SIGNUP_SECRET": "0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:5000" {
		t.Errorf("flag did not win: addr %s", c.Addr)
	}
	if c.Signup != "secret" {
		t.Errorf("env did not beat the file: signup %s", c.Signup)
	}
	if strings.Join(c.TrustedOrigins, ",") != "https://a.example.com,https://b.example.com" {
		t.Errorf("file list: %v", c.TrustedOrigins)
	}
	if !c.Migrate {
		t.Error("bare --migrate did not mean true")
	}
}

func TestInvalidValuesAreClearErrors(t *testing.T) {
	cases := map[string]map[string]string{
		"AUTHER_SECRET":             {"AUTHER_SECRET": "short"},
		"AUTHER_SIGNUP":             {"AUTHER_SIGNUP": "sometimes"},
		"AUTHER_SESSION_EXPIRES_IN": {"AUTHER_SESSION_EXPIRES_IN": "7 days"},
		"AUTHER_ADDR":               {"AUTHER_ADDR": "nonsense"},
		"AUTHER_BASE_URL":           {"AUTHER_BASE_URL": "ftp://x"},
		"signup-secret":             {"AUTHER_SIGNUP": "secret"},
		"AUTHER_RATE_LIMIT":         {"AUTHER_RATE_LIMIT": "maybe"},
	}
	for name, e := range cases {
		_, err := Load(nil, env(e))
		if err == nil {
			t.Errorf("%s: accepted %v", name, e)
			continue
		}
		if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(strings.TrimPrefix(name, "AUTHER_"))[:4]) {
			t.Errorf("%s: error %q does not name the setting", name, err)
		}
	}
	f := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(f, []byte("adress: 1\n"), 0o600)
	if _, err := Load(nil, env(map[string]string{ConfigFileEnv: f})); err == nil || !strings.Contains(err.Error(), "adress") {
		t.Errorf("unknown file key: %v", err)
	}
}

// The README documents every key with its environment variable and default.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, k := range Keys {
		row := "| `--" + k.Name + "` | `" + k.Env() + "` | "
		i := strings.Index(readme, row)
		if i < 0 {
			t.Errorf("README has no row for %s", k.Name)
			continue
		}
		line := readme[i : i+strings.IndexByte(readme[i:], '\n')]
		if k.Default != "" && !strings.Contains(line, "`"+k.Default+"`") {
			t.Errorf("README row for %s does not give the default %q: %s", k.Name, k.Default, line)
		}
	}
}
