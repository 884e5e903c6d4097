package safehttp_test

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// serveDNS answers one DNS query over a stream connection (the Go
// resolver speaks TCP framing over the pipe its Dial returns) with ip for
// an A or AAAA question of its family, and no answer otherwise.
func serveDNS(c net.Conn, ip netip.Addr) {
	defer c.Close()
	for {
		var n uint16
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			return
		}
		q := make([]byte, n)
		if _, err := readFull(c, q); err != nil {
			return
		}
		// The question: after the 12-byte header, the name, then type and class.
		i := 12
		for i < len(q) && q[i] != 0 {
			i += int(q[i]) + 1
		}
		qtype := binary.BigEndian.Uint16(q[i+1:])
		question := q[12 : i+5]
		var rdata []byte
		switch {
		case qtype == 1 && ip.Is4():
			b := ip.As4()
			rdata = b[:]
		case qtype == 28 && ip.Is6() && !ip.Is4In6():
			b := ip.As16()
			rdata = b[:]
		}
		resp := make([]byte, 12, 512)
		copy(resp, q[:2])                            // id
		binary.BigEndian.PutUint16(resp[2:], 0x8180) // response, recursion available, no error
		binary.BigEndian.PutUint16(resp[4:], 1)      // one question
		if rdata != nil {
			binary.BigEndian.PutUint16(resp[6:], 1) // one answer
		}
		resp = append(resp, question...)
		if rdata != nil {
			resp = append(resp, 0xc0, 12) // the name, by pointer to the question's
			resp = binary.BigEndian.AppendUint16(resp, qtype)
			resp = binary.BigEndian.AppendUint16(resp, 1) // IN
			resp = binary.BigEndian.AppendUint32(resp, 60)
			resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
			resp = append(resp, rdata...)
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
