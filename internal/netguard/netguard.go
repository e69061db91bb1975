// Package netguard decides whether the server may connect to an address a
// user gave it — a webhook's url (SPEC §10), a client's jwksUri (SPEC §6) —
// so that neither can be used to reach the server's own host or network
// (server-side request forgery). It knows no HTTP and imports only the
// standard library.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// ErrNotPublic is wrapped by the error of a connection Control refused.
var ErrNotPublic = errors.New("not a public address")

// Dialer returns a dialer giving up after timeout that, unless
// allowPrivate, connects only to Public addresses (see Control). A
// transport using it must not use a proxy: the address checked must be
// the address reached.
func Dialer(timeout time.Duration, allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: timeout}
	if !allowPrivate {
		d.Control = Control
	}
	return d
}

// Control is a net.Dialer's Control: it refuses a connection to an address
// that is not Public, with an error wrapping ErrNotPublic. It runs for
// every address actually dialled, after name resolution, so a name that
// resolves (or re-resolves, by DNS rebinding) to an internal address is
// refused like a literal one, and so is every redirect a client follows.
func Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netguard: %q: %w", address, ErrNotPublic)
	}
	if !Public(ap.Addr()) {
		return fmt.Errorf("netguard: %s is %w", ap.Addr(), ErrNotPublic)
	}
	return nil
}

// Public reports whether a is a globally reachable unicast address, the
// only kind the server connects to on a user's behalf. Not public are:
// every block of IANA's IPv4 and IPv6 Special-Purpose Address Registries
// whose "Globally Reachable" is False or N/A, save 6to4; IPv4 multicast;
// all IPv6 space outside 2000::/3 (loopback, unspecified, IPv4-compatible,
// unique local, link- and site-local, multicast, SRv6 SIDs 5f00::/16, the
// rest of the reserved space); and the IPv4-mapped (::ffff:0:0/96), NAT64
// (64:ff9b::/96) and 6to4 (2002::/16) forms of a non-public IPv4 address.
// A zone does not change the answer.
func Public(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	if !a.IsValid() {
		return false
	}
	var best *block
	for i := range blocks {
		b := &blocks[i]
		if b.prefix.Contains(a) && (best == nil || b.prefix.Bits() > best.prefix.Bits()) {
			best = b
		}
	}
	switch {
	case best == nil:
		return a.Is4() // IPv6 is public only inside 2000::/3 or 64:ff9b::/96
	case best.embedded != nil:
		return Public(best.embedded(a))
	}
	return best.public
}

// block is an address block and whether its addresses are public; the
// most specific block holding an address decides. embedded, if set, takes
// the IPv4 address an address of the block stands for, which decides.
type block struct {
	prefix   netip.Prefix
	public   bool
	embedded func(netip.Addr) netip.Addr
}

func p(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// blocks are the non-public IPv4 blocks, the one public IPv6 block and its
// non-public parts, and the public exceptions inside those parts, after
// the registries (RFC 6890 and its updates).
//
// Stricter than the registries, on purpose: the anycast service addresses
// 192.0.0.9 (PCP, RFC 7723), 192.0.0.10 (TURN, RFC 8155), 192.88.99.0/24
// (deprecated 6to4 relays, RFC 7526) and 2001:1::1–3 (PCP, TURN, DNS-SD
// SRP) are refused, because anycast reaches the nearest such server, which
// is the operator's own; Teredo (2001::/32) is refused whatever IPv4
// addresses it embeds, as it is reached only through a relay.
var blocks = []block{
	{prefix: p("0.0.0.0/8")},                      // "this network", RFC 791
	{prefix: p("10.0.0.0/8")},                     // private use, RFC 1918
	{prefix: p("100.64.0.0/10")},                  // shared address space (CGNAT), RFC 6598
	{prefix: p("127.0.0.0/8")},                    // loopback, RFC 1122
	{prefix: p("169.254.0.0/16")},                 // link local (cloud metadata), RFC 3927
	{prefix: p("172.16.0.0/12")},                  // private use, RFC 1918
	{prefix: p("192.0.0.0/24")},                   // IETF protocol assignments: DS-Lite, dummy, NAT64 discovery, PCP and TURN anycast
	{prefix: p("192.0.2.0/24")},                   // documentation TEST-NET-1, RFC 5737
	{prefix: p("192.88.99.0/24")},                 // deprecated 6to4 relay anycast, RFC 7526
	{prefix: p("192.168.0.0/16")},                 // private use, RFC 1918
	{prefix: p("198.18.0.0/15")},                  // benchmarking, RFC 2544
	{prefix: p("198.51.100.0/24")},                // documentation TEST-NET-2, RFC 5737
	{prefix: p("203.0.113.0/24")},                 // documentation TEST-NET-3, RFC 5737
	{prefix: p("224.0.0.0/4")},                    // multicast, RFC 5771
	{prefix: p("240.0.0.0/4")},                    // reserved, RFC 1112, and limited broadcast 255.255.255.255
	{prefix: p("2000::/3"), public: true},         // global unicast, RFC 4291
	{prefix: p("64:ff9b::/96"), embedded: last4},  // NAT64 well-known prefix, RFC 6052
	{prefix: p("2001::/23")},                      // IETF protocol assignments, RFC 2928: Teredo, benchmarking, ORCHID, anycast
	{prefix: p("2001:3::/32"), public: true},      // AMT, RFC 7450
	{prefix: p("2001:4:112::/48"), public: true},  // AS112-v6, RFC 7535
	{prefix: p("2001:20::/28"), public: true},     // ORCHIDv2, RFC 7343
	{prefix: p("2001:30::/28"), public: true},     // DRIP entity tags, RFC 9374
	{prefix: p("2001:db8::/32")},                  // documentation, RFC 3849
	{prefix: p("2002::/16"), embedded: sixToFour}, // 6to4, RFC 3056
	{prefix: p("3fff::/20")},                      // documentation, RFC 9637
}

// last4 is the IPv4 address in the last 32 bits (RFC 6052's /96 form).
func last4(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom4([4]byte(b[12:16]))
}

// sixToFour is the IPv4 address in bits 16–47 (RFC 3056 §2).
func sixToFour(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom4([4]byte(b[2:6]))
}
