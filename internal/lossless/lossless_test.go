package lossless

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
)

func TestDecodeRefusesAnObjectWithFieldsItsTypeLacks(t *testing.T) {
	tests := []struct {
		name    string
		object  map[string]any
		unknown string // the field the error names; "" for none
	}{
		{"every field known", map[string]any{"spec": map[string]any{"container": "app"}, "status": map[string]any{"summary": map[string]any{"files": int64(2)}}}, ""},
		{"a new spec field", map[string]any{"spec": map[string]any{"container": "app", "futureEntries": []any{"x"}}}, `"futureEntries"`},
		{"a new field in a list item", map[string]any{"spec": map[string]any{"files": []any{map[string]any{"path": "/x", "operations": []any{"unlink"}}}}}, `"operations"`},
		{"a new status field", map[string]any{"status": map[string]any{"summary": map[string]any{"files": int64(2), "futureKind": int64(1)}}}, `"futureKind"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: tc.object}
			u.SetAPIVersion(v1alpha1.GroupVersion.String())
			u.SetKind("Profile")
			u.SetNamespace("shop")
			u.SetName("web-app")
			var p v1alpha1.Profile
			err := Decode(u, &p)
			if tc.unknown == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if p.Name != "web-app" || p.Spec.Container != "app" {
					t.Errorf("decoded %+v", p)
				}
				return
			}
			if !errors.Is(err, ErrUnknownFields) || !strings.Contains(err.Error(), tc.unknown) || !strings.Contains(err.Error(), "shop/web-app") {
				t.Errorf("Decode = %v, want ErrUnknownFields naming %s and the object", err, tc.unknown)
			}
		})
	}
}
