package live

// DefaultMaxConns is the default of Config.MaxConns: three quarters of the
// process's open-file limit, less 64, so that at least a quarter of the
// descriptors stay free for plain HTTP requests (logins and the API), the
// database's connection pool, the listener and files. With the common
// limit of 1,024 that is 704 websockets; with 20,000, 14,936. Where the
// limit cannot be read it is 10,000.
func DefaultMaxConns() int {
	n := openFileLimit()
	if n <= 0 {
		return 10_000
	}
	return max(16, n*3/4-64)
}
