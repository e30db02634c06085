package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// pool is a *sql.DB that, on SQLite, prepares each query once and reuses the
// statement: SQLite spends more time parsing a query than running an indexed
// lookup, and database/sql would otherwise prepare and discard a statement on
// every call. pgx already caches prepared statements per connection, so on
// PostgreSQL the pool passes queries straight through.
type pool struct {
	db    *sql.DB
	cache bool
	stmts sync.Map // query text -> *sql.Stmt
	count *atomic.Uint64
}

func (p *pool) stmt(ctx context.Context, query string) *sql.Stmt {
	if !p.cache {
		return nil
	}
	if st, ok := p.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil // the unprepared call below reports the error
	}
	if prev, loaded := p.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt)
	}
	return st
}

func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	p.count.Add(1)
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.db.QueryRowContext(ctx, query, args...)
}

func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	p.count.Add(1)
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.db.QueryContext(ctx, query, args...)
}

func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	p.count.Add(1)
	if st := p.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.db.ExecContext(ctx, query, args...)
}

func (p *pool) close() error {
	p.stmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	return p.db.Close()
}
