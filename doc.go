// Package localauth is local (username and password) authentication for Go
// web applications: users, sessions, password policy, hashing and throttling
// behind one [Service], over any [Store].
//
// The package is the vocabulary of the system. It imports no database, web or
// websocket code: stores live in their own packages (sqlitestore, pgstore),
// transports in theirs (web for net/http, live for websocket pages), and only
// cmd/localauth wires them together.
//
// # Security decisions
//
// Usernames are canonicalized with the PRECIS UsernameCaseMapped profile (RFC
// 8265), so "Alice", "ALICE" and the full-width "ＡＬＩＣＥ" name one account;
// usernames that mix scripts (a Cyrillic "а" among Latin letters) are refused.
//
// Passwords are normalized with the PRECIS OpaqueString profile both when set
// and when checked. They are hashed with bcrypt after a keyed SHA-256
// pre-hash, so that every character counts whatever its length: bcrypt alone
// ignores everything after 72 bytes and stops at a NUL byte. See
// [BcryptHasher].
//
// Session tokens are 256 bits from crypto/rand, new at every login. Stores
// keep only their SHA-256, so a copy of the database holds no usable token.
//
// Login does exactly one password comparison whether or not the user exists,
// and reports a disabled account only once its password has been verified, so
// neither timing nor messages tell an attacker which usernames exist.
package localauth
