package localauth

// NewToken exposes token generation to the external tests.
func NewToken(s *Service) (Token, error) { return newToken(s.rand) }
