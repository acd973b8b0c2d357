package scenarios

import "github.com/truncheck/truncheck/transport"

// checkFaults validates one hop's fault spec with the transport package's
// own parser, so a scenario can never carry a spec the harness would
// reject at run time. The empty spec means no faults.
func checkFaults(spec string) error {
	if spec == "" {
		return nil
	}
	_, err := transport.ParseFaults(spec)
	return err
}
