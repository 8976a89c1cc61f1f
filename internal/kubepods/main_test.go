package kubepods

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/footprint-dev/footprint/test/envtest"
)

// shared is one control plane for the tests that talk to an API server,
// started by the first of them; each works in a namespace of its own.
var shared struct {
	once sync.Once
	env  *envtest.Environment
	err  error
}

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // the control plane's start logs nothing a test needs
	code := m.Run()
	if shared.env != nil {
		if err := shared.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "envtest: stopping the control plane: %v\n", err)
		}
	}
	os.Exit(code)
}

// apiServer returns the shared control plane and a namespace of the
// test's own in it.
func apiServer(t *testing.T) (*envtest.Environment, string) {
	t.Helper()
	shared.once.Do(func() { shared.env, shared.err = envtest.New() })
	if shared.err != nil {
		t.Fatalf("envtest: %v", shared.err)
	}
	return shared.env, envtest.Namespace(t, shared.env.Client)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// controlledBy is a controller reference to kind/name.
func controlledBy(apiVersion, kind, name, uid string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid), Controller: ptr.To(true)}}
}

// podSpec is the spec of a pod of one container "app" on node.
func podSpec(node string) corev1.PodSpec {
	return corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "app:v1"}}}
}
