package httpapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/auther/auther/internal/auth"
	"github.com/auther/auther/internal/store"
)

// The admin users API: what an app's reconciliation job reads to find drift
// between its shadow rows and Auther, and how an operator deletes a user.

type adminUserJSON struct {
	userJSON
	Role *string `json:"role"`
}

func toAdminUser(u *store.User) adminUserJSON { return adminUserJSON{toUser(u), u.Role} }

func userNotFound(w http.ResponseWriter) {
	writeError(w, errorf(http.StatusNotFound, "USER_NOT_FOUND", "No such user"))
}

// adminListUsers pages through users in id order: ?limit (1–500, default
// 100) and ?after (the last id of the previous page).
func (s *Server) adminListUsers(w http.ResponseWriter, r *http.Request, _ *auth.Current) {
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, errorf(http.StatusBadRequest, "VALIDATION_ERROR", "[query.limit] Expected a number from 1 to 500"))
			return
		}
		limit = n
	}
	users, err := s.store.ListUsers(r.Context(), store.ListUsersOptions{After: r.URL.Query().Get("after"), Limit: limit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Users      []adminUserJSON `json:"users"`
		NextCursor *string         `json:"nextCursor"`
	}{Users: make([]adminUserJSON, 0, len(users))}
	for i := range users {
		out.Users = append(out.Users, toAdminUser(&users[i]))
	}
	if len(users) == limit {
		out.NextCursor = &users[len(users)-1].ID
	}
	writeJSON(w, 200, out)
}

func (s *Server) adminGetUser(w http.ResponseWriter, r *http.Request, _ *auth.Current) {
	u, err := s.store.GetUser(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		userNotFound(w)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, 200, toAdminUser(u))
}

// adminDeleteUser deletes a user with their sessions, accounts and grants;
// user.deleted goes out to webhooks in the same transaction.
func (s *Server) adminDeleteUser(w http.ResponseWriter, r *http.Request, c *auth.Current) {
	id := r.PathValue("id")
	if id == c.User.ID {
		writeError(w, errorf(http.StatusBadRequest, "CANNOT_DELETE_SELF", "Use /api/auth/delete-user to delete your own account"))
		return
	}
	if err := s.store.DeleteUser(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		userNotFound(w)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("user deleted by an administrator", "user_id", id, "by", c.User.ID)
	writeJSON(w, 200, map[string]bool{"success": true})
}
