// Package localauth is local (username and password) authentication for Go
// web applications: users, sessions, password policy, hashing and throttling
// behind one [Service], over any [Store].
//
// To start: open a store (sqlitestore.Open, or pgstore.Open for several
// instances), build a Service over it with New and a zero Config (safe
// defaults), and serve it: package web gives net/http a JSON API, an HTML
// login form and route guards (see its example, and examples/serverside
// for a whole program); package liveauth gives live pages their login.
//
// The package is the vocabulary of the system. It imports no database, web or
// websocket code: stores live in their own packages (sqlitestore, pgstore),
// transports in theirs (web for net/http, live for websocket pages), and only
// cmd/localauth wires them together.
//
// # Stores
//
// [Store] is the core contract: users, credentials and sessions. A store
// written for those alone runs registrations, logins and sessions. The
// rest are optional abilities that [Service] finds with a type assertion,
// each on its own: [HandoffStore] (single-use records for live pages in
// cookie mode, second steps and passkey ceremonies), [TOTPStore] (an
// authenticator app and its recovery codes), [PasskeyStore],
// [FactorResetter] (the administrator's reset of both), [DeviceStore],
// [ActivityStore], [MailStore], [LoginCommitter], [ThrottleStoreProvider]
// (guess counters shared between instances), [RevocationWatcher]
// (sessions ended by other processes), [Pinger] and [SchemaVersioner].
// An ability that needs another embeds it, so the types show every link:
// TOTPStore and PasskeyStore embed HandoffStore and FactorResetter. The
// rules every ability shares (what "not found" is, what a credential
// change does) are written once, on Store. sqlitestore and pgstore have
// every one, and package storetest checks any store against the contract
// and the abilities it claims.
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
//
// # Second factors
//
// An account may add an authenticator app (TOTP) with recovery codes, and
// passkeys (WebAuthn). The rules live here: enrolment needs a recent login,
// every change of a factor is a credential change that ends the user's
// other sessions, a login of an account with TOTP returns a
// [*SecondFactorRequiredError] instead of a session (so callers unaware of
// second factors fail closed) and [Service.CompleteLogin] finishes it, codes
// are accepted once, secrets are sealed under [Config.SecretKey]. The
// protocols themselves need libraries this package does not import, so they
// sit behind [TOTPVerifier] and [PasskeyVerifier], which package mfa
// implements.
package localauth
