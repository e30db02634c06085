package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// AdminClient calls Auther's admin API (/api/admin/…).
type AdminClient struct {
	// BaseURL is Auther's base URL, e.g. https://id.example.com.
	BaseURL string
	// Token is sent as "Authorization: Bearer <Token>": an admin user's
	// session token or an admin API-key JWT.
	Token string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
}

// AdminUser is a user as the admin API returns it.
type AdminUser struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	Image         *string   `json:"image"`
	EmailVerified bool      `json:"emailVerified"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	Role          string    `json:"role"`
}

// ErrUserNotFound: Auther answered 404 USER_NOT_FOUND, so the user does not
// exist (any more).
var ErrUserNotFound = errors.New("auther: user not found")

// APIError is a non-2xx answer of the admin API.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("auther admin API: HTTP %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("auther admin API: HTTP %d", e.Status)
}

var defaultAdminClient = &http.Client{Timeout: 30 * time.Second}

func (c *AdminClient) get(ctx context.Context, path string, q url.Values, out any) error {
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultAdminClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8*maxDocument))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		e := &APIError{Status: resp.StatusCode}
		var b struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &b) == nil {
			e.Code, e.Message = b.Code, b.Message
		}
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("auther admin API: GET %s: %w", path, err)
	}
	return nil
}

// ListUsers returns up to limit users with ids above after, in id order,
// and the cursor of the next page ("" on the last page).
func (c *AdminClient) ListUsers(ctx context.Context, limit int, after string) ([]AdminUser, string, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if after != "" {
		q.Set("after", after)
	}
	var page struct {
		Users      []AdminUser `json:"users"`
		NextCursor *string     `json:"nextCursor"`
	}
	if err := c.get(ctx, "/api/admin/users", q, &page); err != nil {
		return nil, "", err
	}
	next := ""
	if page.NextCursor != nil {
		next = *page.NextCursor
	}
	return page.Users, next, nil
}

// GetUser returns one user, or ErrUserNotFound when Auther answers 404 with
// code USER_NOT_FOUND. Any other 404 (a wrong BaseURL, a proxy) is an
// *APIError, so that a misconfiguration never reads as "every user is gone".
func (c *AdminClient) GetUser(ctx context.Context, id string) (*AdminUser, error) {
	if id == "" {
		return nil, errors.New("auther: empty user id")
	}
	var u AdminUser
	err := c.get(ctx, "/api/admin/users/"+url.PathEscape(id), nil, &u)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound && apiErr.Code == "USER_NOT_FOUND" {
		return nil, fmt.Errorf("%w: %s", ErrUserNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	if u.ID != id {
		return nil, fmt.Errorf("auther admin API: asked for user %s, got %q", id, u.ID)
	}
	return &u, nil
}

// ReconcileReport counts what a reconciliation did.
type ReconcileReport struct {
	Checked  int // shadow rows compared with Auther
	Updated  int // rows rewritten because they had drifted
	Deleted  int // rows deleted (and tombstoned) because Auther no longer has the user
	NotFound int // rows whose user Auther answered 404 USER_NOT_FOUND for (Deleted, unless the mass-deletion guard stopped)
}

// MaxPageSize is the largest page Auther's admin API lists.
const MaxPageSize = 500

// DefaultMaxDeleteFraction is the share of checked rows that may turn out
// deleted in Auther before Reconcile stops without deleting any; see
// Reconciler.MaxDeleteFraction.
const DefaultMaxDeleteFraction = 0.5

// MassDeletionMinChecked is the number of checked rows below which the
// mass-deletion guard does not apply (with few rows, a high share is normal).
const MassDeletionMinChecked = 20

// ErrMassDeletion: Reconcile found that more than MaxDeleteFraction of the
// rows it checked belong to users Auther does not have, and deleted none of
// them. It usually means the AdminClient points at another Auther (staging
// instead of production, say) or at a restored, older database.
var ErrMassDeletion = errors.New("auther: reconciliation would delete too many users")

// Reconciler repairs drift between the shadow table and Auther: missed or
// failed webhooks, rows made from token claims that no user.created
// completed, users deleted while the app was not listening.
type Reconciler struct {
	Shadow *ShadowStore
	Admin  *AdminClient
	// PageSize is the number of users per page on both sides; default 100,
	// at most MaxPageSize (500, Auther's limit).
	PageSize int
	// MaxDeleteFraction guards against mass deletion: when at least
	// MassDeletionMinChecked rows were checked and more than this share of
	// them belong to users Auther answers USER_NOT_FOUND for, Run deletes
	// none of them and returns ErrMassDeletion. Default 0.5; set 1 to turn
	// the guard off (after checking that the deletions are real).
	MaxDeleteFraction float64
}

// Reconcile runs one reconciliation (see Reconciler.Run).
func Reconcile(ctx context.Context, shadow *ShadowStore, admin *AdminClient) (ReconcileReport, error) {
	return (&Reconciler{Shadow: shadow, Admin: admin}).Run(ctx)
}

// Run walks the shadow table in id order alongside Auther's user list, so
// that most users cost no request of their own. A shadow row the list does
// not show is looked up with GetUser before anything is deleted: only a 404
// USER_NOT_FOUND deletes it (and tombstones the id). The walk compares ids
// bytewise; Auther's ids (UUIDv7, lower-case hex) sort the same way under
// every collation, and ids that sort differently in the app's database
// (imported mixed-case ids under a linguistic collation) only cost extra
// GetUser calls, never a wrong result.
//
// A row whose email, name, email_verified or image differs from Auther's
// is rewritten. When the row's version is newer than the listed copy's,
// the user is fetched again and the fresh copy is written if the row has
// not changed since it was read (compare-and-set on synced_at): a webhook
// applied meanwhile is kept, and a row stamped with a version ahead of
// Auther's is still repaired. Users Auther has and the app does not are
// left alone (they are provisioned on first use).
//
// Deletions are made at the end of the walk, and only if they pass the
// mass-deletion guard (see MaxDeleteFraction). Run stops at the first
// error, returning what it did so far; the deletions it had confirmed are
// still made, under the same guard.
func (r *Reconciler) Run(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	size := r.PageSize
	if size <= 0 {
		size = 100
	}
	if size > MaxPageSize {
		size = MaxPageSize
	}
	var gone []string
	finish := func(err error) (ReconcileReport, error) {
		rep.NotFound = len(gone)
		if len(gone) == 0 {
			return rep, err
		}
		frac := r.MaxDeleteFraction
		if frac <= 0 {
			frac = DefaultMaxDeleteFraction
		}
		if rep.Checked >= MassDeletionMinChecked && float64(len(gone)) > frac*float64(rep.Checked) {
			return rep, errors.Join(err, fmt.Errorf("%w: %d of %d checked users are not found in Auther at %s; nothing was deleted (check AdminClient.BaseURL, or raise Reconciler.MaxDeleteFraction)",
				ErrMassDeletion, len(gone), rep.Checked, r.Admin.BaseURL))
		}
		for _, id := range gone {
			if derr := r.Shadow.Delete(ctx, id); derr != nil {
				return rep, errors.Join(err, derr)
			}
			rep.Deleted++
		}
		return rep, err
	}
	// Auther's side, consumed in order.
	var remote []AdminUser
	cursor, remoteDone := "", false
	nextRemote := func() (*AdminUser, error) {
		for len(remote) == 0 && !remoteDone {
			page, next, err := r.Admin.ListUsers(ctx, size, cursor)
			if err != nil {
				return nil, err
			}
			remote = page
			if next == "" || len(page) == 0 {
				remoteDone = true
			}
			cursor = next
		}
		if len(remote) == 0 {
			return nil, nil
		}
		return &remote[0], nil
	}
	after := ""
	for {
		local, err := r.Shadow.List(ctx, after, size)
		if err != nil {
			return finish(err)
		}
		if len(local) == 0 {
			return finish(nil)
		}
		for i := range local {
			s := &local[i]
			after = s.ID
			rep.Checked++
			var match *AdminUser
			for {
				a, err := nextRemote()
				if err != nil {
					return finish(err)
				}
				if a == nil || a.ID > s.ID {
					break
				}
				remote = remote[1:]
				if a.ID == s.ID {
					match = a
					break
				}
			}
			if match == nil {
				a, err := r.Admin.GetUser(ctx, s.ID)
				if errors.Is(err, ErrUserNotFound) {
					gone = append(gone, s.ID)
					continue
				}
				if err != nil {
					return finish(err)
				}
				match = a
			}
			if !drifted(s, match) {
				continue
			}
			out, err := r.Shadow.write(ctx, nil, fromAdmin(match))
			if err != nil {
				return finish(err)
			}
			if out == OutcomeUnchanged {
				// The version guard refused although the data differs: a
				// webhook newer than the list arrived, or the row's version
				// is ahead of Auther's. Ask Auther again, now that s was
				// read, and write its answer unless the row changed since.
				fresh, err := r.Admin.GetUser(ctx, s.ID)
				if errors.Is(err, ErrUserNotFound) {
					gone = append(gone, s.ID)
					continue
				}
				if err != nil {
					return finish(err)
				}
				if out, err = r.Shadow.resync(ctx, s, fresh); err != nil {
					return finish(err)
				}
			}
			if out == OutcomeUpdated || out == OutcomeCreated {
				rep.Updated++
			}
		}
	}
}

// ResyncUser brings one user's shadow row in line with Auther now (the
// "resync" button): deleted and tombstoned when Auther says the user does
// not exist, otherwise created or rewritten from Auther's copy. The row is
// read before Auther is asked, and Auther's copy replaces it, whatever its
// version, unless the row changed in between (a webhook applied meanwhile
// is newer than the copy and is kept).
func (r *Reconciler) ResyncUser(ctx context.Context, id string) (Outcome, error) {
	local, err := r.Shadow.Get(ctx, id)
	if errors.Is(err, ErrNoShadowUser) {
		local = nil
	} else if err != nil {
		return "", err
	}
	a, err := r.Admin.GetUser(ctx, id)
	if errors.Is(err, ErrUserNotFound) {
		return OutcomeDeleted, r.Shadow.Delete(ctx, id)
	}
	if err != nil {
		return "", err
	}
	return r.Shadow.resync(ctx, local, a)
}

// resync writes Auther's copy a, fetched after the row was read as read
// (nil: there was none). The version-guarded upsert comes first; when it
// refuses although the data differs, the copy is written with a
// compare-and-set on the synced_at that was read.
func (s *ShadowStore) resync(ctx context.Context, read *ShadowUser, a *AdminUser) (Outcome, error) {
	out, err := s.write(ctx, nil, fromAdmin(a))
	if err != nil || out != OutcomeUnchanged || read == nil || !drifted(read, a) {
		return out, err
	}
	return s.rewrite(ctx, read, a)
}

func drifted(s *ShadowUser, a *AdminUser) bool {
	if s.Email != a.Email || s.Name != a.Name || s.EmailVerified != a.EmailVerified {
		return true
	}
	if (s.Image == nil) != (a.Image == nil) {
		return true
	}
	return s.Image != nil && *s.Image != *a.Image
}

func fromAdmin(a *AdminUser) userWrite {
	name, verified := a.Name, a.EmailVerified
	version := a.UpdatedAt
	if version.IsZero() {
		version = a.CreatedAt
	}
	return userWrite{id: a.ID, email: a.Email, name: &name, verified: &verified, image: a.Image, imageSet: true,
		createdAt: a.CreatedAt, updatedAt: a.UpdatedAt, version: version, setCreated: !a.CreatedAt.IsZero()}
}
