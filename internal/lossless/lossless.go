// Package lossless reads API objects for a read-modify-write that cannot
// drop what this build does not know.
//
// footprint writes its objects by reading them into Go types, changing them
// and writing them back. During a rolling upgrade (or after a rollback) an
// agent older than the object's last writer would decode it without the
// fields it does not know, and its write would remove them: a newer agent's
// new kinds of entries, a newer CLI's new policy field. Get refuses that
// read instead, so the older writer does not write; it keeps what it has to
// write (the kernel keeps recording into pinned maps, the profile writer
// keeps its queue) until it is upgraded.
package lossless

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// ErrUnknownFields means the stored object has fields this build's types do
// not know: a newer footprint wrote it, and writing it back from this
// build's types would remove them.
var ErrUnknownFields = errors.New("the object has fields this footprint does not know")

// Get reads key into obj like client.Reader.Get, with the same errors (a
// missing object is NotFound), and fails with an error wrapping
// ErrUnknownFields when the stored object has a field obj's type lacks.
// scheme must know obj's type.
func Get(ctx context.Context, r client.Reader, scheme *runtime.Scheme, key client.ObjectKey, obj client.Object) error {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := r.Get(ctx, key, u); err != nil {
		return err
	}
	return Decode(u, obj)
}

// Decode decodes u into obj, failing with an error wrapping
// ErrUnknownFields when u has a field obj's type lacks.
func Decode(u *unstructured.Unstructured, obj client.Object) error {
	data, err := u.MarshalJSON()
	if err != nil {
		return fmt.Errorf("read %s %s: %w", u.GetKind(), describe(u), err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		// encoding/json names the first unknown field only in its message.
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("%w: %s %s has field %s, which a newer footprint wrote; "+
				"not writing it from this older version, which would remove the field (upgrade footprint to write it)",
				ErrUnknownFields, u.GetKind(), describe(u), field)
		}
		return fmt.Errorf("decode %s %s: %w", u.GetKind(), describe(u), err)
	}
	return nil
}

func describe(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}
