package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/auther/auther/internal/jsontime"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/auther/auther/internal/store"
)

// apiError is the JSON error body: {code, message}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Code }

func errorf(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":"INTERNAL_SERVER_ERROR","message":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.Status, e) }

const maxBody = 1 << 20

// decode reads a JSON object body into the struct dst. An empty body counts
// as {} so endpoints without parameters accept clients that send nothing.
//
// Keys match the struct's json tags exactly. encoding/json matches keys
// case-insensitively, which would let {"EMAIL": …} stand in for "email" and
// let a proxy that inspects "email" see a different value from the one used;
// so the object is split into raw members first and each field is decoded
// from its exact key. Unknown keys are ignored, as Better Auth strips them.
func decode(r *http.Request, dst any) *apiError {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "PAYLOAD_TOO_LARGE", "Request body is larger than 1 MiB")
		}
		return errorf(http.StatusBadRequest, "INVALID_BODY", "Could not read the request body")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return errorf(http.StatusBadRequest, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
	}
	if body[0] != '{' {
		return errorf(http.StatusBadRequest, "BODY_MUST_BE_AN_OBJECT", "Body must be a JSON object")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return errorf(http.StatusBadRequest, "VALIDATION_ERROR", "Invalid JSON body")
	}
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		raw, ok := members[name]
		if name == "" || name == "-" || !ok {
			continue
		}
		if err := json.Unmarshal(raw, v.Field(i).Addr().Interface()); err != nil {
			return errorf(http.StatusBadRequest, "VALIDATION_ERROR", "[body."+name+"] Expected "+jsonType(t.Field(i).Type)+", received "+jsonKind(raw))
		}
	}
	return nil
}

// jsonType names what a Go field accepts, in JSON's words.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Struct:
		return "string or null"
	}
	return t.Kind().String()
}

// jsonKind names the JSON type of a raw value.
func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// field names a required string field of a request.
type field struct {
	name  string
	value *string
}

// missing answers 400 for the first absent field, in order, and reports
// whether it did.
func missing(w http.ResponseWriter, fields ...field) bool {
	for _, f := range fields {
		if f.value == nil {
			writeError(w, required(f.name))
			return true
		}
	}
	return false
}

// required reports a missing field the way Better Auth's validator does.
func required(field string) *apiError {
	return errorf(http.StatusBadRequest, "VALIDATION_ERROR", "[body."+field+"] Invalid input: expected string, received undefined")
}

// isoTime marshals like JavaScript's Date.toISOString, as Better Auth does.
type isoTime = jsontime.Time

type userJSON struct {
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	Email         string  `json:"email"`
	EmailVerified bool    `json:"emailVerified"`
	Image         *string `json:"image"`
	CreatedAt     isoTime `json:"createdAt"`
	UpdatedAt     isoTime `json:"updatedAt"`
}

func toUser(u *store.User) userJSON {
	return userJSON{u.ID, u.Name, u.Email, u.EmailVerified, u.Image, isoTime(u.CreatedAt), isoTime(u.UpdatedAt)}
}

type sessionJSON struct {
	ID        string  `json:"id"`
	ExpiresAt isoTime `json:"expiresAt"`
	Token     string  `json:"token"`
	CreatedAt isoTime `json:"createdAt"`
	UpdatedAt isoTime `json:"updatedAt"`
	IPAddress string  `json:"ipAddress"`
	UserAgent string  `json:"userAgent"`
	UserID    string  `json:"userId"`
}

// toSession renders a session. token is what the client may see: the raw
// token for the caller's own current session, else the stored hash (which
// revoke-session accepts but which cannot be used to authenticate).
func toSession(s *store.Session, token string) sessionJSON {
	return sessionJSON{s.ID, isoTime(s.ExpiresAt), token, isoTime(s.CreatedAt), isoTime(s.UpdatedAt), s.IPAddress, s.UserAgent, s.UserID}
}

// sessionResponse is get-session's body.
type sessionResponse struct {
	Session sessionJSON `json:"session"`
	User    userJSON    `json:"user"`
}
