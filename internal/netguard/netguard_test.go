package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestPublic walks every block of the registries and its neighbours: the
// addresses at a block's edges and inside are refused, the first addresses
// past its edges pass (unless they fall in another block).
func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		block   string
		refused []string
		public  []string
	}{
		{"0.0.0.0/8 this network", []string{"0.0.0.0", "0.1.2.3", "0.255.255.255"}, []string{"1.0.0.1"}},
		{"10.0.0.0/8 private", []string{"10.0.0.0", "10.255.255.255"}, []string{"9.255.255.255", "11.0.0.0"}},
		{"100.64.0.0/10 shared", []string{"100.64.0.0", "100.127.255.255"}, []string{"100.63.255.255", "100.128.0.0"}},
		{"127.0.0.0/8 loopback", []string{"127.0.0.1", "127.255.255.255"}, []string{"126.255.255.255", "128.0.0.0"}},
		{"169.254.0.0/16 link local", []string{"169.254.0.0", "169.254.169.254", "169.254.255.255"}, []string{"169.253.255.255", "169.255.0.0"}},
		{"172.16.0.0/12 private", []string{"172.16.0.0", "172.31.255.255"}, []string{"172.15.255.255", "172.32.0.0"}},
		{"192.0.0.0/24 IETF protocol assignments", []string{"192.0.0.0", "192.0.0.7", "192.0.0.8", "192.0.0.9", "192.0.0.10", "192.0.0.170", "192.0.0.171", "192.0.0.255"},
			[]string{"191.255.255.255", "192.0.1.0"}},
		{"192.0.2.0/24 TEST-NET-1", []string{"192.0.2.0", "192.0.2.255"}, []string{"192.0.1.255", "192.0.3.0"}},
		{"192.31.196.0/24 AS112 and 192.52.193.0/24 AMT are reachable", nil, []string{"192.31.196.1", "192.52.193.1"}},
		{"192.88.99.0/24 6to4 relay anycast", []string{"192.88.99.0", "192.88.99.1", "192.88.99.2", "192.88.99.255"}, []string{"192.88.98.255", "192.88.100.0"}},
		{"192.168.0.0/16 private", []string{"192.168.0.0", "192.168.255.255"}, []string{"192.167.255.255", "192.169.0.0"}},
		{"198.18.0.0/15 benchmarking", []string{"198.18.0.0", "198.19.255.255"}, []string{"198.17.255.255", "198.20.0.0"}},
		{"198.51.100.0/24 TEST-NET-2", []string{"198.51.100.0", "198.51.100.255"}, []string{"198.51.99.255", "198.51.101.0"}},
		{"203.0.113.0/24 TEST-NET-3", []string{"203.0.113.0", "203.0.113.255"}, []string{"203.0.112.255", "203.0.114.0"}},
		{"224.0.0.0/4 multicast", []string{"224.0.0.0", "224.0.0.251", "239.255.255.255"}, []string{"223.255.255.255"}},
		{"240.0.0.0/4 reserved, broadcast", []string{"240.0.0.0", "250.1.2.3", "255.255.255.255"}, nil},
		{"public IPv4", nil, []string{"8.8.8.8", "93.184.216.34", "1.1.1.1"}},

		{"::/128 unspecified, ::1/128 loopback", []string{"::", "::1"}, nil},
		{"::ffff:0:0/96 IPv4-mapped", []string{"::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::ffff:0.0.0.0", "::ffff:198.18.0.1"},
			[]string{"::ffff:8.8.8.8"}},
		{"IPv4-compatible and SIIT forms, outside 2000::/3", []string{"::127.0.0.1", "::8.8.8.8", "::ffff:0:7f00:1", "::ffff:0:808:808"}, nil},
		{"64:ff9b::/96 NAT64 with a non-public IPv4", []string{"64:ff9b::127.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::169.254.169.254", "64:ff9b::192.0.2.1", "64:ff9b::"},
			[]string{"64:ff9b::8.8.8.8", "64:ff9b::93.184.216.34"}},
		{"next to 64:ff9b::/96", []string{"64:ff9b:0:0:0:1:808:808", "64:ff9a:ffff:ffff:ffff:ffff:808:808"}, nil},
		{"64:ff9b:1::/48 local-use NAT64", []string{"64:ff9b:1::808:808", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"}, nil},
		{"100::/64 discard-only, 100:0:0:1::/64 dummy", []string{"100::", "100::1", "100:0:0:1::1"}, nil},
		{"2001::/23 IETF protocol assignments", []string{"2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:2::1", "2001:10::1", "2001:4:113::1", "2001:40::1"},
			[]string{"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:200::"}},
		{"2001::/32 Teredo, whatever it embeds", []string{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:808:808::f7f7:f7f7", "2001:0:a00:1::1"}, nil},
		{"2001:1::1-3 PCP, TURN, DNS-SD SRP anycast", []string{"2001:1::1", "2001:1::2", "2001:1::3"}, nil},
		{"reachable blocks inside 2001::/23", nil, []string{"2001:3::1", "2001:3:ffff::1", "2001:4:112::1", "2001:20::1", "2001:2f:ffff::1", "2001:30::1", "2001:3f:ffff::1"}},
		{"2001:db8::/32 documentation", []string{"2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"}},
		{"2002::/16 6to4 with a non-public IPv4", []string{"2002:7f00:1::1", "2002:a00:1::1", "2002:c000:204::1", "2002:a9fe:a9fe::1", "2002::"},
			[]string{"2002:808:808::1", "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2003::"}},
		{"3fff::/20 documentation", []string{"3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff"}, []string{"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff:1000::"}},
		{"5f00::/16 SRv6 SIDs, outside 2000::/3", []string{"5f00::", "5f00:ffff::1"}, nil},
		{"outside 2000::/3", []string{"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "4000::", "fc00::1", "fdff::1", "fe80::1", "fe80::1%eth0", "fec0::1", "ff02::1", "ff0e::1"},
			[]string{"2000::", "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		{"public IPv6", nil, []string{"2606:4700::1111", "2a00:1450:4001:800::200e", "2606:4700::1111%eth0"}},
	} {
		for _, s := range tc.refused {
			if Public(netip.MustParseAddr(s)) {
				t.Errorf("%s: Public(%s) = true, want false", tc.block, s)
			}
		}
		for _, s := range tc.public {
			if !Public(netip.MustParseAddr(s)) {
				t.Errorf("%s: Public(%s) = false, want true", tc.block, s)
			}
		}
	}
	if Public(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
}

func TestControl(t *testing.T) {
	for address, want := range map[string]bool{
		"8.8.8.8:443": true, "[2606:4700::1111]:443": true,
		"127.0.0.1:80": false, "[::1]:80": false, "[::ffff:10.0.0.1]:80": false, "[fe80::1%eth0]:80": false,
		"169.254.169.254:80": false, "not an address": false, "8.8.8.8": false,
	} {
		err := Control("tcp", address, nil)
		if (err == nil) != want || (err != nil && !errors.Is(err, ErrNotPublic)) {
			t.Errorf("Control(%q) = %v, want allowed %v", address, err, want)
		}
	}
}

// TestDialerChecksTheResolvedAddress: a literal loopback address and a name
// resolving to one are both refused at dial time, and allowPrivate reaches
// them.
func TestDialerChecksTheResolvedAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx := context.Background()
	for _, address := range []string{ln.Addr().String(), net.JoinHostPort("localhost", port)} {
		if c, err := Dialer(time.Second, false).DialContext(ctx, "tcp", address); !errors.Is(err, ErrNotPublic) {
			if c != nil {
				c.Close()
			}
			t.Errorf("dialling %s: %v, want ErrNotPublic", address, err)
		}
	}
	c, err := Dialer(time.Second, true).DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("allowPrivate: %v", err)
	}
	c.Close()
}
