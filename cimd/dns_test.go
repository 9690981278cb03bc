package cimd_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// dnsServer is a DNS server on a local UDP port answering A and AAAA
// queries from a fixed table, NXDOMAIN for any other name, so that tests
// resolve names through the real resolver and dialer.
type dnsServer struct {
	conn    net.PacketConn
	names   map[string]netip.Addr
	queries atomic.Int64
}

func newDNSServer(t *testing.T, names map[string]string) *dnsServer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dnsServer{conn: conn, names: map[string]netip.Addr{}}
	for name, addr := range names {
		s.names[strings.ToLower(name)+"."] = netip.MustParseAddr(addr)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply, ok := s.answer(buf[:n]); ok {
				conn.WriteTo(reply, from)
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return s
}

// resolver is a Go resolver that sends every query to s.
func (s *dnsServer) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", s.conn.LocalAddr().String())
		},
	}
}

// answer builds the reply to one query (RFC 1035 section 4.1).
func (s *dnsServer) answer(q []byte) ([]byte, bool) {
	if len(q) < 12 {
		return nil, false
	}
	s.queries.Add(1)
	// The question: labels up to the root, then QTYPE and QCLASS.
	i := 12
	var name strings.Builder
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil, false
		}
		name.Write(q[i+1 : i+1+l])
		name.WriteByte('.')
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil, false
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1:])
	addr, known := s.names[strings.ToLower(name.String())]

	reply := make([]byte, 12, 64)
	copy(reply, q[:2])                             // ID
	flags := uint16(0x8180) | uint16(q[2]&0x01)<<8 // QR, RD copied, RA
	if !known {
		flags |= 3 // NXDOMAIN
	}
	binary.BigEndian.PutUint16(reply[2:], flags)
	binary.BigEndian.PutUint16(reply[4:], 1) // QDCOUNT
	reply = append(reply, question...)
	var rdata []byte
	switch {
	case known && qtype == 1 && addr.Is4():
		a := addr.As4()
		rdata = a[:]
	case known && qtype == 28 && addr.Is6():
		a := addr.As16()
		rdata = a[:]
	}
	if rdata != nil {
		binary.BigEndian.PutUint16(reply[6:], 1) // ANCOUNT
		reply = append(reply, 0xc0, 12)          // the name, by pointer
		reply = binary.BigEndian.AppendUint16(reply, qtype)
		reply = binary.BigEndian.AppendUint16(reply, 1) // IN
		reply = binary.BigEndian.AppendUint32(reply, 0) // TTL
		reply = binary.BigEndian.AppendUint16(reply, uint16(len(rdata)))
		reply = append(reply, rdata...)
	}
	return reply, true
}

func TestDNSServer(t *testing.T) {
	t.Parallel()
	s := newDNSServer(t, map[string]string{"four.test": "192.0.2.1", "six.test": "2001:db8::1"})
	r := s.resolver()
	for name, want := range map[string]string{"four.test": "192.0.2.1", "six.test": "2001:db8::1"} {
		addrs, err := r.LookupNetIP(context.Background(), "ip", name)
		if err != nil || len(addrs) != 1 || addrs[0].Unmap().String() != want {
			t.Errorf("LookupNetIP(%s) = %v, %v; want %s", name, addrs, err, want)
		}
	}
	var dnsErr *net.DNSError
	if _, err := r.LookupNetIP(context.Background(), "ip", "unknown.test"); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("LookupNetIP(unknown.test) = %v, want not found", err)
	}
}
