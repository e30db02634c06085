package sqlstore

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/auther/auther/internal/migrate"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds the few places where SQLite and PostgreSQL differ. Queries are
// written once, in SQLite's "?" placeholder style, and rebound for PostgreSQL.
type dialect struct {
	name string
	// timeArg turns a time into what the driver should bind. PostgreSQL
	// takes time.Time into timestamptz; SQLite stores fixed-width ISO-8601
	// UTC text with milliseconds (JavaScript's toISOString, as Better Auth
	// writes it), which sorts and compares correctly as text.
	timeArg func(time.Time) any
	// uniqueViolation reports whether err broke a unique constraint and,
	// if so, which (constraint or column name as the database reports it).
	uniqueViolation func(error) (string, bool)
	positional      bool // rebind "?" to "$1", "$2"…

	cache sync.Map // query text -> rebound text
}

const isoMillis = "2006-01-02T15:04:05.000Z"

var sqliteDialect = &dialect{
	name:    "sqlite",
	timeArg: func(t time.Time) any { return t.UTC().Format(isoMillis) },
	uniqueViolation: func(err error) (string, bool) {
		var se *sqlite.Error
		if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
			// Message: "UNIQUE constraint failed: user.email (2067)".
			return se.Error(), true
		}
		return "", false
	},
}

var postgresDialect = &dialect{
	name:       "postgres",
	timeArg:    func(t time.Time) any { return t.UTC() },
	positional: true,
	uniqueViolation: func(err error) (string, bool) {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return pe.ConstraintName, true
		}
		return "", false
	},
}

// q returns query in this dialect's placeholder style.
func (d *dialect) q(query string) string {
	if !d.positional {
		return query
	}
	if v, ok := d.cache.Load(query); ok {
		return v.(string)
	}
	out := migrate.Rebind(query)
	d.cache.Store(query, out)
	return out
}

// t binds a time.
func (d *dialect) t(t time.Time) any { return d.timeArg(t) }

// nt binds a nullable time.
func (d *dialect) nt(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.timeArg(*t)
}

// scanTime reads a timestamp from either backend: time.Time from pgx or from
// SQLite's typed columns, or the ISO text Auther (and Better Auth) write.
type scanTime struct{ dst *time.Time }

func (s scanTime) Scan(v any) error {
	switch x := v.(type) {
	case time.Time:
		*s.dst = x.UTC()
	case string:
		return s.parse(x)
	case []byte:
		return s.parse(string(x))
	case int64: // unix milliseconds, as some Better Auth SQLite setups store dates
		*s.dst = time.UnixMilli(x).UTC()
	default:
		return fmt.Errorf("sqlstore: cannot scan timestamp from %T", v)
	}
	return nil
}

func (s scanTime) parse(x string) error {
	if t, ok := parseISOMillis(x); ok {
		*s.dst = t
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, x); err == nil {
			*s.dst = t.UTC()
			return nil
		}
	}
	return errors.New("sqlstore: unparseable timestamp " + strconv.Quote(x))
}

// scanNullTime reads a nullable timestamp.
type scanNullTime struct{ dst **time.Time }

func (s scanNullTime) Scan(v any) error {
	if v == nil {
		*s.dst = nil
		return nil
	}
	var t time.Time
	if err := (scanTime{&t}).Scan(v); err != nil {
		return err
	}
	*s.dst = &t
	return nil
}

// parseISOMillis parses exactly "2006-01-02T15:04:05.000Z", the format Auther
// writes, without time.Parse's layout machinery (it runs on every session
// check). Anything else falls back to time.Parse.
func parseISOMillis(x string) (time.Time, bool) {
	if len(x) != 24 || x[4] != '-' || x[7] != '-' || x[10] != 'T' || x[13] != ':' || x[16] != ':' || x[19] != '.' || x[23] != 'Z' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for j := i; j < i+n; j++ {
			c := x[j]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	var f [7]int
	for k, p := range [7][2]int{{0, 4}, {5, 2}, {8, 2}, {11, 2}, {14, 2}, {17, 2}, {20, 3}} {
		v, ok := num(p[0], p[1])
		if !ok {
			return time.Time{}, false
		}
		f[k] = v
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59 {
		return time.Time{}, false
	}
	return time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], f[6]*int(time.Millisecond), time.UTC), true
}
