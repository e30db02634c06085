package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// Every user-visible string of the pages lives in strings/<lang>.json, a
// flat object of key → text. Texts with arguments use fmt verbs with
// explicit indexes (%[1]s), so a translation may reorder them. English is
// the reference: every other catalog must have exactly its keys (a test
// checks), and English is used for a language without a catalog.

//go:embed strings/*.json
var stringsFS embed.FS

type catalog map[string]string

func loadCatalogs() (map[string]catalog, error) {
	entries, err := stringsFS.ReadDir("strings")
	if err != nil {
		return nil, err
	}
	out := map[string]catalog{}
	for _, e := range entries {
		b, err := stringsFS.ReadFile("strings/" + e.Name())
		if err != nil {
			return nil, err
		}
		var c catalog
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("strings/%s: %w", e.Name(), err)
		}
		out[strings.TrimSuffix(e.Name(), path.Ext(e.Name()))] = c
	}
	if out["en"] == nil {
		return nil, fmt.Errorf("strings/en.json is missing")
	}
	return out, nil
}

// T returns the text for key, formatted with args. An unknown key is an
// error, which aborts rendering: a page never shows a raw key.
func (c catalog) T(key string, args ...any) (string, error) {
	s, ok := c[key]
	if !ok {
		return "", fmt.Errorf("web: no string %q", key)
	}
	if len(args) == 0 {
		return s, nil
	}
	return fmt.Sprintf(s, args...), nil
}

func (c catalog) msg(m *Message) (string, error) {
	if m == nil {
		return "", nil
	}
	args := make([]any, len(m.Args))
	for i, a := range m.Args {
		// A nested message (a word chosen by the handler) is translated too.
		if nm, ok := a.(*Message); ok {
			s, err := c.msg(nm)
			if err != nil {
				return "", err
			}
			a = s
		}
		args[i] = a
	}
	return c.T(m.Key, args...)
}

func (c catalog) get(key string) string {
	s, _ := c.T(key)
	return s
}
