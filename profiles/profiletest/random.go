// Package profiletest makes random profiles for property tests of the
// profiles and generator packages. The profiles it makes look like real ones
// (per-process /proc paths, temporary names, projected-volume directories,
// IPv4-mapped addresses, probes and denied checks) so that properties are
// checked where bugs hide, and they are drawn from small vocabularies so that
// two random profiles overlap.
package profiletest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

// Capabilities is the vocabulary of capability names random profiles use.
var Capabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW",
	"CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_KILL",
}

// Directories is the vocabulary of directories random paths are made under.
var Directories = []string{
	"/etc", "/etc/ssl/certs", "/usr/lib", "/usr/lib/python3/site-packages",
	"/var/cache/app", "/var/log/app", "/tmp", "/dev/shm", "/app", "/app/static",
	"/var/run/secrets/kubernetes.io/serviceaccount", "/proc", "/", "/data/tmp",
}

var names = []string{"passwd", "hosts", "resolv.conf", "ld.so.cache", "libc.so.6", "config.yaml", "index.html", "app.sock", "status", "token", "ca.crt", "data.db", "lock", ".hidden"}

var accessModes = []v1alpha1.FileAccessMode{v1alpha1.AccessRead, v1alpha1.AccessWrite, v1alpha1.AccessExec, v1alpha1.AccessCreate, v1alpha1.AccessTruncate}

// Addresses is the vocabulary of destination addresses.
var Addresses = []string{"10.96.0.10", "10.0.3.7", "10.0.3.8", "127.0.0.1", "::ffff:10.0.3.7", "fd00::1", "192.0.2.15", "::1"}

var ports = []int32{0, 53, 80, 443, 5432, 8080}

// Path returns a random path of the kind recorders see.
func Path(r *rand.Rand) string {
	switch r.IntN(10) {
	case 0:
		return fmt.Sprintf("/proc/%d/%s", 1+r.IntN(5000), pick(r, []string{"status", "stat", "cgroup", "fd/3", "task/17/stat"}))
	case 1:
		return pick(r, []string{"/proc/self/status", "/proc/thread-self/attr/current", "/proc/meminfo", "/proc/sys/net/core/somaxconn"})
	case 2:
		return "/tmp/" + pick(r, []string{"tmpa8Xk2L", "tmp.Q3zT8aPq1x", "go-build4172653", "tmpk3j_8x9a", "app.sock", "MyAppCache"})
	case 3:
		return "/var/run/secrets/kubernetes.io/serviceaccount/..2025_01_0" + fmt.Sprint(1+r.IntN(9)) + "_00_00_00.123456789/" + pick(r, []string{"token", "ca.crt"})
	case 4:
		return fmt.Sprintf("pipe:[%d]", 1000+r.IntN(100))
	}
	dir := pick(r, Directories)
	if dir == "/" {
		return "/" + pick(r, names)
	}
	path := dir + "/" + pick(r, names)
	if r.IntN(12) == 0 {
		path = dir + "/**" // a collapsed directory
	}
	return path
}

// Profile returns a random profile of a fixed workload container.
func Profile(r *rand.Rand) *v1alpha1.Profile {
	p := &v1alpha1.Profile{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Profile"},
		ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: "shop"},
		Spec: v1alpha1.ProfileSpec{
			Workload:  &v1alpha1.WorkloadReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			Container: "app",
		},
	}
	for range r.IntN(6) {
		verdict := v1alpha1.VerdictGranted
		if r.IntN(4) == 0 {
			verdict = v1alpha1.VerdictDenied
		}
		p.Spec.Capabilities = append(p.Spec.Capabilities, v1alpha1.CapabilityEntry{
			Name: pick(r, Capabilities), Verdict: verdict, Probe: r.IntN(4) == 0,
			UserNamespace: r.IntN(8) == 0, Count: 1 + r.Int64N(100),
		})
	}
	for range r.IntN(14) {
		var access []v1alpha1.FileAccessMode
		for _, m := range accessModes {
			if r.IntN(3) == 0 {
				access = append(access, m)
			}
		}
		if len(access) == 0 {
			access = []v1alpha1.FileAccessMode{v1alpha1.AccessRead}
		}
		p.Spec.Files = append(p.Spec.Files, v1alpha1.FileEntry{
			Path: Path(r), Access: access, Filesystem: pick(r, []string{"overlay", "tmpfs", "proc", "ext4", ""}),
			RootFilesystem: r.IntN(3) == 0, Count: 1 + r.Int64N(1000),
		})
	}
	for range r.IntN(5) {
		p.Spec.Connections = append(p.Spec.Connections, v1alpha1.ConnectionEntry{
			Protocol: pick(r, []v1alpha1.Protocol{v1alpha1.ProtocolTCP, v1alpha1.ProtocolUDP}),
			Address:  pick(r, Addresses), Port: pick(r, ports), Count: 1 + r.Int64N(50),
		})
	}
	for range r.IntN(4) {
		e := v1alpha1.ExecutableEntry{
			Path:  pick(r, []string{"/usr/bin/app", "/bin/sh", "/usr/bin/sudo", "/usr/bin/ping", "/tmp/go-build991827/exe/main", "/app/bin/server"}),
			Count: 1 + r.Int64N(10),
		}
		e.Setuid = e.Path == "/usr/bin/sudo" || r.IntN(10) == 0
		e.PrivilegeGain = e.Setuid && r.IntN(2) == 0
		for range 1 + r.IntN(2) {
			e.UIDs = append(e.UIDs, pick(r, []int64{0, 1000, 65534}))
		}
		e.GIDs = append(e.GIDs, pick(r, []int64{0, 1000}))
		p.Spec.Executables = append(p.Spec.Executables, e)
	}
	start := time.Date(2025, 1, 1+r.IntN(3), r.IntN(24), 0, 0, 0, time.UTC)
	for range 1 + r.IntN(2) {
		p.Spec.Sources = append(p.Spec.Sources, v1alpha1.Source{
			Node: pick(r, []string{"node-a", "node-b"}), Pod: pick(r, []string{"web-7d9f-abcde", "web-7d9f-fghij"}),
			Recording: "web-recording", Kernel: "6.1.0-27-amd64",
			Backends:  backends(r),
			Routes:    r.Int32N(v1alpha1.CurrentRoutes + 1), // 0: an agent before generations
			FirstSeen: metav1.NewTime(start), LastSeen: metav1.NewTime(start.Add(time.Duration(1+r.IntN(60)) * time.Minute)),
			Events: r.Int64N(100000), LostRecords: r.Int64N(3),
			Images: images(r),
		})
	}
	return p
}

// images are what a source's container ran: usually one image with its
// digest, sometimes its name alone (not started yet), two (restarted with
// another), or none (a profile from before images were recorded).
func images(r *rand.Rand) []v1alpha1.Image {
	pool := []v1alpha1.Image{
		{Name: "docker.io/library/web:v1", Digest: "sha256:" + strings.Repeat("1", 64)},
		{Name: "docker.io/library/web:v1"},
		{Name: "docker.io/library/web:v2", Digest: "sha256:" + strings.Repeat("2", 64)},
		{Digest: "sha256:" + strings.Repeat("3", 64)},
	}
	var out []v1alpha1.Image
	for range r.IntN(3) {
		out = append(out, pick(r, pool))
	}
	return out
}

func pick[T any](r *rand.Rand, from []T) T { return from[r.IntN(len(from))] }

// backends says which kinds a source recorded: usually all four, sometimes
// fewer, as with a recording limited to some kinds.
func backends(r *rand.Rand) map[string]string {
	all := map[string]string{
		"capabilities": pick(r, []string{"fexit/cap_capable", "tp_btf/cap_capable"}),
		"files":        pick(r, []string{"lsm/file_open", "fentry/security_file_open"}),
		"connections":  "cgroup/connect4+connect6+sendmsg4+sendmsg6",
		"executables":  "tp_btf/sched_process_exec",
	}
	if r.IntN(6) == 0 {
		delete(all, pick(r, []string{"capabilities", "files", "connections", "executables"}))
	}
	return all
}
