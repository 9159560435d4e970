package throttle

import "net/netip"

// ClientBucket is the key part that names a client address: IPv6 addresses
// grouped by their /64, the block one subscriber usually holds whole, and
// IPv4 addresses as they are. A value that is not an address is returned
// unchanged.
func ClientBucket(ip string) string {
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
