// Package throttle is the machinery behind localauth's guess limits and its
// fair queue for password hashing: attempt counters that make a key wait
// longer after each attempt past a free allowance, the contract of a store
// that keeps such counters, claims that let a counter's commit run beside
// the work it guards, a token bucket of successful logins per client, and
// the admission queue that shares the hashing cores between clients.
//
// It holds no policy. Which keys are counted (an account, a trusted device,
// a client address), how many attempts each gets for free, and what a wait
// means to the caller (a rate-limit error, a busy server) are decided by the
// package localauth, which is also where SECURITY.md's numbers live. This
// package imports nothing from it, so a store can implement [Store] without
// reaching into the policy, and the machinery can be read and tested alone.
package throttle
