package live

import "net/netip"

// clientGroup is the client a connection is counted under: an IPv4 address
// as it is, an IPv6 address by its /64, the smallest network a host is
// handed and can pick addresses from at will. Counting each IPv6 address
// apart would let one such network open MaxConnsPerClient connections per
// address and fill MaxConns for everyone. It is the grouping localauth's
// throttles use.
func clientGroup(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
