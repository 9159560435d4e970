//go:build !linux

package live

import "net"

// poller parks nothing outside Linux: every tab reads on a goroutine of its
// own.
type poller struct{}

func newPoller() *poller { return &poller{} }

func (p *poller) park(net.Conn, func()) (uint64, bool) { return 0, false }

func (p *poller) unpark(uint64) bool { return false }
