package survey

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// InstallReport is what Install did for one server.
type InstallReport struct {
	Server    string
	Installed []string // packages apt-get installed now; empty when all were present
	Stopped   []string // daemons the packages started, and how they were stopped
	Err       error    // why the server cannot be used; nil when it is installed
}

// Install installs the Debian packages of the servers that are missing
// (apt-get, as root), quietly when every one is present. A daemon that a
// package started on install is stopped again (`service NAME stop`, or
// SIGTERM to the pid in /run), so nothing listens on the default ports.
// Every server gets a report; the error joins the failed ones.
func Install(ctx context.Context, servers ...Server) ([]InstallReport, error) {
	reports := make([]InstallReport, len(servers))
	var missing []string
	for i, s := range servers {
		reports[i].Server = s.Name
		for _, p := range s.Packages {
			if _, ok := dpkgInstalled(ctx, p); !ok && !slices.Contains(missing, p) {
				missing = append(missing, p)
			}
		}
	}
	if len(missing) > 0 {
		if os.Geteuid() != 0 {
			err := fmt.Errorf("packages %s are missing and installing needs root", strings.Join(missing, " "))
			for i := range reports {
				reports[i].Err = err
			}
			return reports, err
		}
		// One apt-get for all; when it fails, one per server, so each
		// failure is named by its server.
		if aptInstall(ctx, missing) != nil {
			for _, s := range servers {
				var need []string
				for _, p := range s.Packages {
					if _, ok := dpkgInstalled(ctx, p); !ok {
						need = append(need, p)
					}
				}
				if len(need) > 0 {
					_ = aptInstall(ctx, need) // judged below, per package
				}
			}
		}
	}
	var errs []error
	for i, s := range servers {
		r := &reports[i]
		for _, p := range s.Packages {
			if _, ok := dpkgInstalled(ctx, p); !ok {
				r.Err = errors.Join(r.Err, fmt.Errorf("%s: package %s could not be installed (apt-cache policy %s says whether Debian ships it)", s.Name, p, p))
			} else if slices.Contains(missing, p) {
				r.Installed = append(r.Installed, p)
			}
		}
		if r.Err == nil && !s.Installed() {
			r.Err = fmt.Errorf("%s: packages %s are installed but %s is absent", s.Name, strings.Join(s.Packages, " "), s.Binary)
		}
		if len(r.Installed) > 0 {
			r.Stopped = stopDaemons(ctx, s.Services)
		}
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return reports, errors.Join(errs...)
}

// aptInstall runs apt-get install; when apt does not know a package it
// refreshes its lists once and tries again.
func aptInstall(ctx context.Context, pkgs []string) error {
	run := func(args ...string) error {
		ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), err, lastLines(string(out), 5))
		}
		return nil
	}
	args := append([]string{"install", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300"}, pkgs...)
	err := run(args...)
	if err != nil {
		if uerr := run("update", "-qq", "-o", "DPkg::Lock::Timeout=300"); uerr != nil {
			return errors.Join(err, uerr)
		}
		err = run(args...)
	}
	return err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// dpkgInstalled reports a package's version when dpkg has it installed.
func dpkgInstalled(ctx context.Context, pkg string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f", "${Status}\t${Version}", pkg).Output()
	if err != nil {
		return "", false
	}
	status, version, _ := strings.Cut(string(out), "\t")
	return version, status == "install ok installed"
}

// stopDaemons stops init scripts a package started: `service NAME stop`
// where the service command exists, else SIGTERM to the pid in
// /run/NAME.pid or /run/NAME/NAME.pid. It reports what it did; a daemon
// that is not running is left out.
func stopDaemons(ctx context.Context, names []string) []string {
	var did []string
	for _, name := range names {
		pid := runPid(name)
		if pid == 0 {
			continue
		}
		if _, err := exec.LookPath("service"); err == nil {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := exec.CommandContext(ctx, "service", name, "stop").Run()
			cancel()
			if err == nil && !alive(pid) {
				did = append(did, fmt.Sprintf("%s (pid %d): service %s stop", name, pid, name))
				continue
			}
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 50 && alive(pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		did = append(did, fmt.Sprintf("%s (pid %d): SIGTERM", name, pid))
	}
	return did
}

func runPid(name string) int {
	for _, f := range []string{"/run/" + name + ".pid", "/run/" + name + "/" + name + ".pid"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && alive(pid) {
			return pid
		}
	}
	return 0
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }
