package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/auther/auther/internal/event"
	"github.com/auther/auther/internal/store"
)

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

type scanList struct{ dst *[]string }

func (s scanList) Scan(v any) error {
	var raw []byte
	switch x := v.(type) {
	case string:
		raw = []byte(x)
	case []byte:
		raw = x
	case nil:
		*s.dst = nil
		return nil
	}
	return json.Unmarshal(raw, s.dst)
}

func ttlArg(d *time.Duration) any {
	if d == nil {
		return nil
	}
	return int64(*d / time.Second)
}

type scanTTL struct{ dst **time.Duration }

func (s scanTTL) Scan(v any) error {
	if v == nil {
		*s.dst = nil
		return nil
	}
	n, ok := v.(int64)
	if !ok {
		return errors.New("sqlstore: ttl is not an integer")
	}
	d := time.Duration(n) * time.Second
	*s.dst = &d
	return nil
}

const clientCols = `id, name, secret_hash, public, redirect_uris, post_logout_redirect_uris, grant_types, scopes, skip_consent, disabled,
	access_token_ttl, id_token_ttl, refresh_token_ttl, created_at, updated_at`

func clientDest(c *store.Client) []any {
	return []any{&c.ID, &c.Name, &c.SecretHash, &c.Public, scanList{&c.RedirectURIs}, scanList{&c.PostLogoutRedirectURIs},
		scanList{&c.GrantTypes}, scanList{&c.Scopes}, &c.SkipConsent, &c.Disabled,
		scanTTL{&c.AccessTokenTTL}, scanTTL{&c.IDTokenTTL}, scanTTL{&c.RefreshTokenTTL}, scanTime{&c.CreatedAt}, scanTime{&c.UpdatedAt}}
}

func (s *Store) clientArgs(c *store.Client) []any {
	return []any{c.Name, c.SecretHash, c.Public, jsonList(c.RedirectURIs), jsonList(c.PostLogoutRedirectURIs), jsonList(c.GrantTypes),
		jsonList(c.Scopes), c.SkipConsent, c.Disabled, ttlArg(c.AccessTokenTTL), ttlArg(c.IDTokenTTL), ttlArg(c.RefreshTokenTTL), s.d.t(c.UpdatedAt)}
}

// CreateClient implements store.Store.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	args := append([]any{c.ID}, s.clientArgs(c)...)
	args = append(args, s.d.t(c.CreatedAt))
	return s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		_, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO oauth_client (id, name, secret_hash, public, redirect_uris, post_logout_redirect_uris,
			grant_types, scopes, skip_consent, disabled, access_token_ttl, id_token_ttl, refresh_token_ttl, updated_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), args...)
		return []store.Event{event.OfClient(event.ClientCreated, c, c.CreatedAt)}, err
	})
}

// GetClient implements store.Store.
func (s *Store) GetClient(ctx context.Context, id string) (*store.Client, error) {
	var c store.Client
	if err := s.r.QueryRowContext(ctx, s.d.q(`SELECT `+clientCols+` FROM oauth_client WHERE id = ?`), id).Scan(clientDest(&c)...); err != nil {
		return nil, s.mapErr(err)
	}
	return &c, nil
}

// ListClients implements store.Store.
func (s *Store) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+clientCols+` FROM oauth_client ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Client
	for rows.Next() {
		var c store.Client
		if err := rows.Scan(clientDest(&c)...); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// UpdateClient implements store.Store.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(*store.Client) error) (*store.Client, error) {
	var c store.Client
	err := s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		if err := tx.QueryRowContext(ctx, s.d.q(`SELECT `+clientCols+` FROM oauth_client WHERE id = ?`+s.forUpdate()), id).Scan(clientDest(&c)...); err != nil {
			return nil, err
		}
		before := c
		before.RedirectURIs, before.PostLogoutRedirectURIs = slices.Clone(c.RedirectURIs), slices.Clone(c.PostLogoutRedirectURIs)
		before.GrantTypes, before.Scopes = slices.Clone(c.GrantTypes), slices.Clone(c.Scopes)
		if err := fn(&c); err != nil {
			return nil, err
		}
		same := c
		same.UpdatedAt = before.UpdatedAt
		if reflect.DeepEqual(same, before) {
			return nil, nil // nothing changed (e.g. the clients file re-applied at start)
		}
		args := append(s.clientArgs(&c), id)
		_, err := tx.ExecContext(ctx, s.d.q(`UPDATE oauth_client SET name = ?, secret_hash = ?, public = ?, redirect_uris = ?, post_logout_redirect_uris = ?,
			grant_types = ?, scopes = ?, skip_consent = ?, disabled = ?, access_token_ttl = ?, id_token_ttl = ?, refresh_token_ttl = ?, updated_at = ?
			WHERE id = ?`), args...)
		return []store.Event{event.OfClient(event.ClientUpdated, &c, c.UpdatedAt)}, err
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// DeleteClient implements store.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.txEmit(ctx, func(tx *sql.Tx) ([]store.Event, error) {
		c := store.Client{ID: id}
		if err := tx.QueryRowContext(ctx, s.d.q(`DELETE FROM oauth_client WHERE id = ? RETURNING name`), id).Scan(&c.Name); err != nil {
			return nil, err
		}
		return []store.Event{event.OfClient(event.ClientDeleted, &c, now())}, nil
	})
}

// GetConsent implements store.Store.
func (s *Store) GetConsent(ctx context.Context, clientID, userID string) (*store.Consent, error) {
	var c store.Consent
	var scopes string
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT id, client_id, user_id, scopes, created_at, updated_at FROM oauth_consent WHERE client_id = ? AND user_id = ?`),
		clientID, userID).Scan(&c.ID, &c.ClientID, &c.UserID, &scopes, scanTime{&c.CreatedAt}, scanTime{&c.UpdatedAt})
	if err != nil {
		return nil, s.mapErr(err)
	}
	c.Scopes = strings.Fields(scopes)
	return &c, nil
}

// SaveConsent implements store.Store.
func (s *Store) SaveConsent(ctx context.Context, c *store.Consent) error {
	_, err := s.w.ExecContext(ctx, s.d.q(`INSERT INTO oauth_consent (id, client_id, user_id, scopes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (client_id, user_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at`),
		c.ID, c.ClientID, c.UserID, strings.Join(c.Scopes, " "), s.d.t(c.CreatedAt), s.d.t(c.UpdatedAt))
	return s.mapErr(err)
}

// DeleteConsent implements store.Store.
func (s *Store) DeleteConsent(ctx context.Context, clientID, userID string) error {
	res, err := s.w.ExecContext(ctx, s.d.q(`DELETE FROM oauth_consent WHERE client_id = ? AND user_id = ?`), clientID, userID)
	if err != nil {
		return s.mapErr(err)
	}
	return mustAffect(res)
}

// ListConsents implements store.Store.
func (s *Store) ListConsents(ctx context.Context, userID string) ([]store.Consent, error) {
	rows, err := s.r.QueryContext(ctx, s.d.q(`SELECT id, client_id, user_id, scopes, created_at, updated_at FROM oauth_consent WHERE user_id = ? ORDER BY updated_at DESC, id`), userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Consent
	for rows.Next() {
		var c store.Consent
		var scopes string
		if err := rows.Scan(&c.ID, &c.ClientID, &c.UserID, &scopes, scanTime{&c.CreatedAt}, scanTime{&c.UpdatedAt}); err != nil {
			return nil, err
		}
		c.Scopes = strings.Fields(scopes)
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteStaleOAuth implements store.Store.
func (s *Store) DeleteStaleOAuth(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for _, q := range []string{
		`DELETE FROM oauth_refresh_token WHERE id IN (SELECT id FROM oauth_refresh_token WHERE expires_at < ? LIMIT ?)`,
		`DELETE FROM oauth_grant WHERE id IN (SELECT id FROM oauth_grant WHERE code_used_at IS NULL AND code_expires_at < ? LIMIT ?)`,
	} {
		res, err := s.w.ExecContext(ctx, s.d.q(q), s.d.t(now), limit)
		if err != nil {
			return total, s.mapErr(err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}

const grantCols = `id, client_id, user_id, session_id, scopes, nonce, auth_time, redirect_uri, code_hash, code_challenge,
	code_expires_at, code_used_at, revoked_at, created_at, amr`

// grantScan collects a grant row's nullable columns and fills the grant.
type grantScan struct {
	g                                          *store.Grant
	scopes, sid, nonce, codeHash, challng, amr sql.NullString
	codeExp                                    *time.Time
}

func (gs *grantScan) dest() []any {
	g := gs.g
	return []any{&g.ID, &g.ClientID, &g.UserID, &gs.sid, &gs.scopes, &gs.nonce, scanTime{&g.AuthTime}, &g.RedirectURI, &gs.codeHash, &gs.challng,
		scanNullTime{&gs.codeExp}, scanNullTime{&g.CodeUsedAt}, scanNullTime{&g.RevokedAt}, scanTime{&g.CreatedAt}, &gs.amr}
}

func (gs *grantScan) finish() *store.Grant {
	g := gs.g
	g.Scopes = strings.Fields(gs.scopes.String)
	g.SessionID, g.Nonce, g.CodeHash, g.CodeChallenge, g.AMR = gs.sid.String, gs.nonce.String, gs.codeHash.String, gs.challng.String, gs.amr.String
	if gs.codeExp != nil {
		g.CodeExpiresAt = *gs.codeExp
	}
	return g
}

func scanGrant(row interface{ Scan(...any) error }) (*store.Grant, error) {
	gs := &grantScan{g: &store.Grant{}}
	if err := row.Scan(gs.dest()...); err != nil {
		return nil, err
	}
	return gs.finish(), nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateGrant implements store.Store.
func (s *Store) CreateGrant(ctx context.Context, g *store.Grant) error {
	var codeExp any
	if !g.CodeExpiresAt.IsZero() {
		codeExp = s.d.t(g.CodeExpiresAt)
	}
	_, err := s.w.ExecContext(ctx, s.d.q(`INSERT INTO oauth_grant (id, client_id, user_id, session_id, scopes, nonce, auth_time, redirect_uri,
		code_hash, code_challenge, code_expires_at, created_at, updated_at, amr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		g.ID, g.ClientID, g.UserID, nullString(g.SessionID), strings.Join(g.Scopes, " "), nullString(g.Nonce), s.d.t(g.AuthTime), g.RedirectURI,
		nullString(g.CodeHash), nullString(g.CodeChallenge), codeExp, s.d.t(g.CreatedAt), s.d.t(g.CreatedAt), nullString(g.AMR))
	return s.mapErr(err)
}

// GetGrant implements store.Store.
func (s *Store) GetGrant(ctx context.Context, id string) (*store.Grant, error) {
	g, err := scanGrant(s.r.QueryRowContext(ctx, s.d.q(`SELECT `+grantCols+` FROM oauth_grant WHERE id = ?`), id))
	return g, s.mapErr(err)
}

// GetGrantByCode implements store.Store.
func (s *Store) GetGrantByCode(ctx context.Context, codeHash string) (*store.Grant, error) {
	g, err := scanGrant(s.r.QueryRowContext(ctx, s.d.q(`SELECT `+grantCols+` FROM oauth_grant WHERE code_hash = ?`), codeHash))
	return g, s.mapErr(err)
}

// RedeemCode implements store.Store.
func (s *Store) RedeemCode(ctx context.Context, codeHash string, now time.Time) (*store.Grant, error) {
	g, err := scanGrant(s.w.QueryRowContext(ctx, s.d.q(`UPDATE oauth_grant SET code_used_at = ?, updated_at = ?
		WHERE code_hash = ? AND code_used_at IS NULL RETURNING `+grantCols), s.d.t(now), s.d.t(now), codeHash))
	if err == nil {
		return g, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, s.mapErr(err)
	}
	used, err := scanGrant(s.r.QueryRowContext(ctx, s.d.q(`SELECT `+grantCols+` FROM oauth_grant WHERE code_hash = ?`), codeHash))
	if err != nil {
		return nil, s.mapErr(err)
	}
	return used, store.ErrReused
}

func (s *Store) insertRefresh(ctx context.Context, e execer, rt *store.RefreshToken) error {
	_, err := e.ExecContext(ctx, s.d.q(`INSERT INTO oauth_refresh_token (id, grant_id, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?)`),
		rt.ID, rt.GrantID, rt.TokenHash, s.d.t(rt.ExpiresAt), s.d.t(rt.CreatedAt))
	return err
}

// AddRefreshToken implements store.Store.
func (s *Store) AddRefreshToken(ctx context.Context, rt *store.RefreshToken) error {
	return s.mapErr(s.insertRefresh(ctx, s.w, rt))
}

const refreshCols = `r.id, r.grant_id, r.token_hash, r.expires_at, r.used_at, r.created_at`

func refreshDest(rt *store.RefreshToken) []any {
	return []any{&rt.ID, &rt.GrantID, &rt.TokenHash, scanTime{&rt.ExpiresAt}, scanNullTime{&rt.UsedAt}, scanTime{&rt.CreatedAt}}
}

// GetRefreshToken implements store.Store: token and grant in one query.
func (s *Store) GetRefreshToken(ctx context.Context, tokenHash string) (*store.RefreshToken, *store.Grant, error) {
	var rt store.RefreshToken
	gs := &grantScan{g: &store.Grant{}}
	dest := append(refreshDest(&rt), gs.dest()...)
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT `+refreshCols+`, `+prefixed("g.", grantCols)+`
		FROM oauth_refresh_token r JOIN oauth_grant g ON g.id = r.grant_id WHERE r.token_hash = ?`), tokenHash).Scan(dest...)
	if err != nil {
		return nil, nil, s.mapErr(err)
	}
	return &rt, gs.finish(), nil
}

// prefixed qualifies each column of a comma-separated list.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// GetRefreshTokenUser implements store.Store.
func (s *Store) GetRefreshTokenUser(ctx context.Context, tokenHash string) (*store.RefreshToken, *store.Grant, *store.User, error) {
	var rt store.RefreshToken
	var u store.User
	gs := &grantScan{g: &store.Grant{}}
	dest := append(append(refreshDest(&rt), gs.dest()...), userDest(&u)...)
	err := s.r.QueryRowContext(ctx, s.d.q(`SELECT `+refreshCols+`, `+prefixed("g.", grantCols)+`, `+userCols+`
		FROM oauth_refresh_token r JOIN oauth_grant g ON g.id = r.grant_id JOIN "user" u ON u.id = g.user_id
		WHERE r.token_hash = ?`), tokenHash).Scan(dest...)
	if err != nil {
		return nil, nil, nil, s.mapErr(err)
	}
	return &rt, gs.finish(), &u, nil
}

// rotateCTE rotates in one statement on PostgreSQL: one round trip instead
// of BEGIN, UPDATE, INSERT, COMMIT. The parameters in the SELECT list need
// their types spelled out there. FOR SHARE on the grant makes a revocation
// in flight and a rotation wait for each other: otherwise the EXISTS would
// judge the grant by the statement's starting snapshot, and a refresh
// racing "sign out everywhere" could still mint tokens.
const rotateCTE = `WITH used AS (
		UPDATE oauth_refresh_token SET used_at = $1
		WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 AND grant_id = $3
			AND EXISTS (SELECT 1 FROM oauth_grant g WHERE g.id = $3 AND g.revoked_at IS NULL FOR SHARE)
		RETURNING grant_id)
	INSERT INTO oauth_refresh_token (id, grant_id, token_hash, expires_at, created_at)
	SELECT $4::text, grant_id, $5::text, $6::timestamptz, $7::timestamptz FROM used`

// RotateRefreshToken implements store.Store.
func (s *Store) RotateRefreshToken(ctx context.Context, tokenHash string, now time.Time, next *store.RefreshToken) error {
	var rotated bool
	if s.d == postgresDialect {
		res, err := s.w.ExecContext(ctx, rotateCTE, s.d.t(now), tokenHash, next.GrantID,
			next.ID, next.TokenHash, s.d.t(next.ExpiresAt), s.d.t(next.CreatedAt))
		if err != nil {
			return s.mapErr(err)
		}
		n, _ := res.RowsAffected()
		rotated = n == 1
	} else {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			var grant string
			err := tx.QueryRowContext(ctx, s.d.q(`UPDATE oauth_refresh_token SET used_at = ?
				WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? AND grant_id = ?
					AND EXISTS (SELECT 1 FROM oauth_grant g WHERE g.id = ? AND g.revoked_at IS NULL)
				RETURNING grant_id`), s.d.t(now), tokenHash, s.d.t(now), next.GrantID, next.GrantID).Scan(&grant)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			rotated = true
			return s.insertRefresh(ctx, tx, next)
		})
		if err != nil {
			return err
		}
	}
	if rotated {
		return nil
	}
	// Refused: say whether it was a reuse (the family must be revoked).
	var used sql.NullString
	err := s.w.QueryRowContext(ctx, s.d.q(`SELECT used_at FROM oauth_refresh_token WHERE token_hash = ?`), tokenHash).Scan(&used)
	switch {
	case err == nil && used.Valid:
		return store.ErrReused
	case err == nil, errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	}
	return s.mapErr(err)
}

// RevokeGrant implements store.Store.
func (s *Store) RevokeGrant(ctx context.Context, id string, now time.Time) error {
	_, err := s.w.ExecContext(ctx, s.d.q(`UPDATE oauth_grant SET revoked_at = ?, updated_at = ? WHERE id = ? AND revoked_at IS NULL`), s.d.t(now), s.d.t(now), id)
	return s.mapErr(err)
}

// RevokeUserGrants implements store.Store.
func (s *Store) RevokeUserGrants(ctx context.Context, userID, exceptSessionID string, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, s.d.q(`UPDATE oauth_grant SET revoked_at = ?, updated_at = ?
		WHERE user_id = ? AND revoked_at IS NULL AND (session_id IS NULL OR session_id <> ?)`), s.d.t(now), s.d.t(now), userID, exceptSessionID)
	if err != nil {
		return 0, s.mapErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// RevokeSessionGrants implements store.Store.
func (s *Store) RevokeSessionGrants(ctx context.Context, sessionID, clientID string, now time.Time) (int, error) {
	q := `UPDATE oauth_grant SET revoked_at = ?, updated_at = ? WHERE session_id = ? AND revoked_at IS NULL`
	args := []any{s.d.t(now), s.d.t(now), sessionID}
	if clientID != "" {
		q += ` AND client_id = ?`
		args = append(args, clientID)
	}
	res, err := s.w.ExecContext(ctx, s.d.q(q), args...)
	if err != nil {
		return 0, s.mapErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
