package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// uninstallWatch tells an uninstall from a restart, so that an agent on its
// way out knows whether to leave the kernel side in place (a restart or an
// upgrade: its successor takes the pins over, and enforcement holds
// throughout) or to remove it (the DaemonSet is deleted: nothing of
// footprint may keep enforcing). It watches the agent's DaemonSet and its
// namespace from the start, because by the time the agent is told to stop,
// `kubectl delete -k` may have deleted the agent's RBAC too and a last
// look could be refused.
type uninstallWatch struct {
	c               client.WithWatch
	namespace, name string
	log             logr.Logger
	// deleting is set once the DaemonSet or its namespace was seen going.
	deleting atomic.Bool
}

// parseUninstallTarget parses --uninstall-when-deleted's NAMESPACE/NAME.
func parseUninstallTarget(s string) (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(s, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", usagef("--uninstall-when-deleted %q: want the agent's DaemonSet as NAMESPACE/NAME, e.g. footprint-system/footprint-agent", s)
	}
	return namespace, name, nil
}

// Run watches until ctx ends, watching again whenever a watch ends.
func (u *uninstallWatch) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := u.watchOnce(ctx); err != nil && ctx.Err() == nil {
			u.log.Error(err, "watching the agent's DaemonSet; watching again", "daemonset", u.namespace+"/"+u.name)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
		}
	}
	return nil
}

func (u *uninstallWatch) watchOnce(ctx context.Context) error {
	ds, err := u.c.Watch(ctx, &appsv1.DaemonSetList{}, client.InNamespace(u.namespace), client.MatchingFields{"metadata.name": u.name})
	if err != nil {
		return fmt.Errorf("watch daemonset: %w", err)
	}
	defer ds.Stop()
	ns, err := u.c.Watch(ctx, &corev1.NamespaceList{}, client.MatchingFields{"metadata.name": u.namespace})
	if err != nil {
		return fmt.Errorf("watch namespace: %w", err)
	}
	defer ns.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-ds.ResultChan():
			if !ok {
				return nil
			}
			u.observe(ev)
		case ev, ok := <-ns.ResultChan():
			if !ok {
				return nil
			}
			u.observe(ev)
		}
	}
}

func (u *uninstallWatch) observe(ev watch.Event) {
	obj, ok := ev.Object.(client.Object)
	if !ok {
		return // a watch error: the channel closes next
	}
	if ev.Type == watch.Deleted || obj.GetDeletionTimestamp() != nil {
		if !u.deleting.Swap(true) {
			u.log.Info("footprint is being uninstalled: this agent removes its kernel programs and maps when it stops", "deleted", fmt.Sprintf("%T %s", obj, obj.GetName()))
		}
	}
}

// uninstalling says whether the agent stops because footprint is being
// uninstalled. Besides what the watch saw, it looks once more; when it
// cannot tell (the API server refuses or is away), it answers no: keeping
// enforcement is the safe side, and the README says how to clean up.
func (u *uninstallWatch) uninstalling(ctx context.Context) bool {
	if u.deleting.Load() {
		return true
	}
	var ds appsv1.DaemonSet
	err := u.c.Get(ctx, client.ObjectKey{Namespace: u.namespace, Name: u.name}, &ds)
	switch {
	case apierrors.IsNotFound(err):
		return true
	case err != nil:
		u.log.Error(err, "cannot tell an uninstall from a restart: keeping the kernel programs and maps (remove "+
			"the pin directory on the node to remove them)", "daemonset", u.namespace+"/"+u.name)
		return false
	case ds.DeletionTimestamp != nil:
		return true
	}
	var ns corev1.Namespace
	if err := u.c.Get(ctx, client.ObjectKey{Name: u.namespace}, &ns); err == nil && ns.DeletionTimestamp != nil {
		return true
	}
	return false
}

// removePins removes the pinned maps and links under dir: once the agent's
// own file descriptors are closed too, the kernel detaches the programs and
// frees the maps.
func removePins(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove pinned programs and maps under %s: %w", dir, err)
	}
	return nil
}
