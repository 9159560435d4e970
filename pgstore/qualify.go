package pgstore

import (
	"context"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// How statements name the store's schema
//
// The pool's connections may go through a transaction pooler (PgBouncer,
// Supavisor, RDS Proxy, pgcat), which hands each transaction whatever
// server connection is free: nothing set on a connection (a search_path, a
// prepared statement, a session advisory lock, a LISTEN) outlives the
// transaction it was set in. So the pool's connections search no schema of
// ours, and every statement names the schema of each table it uses.
//
// Nobody writes the schema by hand. Statements are written with plain table
// names, as in the migrations, and sent through s.pool (type conns) or the
// pgx.Tx that s.inTx and pgx.BeginFunc(ctx, s.pool, …) hand out; both
// rewrite each reference to a table of the store's (a name after FROM,
// JOIN, INTO, UPDATE, TABLE or TRUNCATE that a migration creates with
// CREATE TABLE) to "schema".table, once per distinct statement. So a new
// method written in the style of the others, on a new table of a new
// migration, is safe behind a pooler with no thought about it. What is not
// rewritten fails in the tests rather than in production: the conformance
// suite runs each store in a schema of its own, which an unqualified name
// does not find, and it runs through PgBouncer in transaction mode.
//
// Never send a statement on s.pool.raw, on a connection acquired from it,
// or on a pgx.Conn made from the session configuration, without the
// qualifier (s.q.sql). Advisory locks in pool statements are
// pg_advisory_xact_lock, released at commit; LISTEN and the migration
// lock run on the session connection (Options.ListenDSN).

// createTableRE finds the tables a migration creates.
var createTableRE = regexp.MustCompile(`(?i)\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)`)

// storeTables are the tables of the store's schema: every table its
// migrations create.
var storeTables = sync.OnceValue(func() map[string]bool {
	tables := map[string]bool{versionTable: true}
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	for _, f := range files {
		b, _ := fs.ReadFile(migrations, f)
		for _, m := range createTableRE.FindAllSubmatch(b, -1) {
			tables[strings.ToLower(string(m[1]))] = true
		}
	}
	return tables
})

// qualifier rewrites statements to name the store's schema.
type qualifier struct {
	schema string // quoted, with the dot: "localauth".
	name   string // as given: localauth
	tables map[string]bool
	cache  sync.Map // statement → rewritten statement
	cached atomic.Int32
}

// maxQualified bounds the cache: the store's statements are a few dozen
// constant strings.
const maxQualified = 4096

func newQualifier(schema string) *qualifier {
	return &qualifier{schema: pgx.Identifier{schema}.Sanitize() + ".", name: schema, tables: storeTables()}
}

// sql returns stmt with each reference to a table of the store's prefixed
// with the schema.
func (q *qualifier) sql(stmt string) string {
	if v, ok := q.cache.Load(stmt); ok {
		return v.(string)
	}
	out := q.rewrite(stmt)
	if q.cached.Load() < maxQualified {
		if _, loaded := q.cache.LoadOrStore(stmt, out); !loaded {
			q.cached.Add(1)
		}
	}
	return out
}

// tableKeywords are the words after which a name is a table.
var tableKeywords = map[string]bool{"FROM": true, "JOIN": true, "INTO": true, "UPDATE": true, "TABLE": true, "TRUNCATE": true}

// fromListEnds are the words that end a FROM list (after which a comma no
// longer introduces a table).
var fromListEnds = map[string]bool{"WHERE": true, "GROUP": true, "ORDER": true, "LIMIT": true, "OFFSET": true,
	"ON": true, "USING": true, "RETURNING": true, "SET": true, "VALUES": true, "SELECT": true, "UNION": true,
	"FOR": true, "HAVING": true, "WINDOW": true, "EXCEPT": true, "INTERSECT": true}

// rewrite scans stmt as SQL tokens: string literals, quoted identifiers
// and comments are copied as they are; a bare name of a store table in a
// table position is qualified.
func (q *qualifier) rewrite(stmt string) string {
	var b strings.Builder
	b.Grow(len(stmt) + 64)
	prev := ""        // the previous word, upper-cased; "," or "(" or ")" for those
	fromList := false // inside a FROM list, where a comma introduces a table
	isWord := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
	}
	for i := 0; i < len(stmt); {
		c := stmt[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(stmt) {
				if stmt[j] == c {
					if j+1 < len(stmt) && stmt[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			j = min(j+1, len(stmt))
			b.WriteString(stmt[i:j])
			prev, i = "literal", j
		case c == '-' && i+1 < len(stmt) && stmt[i+1] == '-':
			j := strings.IndexByte(stmt[i:], '\n')
			if j < 0 {
				j = len(stmt) - i
			}
			b.WriteString(stmt[i : i+j])
			i += j
		case c == '/' && i+1 < len(stmt) && stmt[i+1] == '*':
			j := strings.Index(stmt[i+2:], "*/")
			end := len(stmt)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(stmt[i:end])
			i = end
		case c == '$' || c == ':' || c >= '0' && c <= '9':
			// A parameter ($1), a cast (::bytea) or a number: no table.
			j := i + 1
			for j < len(stmt) && (isWord(stmt[j]) || stmt[j] == ':') {
				j++
			}
			b.WriteString(stmt[i:j])
			prev, i = "literal", j
		case isWord(c):
			j := i
			for j < len(stmt) && isWord(stmt[j]) {
				j++
			}
			word := stmt[i:j]
			upper := strings.ToUpper(word)
			qualified := i > 0 && stmt[i-1] == '.'
			next := byte(0)
			if j < len(stmt) {
				next = stmt[j]
			}
			inTablePos := tableKeywords[prev] || (prev == "," && fromList)
			call := next == '(' && (prev == "FROM" || prev == "JOIN" || prev == ",")
			if inTablePos && !qualified && next != '.' && !call && q.tables[strings.ToLower(word)] {
				b.WriteString(q.schema)
			}
			b.WriteString(word)
			switch {
			case upper == "FROM":
				fromList = true
			case fromListEnds[upper]:
				fromList = false
			}
			prev, i = upper, j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(c)
			i++
		default:
			switch c {
			case ',':
				prev = ","
			case ')', ';':
				prev = string(c)
				fromList = false
			default:
				prev = string(c)
			}
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// conns is the pool as the store's methods use it: every statement is
// qualified on its way (see above). It is what pgx.BeginFunc takes, and
// the pgx.Tx it hands out qualifies too.
type conns struct {
	raw *pgxpool.Pool
	q   *qualifier
}

func (c conns) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return c.raw.Exec(ctx, c.q.sql(sql), args...)
}

func (c conns) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return c.raw.Query(ctx, c.q.sql(sql), args...)
}

func (c conns) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return c.raw.QueryRow(ctx, c.q.sql(sql), args...)
}

func (c conns) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return c.raw.SendBatch(ctx, c.q.batch(b))
}

func (c conns) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := c.raw.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return qualifiedTx{tx, c.q}, nil
}

func (c conns) Ping(ctx context.Context) error { return c.raw.Ping(ctx) }

// qualifiedTx is a pgx.Tx whose statements are qualified.
type qualifiedTx struct {
	pgx.Tx
	q *qualifier
}

func (t qualifiedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.Tx.Exec(ctx, t.q.sql(sql), args...)
}

func (t qualifiedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.Tx.Query(ctx, t.q.sql(sql), args...)
}

func (t qualifiedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return t.Tx.QueryRow(ctx, t.q.sql(sql), args...)
}

func (t qualifiedTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return t.Tx.SendBatch(ctx, t.q.batch(b))
}

func (t qualifiedTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return t.Tx.Prepare(ctx, name, t.q.sql(sql))
}

func (t qualifiedTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if len(table) == 1 && t.q.tables[table[0]] {
		table = pgx.Identifier{t.q.name, table[0]}
	}
	return t.Tx.CopyFrom(ctx, table, columns, src)
}

func (t qualifiedTx) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := t.Tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return qualifiedTx{tx, t.q}, nil
}

// batch qualifies the statements of b in place.
func (q *qualifier) batch(b *pgx.Batch) *pgx.Batch {
	for _, qq := range b.QueuedQueries {
		qq.SQL = q.sql(qq.SQL)
	}
	return b
}
