package sqlite

import (
	"context"
	"fmt"
)

// SetSchemaVersionForTest forges PRAGMA user_version to test the guard
// against databases written by a newer binary.
func (s *Store) SetSchemaVersionForTest(ctx context.Context, v int) error {
	_, err := s.w.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v))
	return err
}
