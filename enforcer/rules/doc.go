// Package rules compiles an EnforcementPolicy into the rules the kernel
// programs enforce. It is pure: it depends on the API types and the profiles
// and policies packages, not on Kubernetes clients or the BPF loader, and the same policy
// always compiles into the same [Compiled] value (node order included), so
// that programming the maps is reproducible.
//
// [Compile] first runs [policies.ValidateSpec] and refuses an invalid
// policy with every problem named by its field (an [*InvalidPolicyError]).
// A compiled policy allows nothing the policy text does not allow, except
// where [Compiled.Widened] says so; [policies.Matcher] is the reference
// semantics, and the models in this package ([PathTree.Allowed],
// [Compiled.FileAllowed], [Compiled.ExecAllowed], [Compiled.ConnectAllowed],
// [Compiled.CapabilityAllowed]) are what the kernel programs do.
//
// # Kinds that are governed
//
// Each kind of operation is governed only when the policy has its section:
// [Compiled.Capabilities], [Compiled.Files] and [Compiled.Executables] are nil
// and [Compiled.ConnectGoverned] is false for an absent section. A present but
// empty section governs its kind and allows nothing of it (a tree with only a
// root that grants nothing, a zero capability mask, no connect rule).
//
// # Capabilities
//
// [Capabilities] holds two masks, bit n for capability number n
// (CAP_CHOWN = bit 0): Allowed for checks against the container's own user
// namespace (capabilities.allow) and AllowedInUserNamespace for checks against
// a user namespace the container created (capabilities.allowInUserNamespace).
// A capability number that does not fit in 64 bits is refused.
//
// # Files and executables: path trees
//
// Files and executables each compile into a [PathTree]: a tree of path
// components that the kernel walks with one hash lookup per component of the
// opened path, never scanning rules. Nodes[0] is the root ("/"). Every other
// node has a Parent (always a lower index) and is either a literal component
// (Name, 1 to [MaxComponentLen] bytes, no '/' and no NUL) or a wildcard
// (Wildcard set, Name empty) that stands for any single component for which
// its parent has no literal child. A node has at most one wildcard child.
//
// Nodes are in breadth-first order and sorted by (Parent, Wildcard, Name):
// the children of a node are contiguous, literal children in byte order of
// their names, the wildcard child (if any) last.
//
// Each node carries two access masks ([Access]: read=1, write=2, exec=4,
// create=8, truncate=16, and for changes made without an open delete=32,
// rename-from=64, rename-to=128, link=256, link-target=512, chmod=1024,
// setid=2048, chown=4096, symlink=8192, mknod=16384: the kernel's
// FP_ACCESS_* values):
//
//   - Access is granted to the path that ends exactly at the node;
//   - Descendants is granted to every path strictly below the node. It comes
//     from a trailing `/**`, which also covers the directory itself, so the
//     compiler sets the same bits in Access as well: Descendants is always a
//     subset of Access (an invariant the tests check).
//
// The kernel decides a path (absolute, as d_path reports it, without empty,
// `.` or `..` components) like this (match_path in bpf/c/enforce.h), and
// [PathTree.Allowed] does exactly the same:
//
//	node := root; granted := 0
//	for each component c of the path, from the root down:
//	    granted |= node.Descendants   // the path goes on strictly below node
//	    if len(c) <= MaxComponentLen and node has a literal child named c:
//	        node = that child
//	    else if node has a wildcard child:
//	        node = that child
//	    else:
//	        return granted            // only `/**` grants of ancestors apply
//	return granted | node.Access
//
// Because Descendants ⊆ Access at every node, ORing a node's Descendants when
// the walk enters it instead (granted starting at root.Descendants) gives the
// same result: for the node the path ends at, those bits are in node.Access
// anyway.
//
// An open with the requested access bits is allowed iff
// (requested &^ granted) == 0; an exec is allowed iff the executables tree
// grants [AccessExec] to the program's path (every executable rule grants
// exactly AccessExec). Files without a path in the filesystem (pipe:[1234],
// anything not starting with '/') are not subject to the files tree.
//
// The kernel never backtracks: a path that goes through a literal child never
// tries its wildcard sibling. The compiler therefore determinises the rules: a
// node stands for the set of rule positions the path so far matches, the
// subtree of a wildcard child is merged (access ORed) into every literal
// sibling, recursively, and a `/**` rule's grant sits on the node its prefix
// leads to (and on every node that prefix also reaches through wildcards), so
// the walk above gives exactly the reference semantics of
// [policies.MatchPath]:
//
//   - a literal component matches itself;
//   - `*` matches exactly one component, whatever its name;
//   - a trailing `/**` matches the directory itself and everything below it;
//     `/**` alone matches every path, `/` alone matches only the root.
//
// Where the kernel cannot match what a rule says, the compiler widens the rule
// and says so in [Compiled.Widened], with the field, the rule and what it is
// enforced as:
//
//   - a literal component longer than MaxComponentLen bytes (the longest name
//     the kernel's map keys hold) is enforced as `*`;
//   - a partial-component glob (`tmp.*`, `..*`) would be enforced as `*`.
//     policies.ValidateSpec refuses these today (the policy language has none;
//     the generator widens profile globs before writing a policy), so this
//     only applies if the validation is relaxed.
//
// A `**` anywhere but at the end of a path is refused. A tree has at most
// [MaxPathNodes] nodes; a policy whose rules need more (wildcards next to
// literals multiply nodes) is refused with an error naming the limit.
//
// # Connect
//
// Connect rules compile into [ConnectRule] entries for an LPM trie keyed by
// protocol, port and address:
//
//   - every prefix is IPv6: an IPv4 CIDR a.b.c.d/n becomes the IPv4-mapped
//     ::ffff:a.b.c.d/(96+n), and the kernel looks IPv4 destinations (and
//     IPv4-mapped IPv6 destinations, which the policy matches as IPv4) up as
//     ::ffff:a.b.c.d. An IPv6 CIDR shorter than /96 that contains
//     ::ffff:0:0/96 (::/0, ::/64, ...) is split into the prefixes that cover
//     it except ::ffff:0:0/96, because an IPv6 range never matches an IPv4
//     destination in the policy;
//   - Protocol is the IP protocol number: TCP=6, UDP=17, SCTP=132 (SCTP is
//     compiled, but policies.ValidateSpec accepts only TCP and UDP today);
//   - Port is one destination port, and port 0 is port 0 (a resolver's UDP
//     connect to port 0 needs a rule with port 0, and generated policies hold
//     such rules). AnyPort marks an entry for every port (Port is then 0); it
//     comes from a rule whose range is the full 0–65535;
//   - a rule with EndPort covers Port..EndPort inclusive and expands into one
//     entry per port; a range of more than [MaxPortRange] ports (other than
//     the full range) is refused;
//   - entries are de-duplicated, entries another entry covers (a longer prefix
//     on the same protocol and port, or any entry under an AnyPort entry of a
//     shorter or equal prefix) are dropped, and the rest are sorted by
//     (Protocol, AnyPort first, Port, address, prefix length). At most
//     [MaxConnectRules] entries remain, or the policy is refused.
//
// A connect is allowed iff some entry has the destination's protocol, a
// prefix containing the destination (IPv4 as IPv4-mapped) and AnyPort or the
// destination port: with an LPM trie keyed by (protocol, port, address), a
// lookup with the destination port and one with the any-port key suffice. The
// any-port key must differ from the key of port 0, or an entry for port 0
// (Port 0 without AnyPort) cannot be stored exactly.
//
// # Mode and action
//
// Mode defaults to Audit and Action to Deny, as the CRD's defaults do.
package rules
