// Package migrations holds the schema migrations of sqlitestore that SQL
// alone cannot express. The SQL ones are files beside this one, embedded by
// sqlitestore; both kinds run in version order through goose.
package migrations

import "github.com/localauth/localauth/internal/skeletonmigration"

// Skeleton (version 4) adds users.skeleton and fills it for existing users;
// see package skeletonmigration.
var Skeleton = skeletonmigration.New(4, skeletonmigration.Dialect{
	LengthFunc:  "length",
	SetSkeleton: `UPDATE users SET skeleton = ? WHERE id = ?`,
})
