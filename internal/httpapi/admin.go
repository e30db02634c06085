package httpapi

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/oidc"
	"github.com/auther/auther/internal/store"
)

// The admin JSON API under /api/admin. Callers are signed-in users with the
// admin role (cookie or Bearer session token).

func (s *Server) withAdmin(h sessionHandler) http.HandlerFunc {
	return s.withSession(func(w http.ResponseWriter, r *http.Request, c *auth.Current) {
		if !c.User.IsAdmin() {
			writeError(w, errorf(http.StatusForbidden, "FORBIDDEN", "Administrators only"))
			return
		}
		h(w, r, c)
	})
}

type clientJSON struct {
	ClientID               string   `json:"client_id"`
	ClientSecret           string   `json:"client_secret,omitempty"` // only when just created or rotated
	Name                   string   `json:"name"`
	Type                   string   `json:"type"`
	Disabled               bool     `json:"disabled"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
	Scopes                 []string `json:"scopes"`
	SkipConsent            bool     `json:"skip_consent"`
	AccessTokenTTL         *int     `json:"access_token_ttl,omitempty"`
	IDTokenTTL             *int     `json:"id_token_ttl,omitempty"`
	RefreshTokenTTL        *int     `json:"refresh_token_ttl,omitempty"`
	CreatedAt              isoTime  `json:"created_at"`
	UpdatedAt              isoTime  `json:"updated_at"`
}

func seconds(d *time.Duration) *int {
	if d == nil {
		return nil
	}
	n := int(*d / time.Second)
	return &n
}

func toClient(c *store.Client, secret string) clientJSON {
	kind := "confidential"
	if c.Public {
		kind = "public"
	}
	return clientJSON{c.ID, secret, c.Name, kind, c.Disabled, c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes, c.Scopes,
		c.SkipConsent, seconds(c.AccessTokenTTL), seconds(c.IDTokenTTL), seconds(c.RefreshTokenTTL), isoTime(c.CreatedAt), isoTime(c.UpdatedAt)}
}

type clientReq struct {
	Name                   *string   `json:"name"`
	Type                   string    `json:"type"`
	RedirectURIs           *[]string `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris"`
	GrantTypes             *[]string `json:"grant_types"`
	Scopes                 *[]string `json:"scopes"`
	SkipConsent            *bool     `json:"skip_consent"`
	Disabled               *bool     `json:"disabled"`
	AccessTokenTTL         *int      `json:"access_token_ttl"`
	IDTokenTTL             *int      `json:"id_token_ttl"`
	RefreshTokenTTL        *int      `json:"refresh_token_ttl"`
}

func orEmpty(p *[]string) []string {
	if p == nil {
		return nil
	}
	return *p
}

func ttlFrom(n *int) (*time.Duration, error) {
	if n == nil {
		return nil, nil
	}
	if *n <= 0 || *n > 365*24*3600 {
		return nil, errors.New("token lifetimes are seconds between 1 and one year")
	}
	d := time.Duration(*n) * time.Second
	return &d, nil
}

func (s *Server) adminListClients(w http.ResponseWriter, r *http.Request, _ *auth.Current) {
	cs, err := s.store.ListClients(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]clientJSON, 0, len(cs))
	for i := range cs {
		out = append(out, toClient(&cs[i], ""))
	}
	writeJSON(w, 200, out)
}

func (s *Server) adminCreateClient(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	var req clientReq
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Name == nil {
		writeError(w, required("name"))
		return
	}
	spec := oidc.ClientSpec{Name: *req.Name, Public: req.Type == "public", RedirectURIs: orEmpty(req.RedirectURIs),
		PostLogoutRedirectURIs: orEmpty(req.PostLogoutRedirectURIs), GrantTypes: orEmpty(req.GrantTypes), Scopes: orEmpty(req.Scopes),
		SkipConsent: req.SkipConsent != nil && *req.SkipConsent}
	if req.Type != "" && req.Type != "public" && req.Type != "confidential" {
		writeError(w, errorf(http.StatusBadRequest, "VALIDATION_ERROR", "[body.type] Expected public or confidential"))
		return
	}
	cl, secret, err := oidc.NewClient(spec, s.auth.Clock.Now().UTC().Truncate(time.Millisecond))
	if err == nil {
		err = applyTTLs(cl, req)
	}
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "INVALID_CLIENT_METADATA", err.Error()))
		return
	}
	if err := s.store.CreateClient(r.Context(), cl); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("client created", "client_id", cl.ID, "by", c.User.ID)
	writeJSON(w, http.StatusCreated, toClient(cl, secret))
}

func applyTTLs(cl *store.Client, req clientReq) error {
	var err error
	for _, p := range []struct {
		in  *int
		out **time.Duration
	}{{req.AccessTokenTTL, &cl.AccessTokenTTL}, {req.IDTokenTTL, &cl.IDTokenTTL}, {req.RefreshTokenTTL, &cl.RefreshTokenTTL}} {
		if p.in != nil {
			if *p.out, err = ttlFrom(p.in); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Server) adminGetClient(w http.ResponseWriter, r *http.Request, _ *auth.Current) {
	cl, err := s.store.GetClient(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, errorf(http.StatusNotFound, "CLIENT_NOT_FOUND", "No such client"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, toClient(cl, ""))
}

func (s *Server) adminUpdateClient(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	var req clientReq
	if e := decode(r, &req); e != nil {
		writeError(w, e)
		return
	}
	var bad error
	cl, err := s.store.UpdateClient(r.Context(), r.PathValue("id"), func(cl *store.Client) error {
		if req.Name != nil {
			cl.Name = *req.Name
		}
		for _, u := range append(slices.Clone(orEmpty(req.RedirectURIs)), orEmpty(req.PostLogoutRedirectURIs)...) {
			if err := oidc.ValidateRedirectURI(u); err != nil {
				bad = err
				return err
			}
		}
		if req.RedirectURIs != nil {
			cl.RedirectURIs = *req.RedirectURIs
		}
		if req.PostLogoutRedirectURIs != nil {
			cl.PostLogoutRedirectURIs = *req.PostLogoutRedirectURIs
		}
		if req.Scopes != nil {
			for _, sc := range *req.Scopes {
				if !slices.Contains(oidc.Scopes, sc) {
					bad = errors.New("unknown scope " + sc)
					return bad
				}
			}
			cl.Scopes = *req.Scopes
		}
		if req.SkipConsent != nil {
			cl.SkipConsent = *req.SkipConsent
		}
		if req.Disabled != nil {
			cl.Disabled = *req.Disabled
		}
		if err := applyTTLs(cl, req); err != nil {
			bad = err
			return err
		}
		cl.UpdatedAt = s.auth.Clock.Now().UTC().Truncate(time.Millisecond)
		return nil
	})
	switch {
	case bad != nil:
		writeError(w, errorf(http.StatusBadRequest, "INVALID_CLIENT_METADATA", bad.Error()))
	case errors.Is(err, store.ErrNotFound):
		writeError(w, errorf(http.StatusNotFound, "CLIENT_NOT_FOUND", "No such client"))
	case err != nil:
		s.fail(w, r, err)
	default:
		s.log.Info("client updated", "client_id", cl.ID, "by", c.User.ID)
		writeJSON(w, 200, toClient(cl, ""))
	}
}

func (s *Server) adminRotateSecret(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	var secret string
	cl, err := s.store.UpdateClient(r.Context(), r.PathValue("id"), func(cl *store.Client) error {
		if cl.Public {
			return errPublicClient
		}
		var hash string
		secret, hash = oidc.NewSecret()
		cl.SecretHash = &hash
		cl.UpdatedAt = s.auth.Clock.Now().UTC().Truncate(time.Millisecond)
		return nil
	})
	switch {
	case errors.Is(err, errPublicClient):
		writeError(w, errorf(http.StatusBadRequest, "PUBLIC_CLIENT", "Public clients have no secret"))
	case errors.Is(err, store.ErrNotFound):
		writeError(w, errorf(http.StatusNotFound, "CLIENT_NOT_FOUND", "No such client"))
	case err != nil:
		s.fail(w, r, err)
	default:
		s.log.Info("client secret rotated", "client_id", cl.ID, "by", c.User.ID)
		writeJSON(w, 200, toClient(cl, secret))
	}
}

var errPublicClient = errors.New("public client")

func (s *Server) adminDeleteClient(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	err := s.store.DeleteClient(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, errorf(http.StatusNotFound, "CLIENT_NOT_FOUND", "No such client"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("client deleted", "client_id", r.PathValue("id"), "by", c.User.ID)
	writeJSON(w, 200, map[string]bool{"success": true})
}

// register is RFC 7591 dynamic client registration: off unless configured,
// and then only for callers holding the internal signup secret.
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if !s.regOn {
		writeError(w, errorf(http.StatusNotFound, "NOT_FOUND", "Dynamic client registration is disabled"))
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("x-internal-signup-secret")), []byte(s.regKey)) != 1 {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "access_denied", "error_description": "registration requires the internal signup secret"})
		return
	}
	var req struct {
		RedirectURIs           []string `json:"redirect_uris"`
		PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
		ClientName             string   `json:"client_name"`
		TokenEndpointAuth      string   `json:"token_endpoint_auth_method"`
		GrantTypes             []string `json:"grant_types"`
		Scope                  string   `json:"scope"`
	}
	if e := decode(r, &req); e != nil {
		writeJSON(w, e.Status, map[string]string{"error": "invalid_client_metadata", "error_description": e.Message})
		return
	}
	public := req.TokenEndpointAuth == "none"
	if m := req.TokenEndpointAuth; m != "" && m != "none" && m != "client_secret_basic" && m != "client_secret_post" {
		writeJSON(w, 400, map[string]string{"error": "invalid_client_metadata", "error_description": "unsupported token_endpoint_auth_method"})
		return
	}
	cl, secret, err := oidc.NewClient(oidc.ClientSpec{Name: req.ClientName, Public: public, RedirectURIs: req.RedirectURIs,
		PostLogoutRedirectURIs: req.PostLogoutRedirectURIs, GrantTypes: req.GrantTypes, Scopes: strings.Fields(req.Scope)},
		s.auth.Clock.Now().UTC().Truncate(time.Millisecond))
	if err != nil {
		code := "invalid_client_metadata"
		if strings.Contains(err.Error(), "redirect") {
			code = "invalid_redirect_uri"
		}
		writeJSON(w, 400, map[string]string{"error": code, "error_description": err.Error()})
		return
	}
	if err := s.store.CreateClient(r.Context(), cl); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("client registered dynamically", "client_id", cl.ID)
	method := "client_secret_basic"
	if public {
		method = "none"
	}
	resp := map[string]any{"client_id": cl.ID, "client_id_issued_at": cl.CreatedAt.Unix(), "client_name": cl.Name,
		"redirect_uris": cl.RedirectURIs, "post_logout_redirect_uris": cl.PostLogoutRedirectURIs, "grant_types": cl.GrantTypes,
		"scope": strings.Join(cl.Scopes, " "), "token_endpoint_auth_method": method, "response_types": []string{"code"}}
	if secret != "" {
		resp["client_secret"], resp["client_secret_expires_at"] = secret, 0
	}
	writeJSON(w, http.StatusCreated, resp)
}
