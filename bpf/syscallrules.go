package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// SyscallMax bounds the system call numbers a SyscallRules holds: x86-64's
// and i386's are all below it.
const SyscallMax = len(typesFpSyscalls{}.Native) * 64

// SyscallRuleKey names the system call rules of one installed policy
// version (struct fp_syscall_rule_key): the reporter looks them up under
// the version the policy entry names, so they swap with it.
type SyscallRuleKey struct {
	PolicyID uint32
	Version  uint32
}

// SyscallRules are a policy version's allowed system calls, as the reporter
// (c/enforce_syscall.bpf.c) holds them: bit n of word n/64 allows call
// number n, per ABI, and the address families socket(2) and socketpair(2)
// are restricted to, one bit each (0: any family).
type SyscallRules struct {
	Native, Compat                 [SyscallMax / 64]uint64
	NativeFamilies, CompatFamilies uint64
}

// Allow allows call nr of the native (x86-64) or the compat (i386) ABI.
func (r *SyscallRules) Allow(compat bool, nr int) error {
	if nr < 0 || nr >= SyscallMax {
		return fmt.Errorf("system call number %d: must be 0 to %d", nr, SyscallMax-1)
	}
	words := &r.Native
	if compat {
		words = &r.Compat
	}
	words[nr/64] |= 1 << (nr % 64)
	return nil
}

// Allows says whether call nr of an ABI is allowed.
func (r *SyscallRules) Allows(compat bool, nr int) bool {
	if nr < 0 || nr >= SyscallMax {
		return false
	}
	words := r.Native
	if compat {
		words = r.Compat
	}
	return words[nr/64]&(1<<(nr%64)) != 0
}

// PutSyscallRules writes a policy version's system call rules; write them
// before the policy entry that names the version.
func (e *Enforcer) PutSyscallRules(k SyscallRuleKey, r SyscallRules) error {
	key := typesFpSyscallRuleKey{PolicyId: k.PolicyID, Version: k.Version}
	v := typesFpSyscalls{Native: r.Native, Compat: r.Compat, NativeFamilies: r.NativeFamilies, CompatFamilies: r.CompatFamilies}
	if err := e.maps["syscall_rules"].Put(&key, &v); err != nil {
		return fmt.Errorf("put system call rules of policy %d version %d: %w", k.PolicyID, k.Version, err)
	}
	return nil
}

// DeleteSyscallRules deletes a policy version's system call rules.
func (e *Enforcer) DeleteSyscallRules(k SyscallRuleKey) error {
	key := typesFpSyscallRuleKey{PolicyId: k.PolicyID, Version: k.Version}
	if err := e.maps["syscall_rules"].Delete(&key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete system call rules of policy %d version %d: %w", k.PolicyID, k.Version, err)
	}
	return nil
}

// SyscallRuleKeys returns the policy versions that have system call rules.
func (e *Enforcer) SyscallRuleKeys() ([]SyscallRuleKey, error) {
	var out []SyscallRuleKey
	var k typesFpSyscallRuleKey
	var v typesFpSyscalls
	it := e.maps["syscall_rules"].Iterate()
	for it.Next(&k, &v) {
		out = append(out, SyscallRuleKey{PolicyID: k.PolicyId, Version: k.Version})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read system call rules: %w", err)
	}
	return out, nil
}
