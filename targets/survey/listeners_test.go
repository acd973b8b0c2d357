package survey

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// openListeners lists the listening TCP sockets and bound UDP sockets held
// by the processes of group pgid whose local address is not loopback, read
// from /proc: each process's socket inodes against /proc/net/{tcp,udp}{,6}.
func openListeners(pgid int) []string {
	inodes := map[string]int{}
	for _, pid := range groupMembers(pgid) {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
			if err == nil && strings.HasPrefix(link, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = pid
			}
		}
	}
	var out []string
	for _, f := range []string{"tcp", "tcp6", "udp", "udp6"} {
		b, err := os.ReadFile("/proc/net/" + f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local rem st tx:rx tr:when retr uid timeout inode
			fl := strings.Fields(line)
			if len(fl) < 10 {
				continue
			}
			pid, ours := inodes[fl[9]]
			listening := fl[3] == "0A" || (strings.HasPrefix(f, "udp") && fl[3] == "07")
			if !ours || !listening {
				continue
			}
			hexIP, hexPort, _ := strings.Cut(fl[1], ":")
			ip := procIP(hexIP)
			if ip != nil && ip.IsLoopback() {
				continue
			}
			port, _ := strconv.ParseUint(hexPort, 16, 16)
			out = append(out, fmt.Sprintf("%s %s:%d (pid %d)", f, ip, port, pid))
		}
	}
	return out
}

// procIP decodes /proc/net's address: 32-bit words in host (little-endian) order.
func procIP(h string) net.IP {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil
	}
	ip := make(net.IP, len(b))
	for i := 0; i < len(b); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return ip
}
