package sqlitestore

import "context"

// MigrateDownTo takes the schema back to version v, so that tests can build
// a database as an older binary left it.
func MigrateDownTo(ctx context.Context, s *Store, v int64) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, v)
	return err
}

// Exec runs a statement on the write connection, bypassing the Store.
func Exec(ctx context.Context, s *Store, q string, args ...any) error {
	_, err := s.write.ExecContext(ctx, q, args...)
	return err
}
