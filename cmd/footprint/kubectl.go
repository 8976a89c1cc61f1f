package main

// The kubectl plugin. The footprint binary is also kubectl-footprint: when it
// runs under that name (installed or symlinked so, for `kubectl footprint
// ...`), the plugin's commands are the root; under the name footprint the
// same commands live under `footprint kube ...`.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/footprint-dev/footprint/crds/v1alpha1"
	"github.com/footprint-dev/footprint/internal/kubepods"
)

// kubectlPluginName is the name kubectl looks for on $PATH to run
// `kubectl footprint`.
const kubectlPluginName = "kubectl-footprint"

// isKubectlPlugin reports whether the binary was started under the plugin's
// name (argv[0]), as kubectl starts it.
func isKubectlPlugin(argv0 string) bool {
	return strings.TrimSuffix(filepath.Base(argv0), ".exe") == kubectlPluginName
}

const kubeLong = `Drive footprint in a Kubernetes cluster: record a workload's containers, follow
the recording, list the Profiles, turn one into a securityContext patch, an
EnforcementPolicy, a NetworkPolicy (destinations resolved to the cluster's pods
and Services) or a Tetragon policy, enforce it, and watch the violations.

The cluster is the one kubectl uses: --kubeconfig, $KUBECONFIG or ~/.kube/config,
with --context, -n/--namespace and kubectl's other connection flags.`

// newKubectlPluginCommand is the root command when the binary runs as
// kubectl-footprint.
func newKubectlPluginCommand() *cobra.Command {
	root := &cobra.Command{
		// cobra takes a command's name from the first word of Use; the
		// display name is what help and error messages show.
		Use:         kubectlPluginName,
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl footprint"},
		Short:       "Record what workloads do with eBPF and turn it into least privilege",
		Long:        kubeLong,
		Example: `  kubectl footprint record deployment/web --duration 1h -n shop
  kubectl footprint status -n shop
  kubectl footprint get profiles -n shop
  kubectl footprint export securitycontext web-nginx -n shop > patch.yaml
  kubectl footprint enforce web-nginx --mode audit -n shop
  kubectl footprint violations -f -n shop`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	addKubeCommands(root)
	root.AddCommand(newVersionCommand())
	markUsageErrors(root)
	return root
}

// newKubeCommand is `footprint kube`: the plugin's commands under the name
// footprint, for use without kubectl.
func newKubeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kube",
		Short: "The kubectl plugin's commands: record, status, get, export, enforce and violations in a cluster",
		Long: kubeLong + `

These are the commands of kubectl footprint: install or symlink this binary as
kubectl-footprint on $PATH and run them as kubectl footprint COMMAND.`,
		Example: `  footprint kube record deployment/web --duration 1h -n shop
  footprint kube get profiles -A
  ln -s "$(command -v footprint)" /usr/local/bin/kubectl-footprint; kubectl footprint status`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	addKubeCommands(cmd)
	return cmd
}

// addKubeCommands adds the plugin's verbs and the connection flags they
// share to parent.
func addKubeCommands(parent *cobra.Command) {
	kf := &kubeFlags{}
	kf.bind(parent.PersistentFlags())
	parent.AddCommand(
		newKubeRecordCommand(kf),
		newKubeStatusCommand(kf),
		newKubeGetCommand(kf),
		newKubeExportCommand(kf),
		newKubeEnforceCommand(kf),
		newKubeViolationsCommand(kf),
	)
}

// kubeFlags are kubectl's connection flags: --kubeconfig, --context,
// -n/--namespace, --cluster, --user, --server, --token, --as and the rest.
type kubeFlags struct {
	kubeconfig string
	overrides  clientcmd.ConfigOverrides
}

func (f *kubeFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file to use (default: $KUBECONFIG, then ~/.kube/config)")
	clientcmd.BindOverrideFlags(&f.overrides, fs, clientcmd.RecommendedConfigOverrideFlags(""))
}

// kubeSession is a connection to the cluster for one command.
type kubeSession struct {
	c client.WithWatch
	// namespace is -n, or the kubeconfig context's namespace, or default.
	namespace string
	// server, kubeconfig and context say which cluster this is, for errors.
	server, kubeconfig, context string
	// prefix is how the user runs these commands, for hints:
	// "kubectl footprint" or "footprint kube".
	prefix string
}

// kubeScheme knows the built-in types and footprint's.
var kubeScheme = func() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// connect reads the kubeconfig and the flags and makes a client. It does
// not talk to the cluster yet; the first request does.
func (f *kubeFlags) connect(cmd *cobra.Command) (*kubeSession, error) {
	// controller-runtime complains on stderr, after a while, when nothing
	// took its log; the plugin has no use for it.
	ctrllog.SetLogger(logr.Discard())
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &f.overrides)
	s := &kubeSession{prefix: commandPrefix(cmd), kubeconfig: describeKubeconfig(rules)}
	if raw, err := cc.RawConfig(); err == nil {
		s.context = raw.CurrentContext
	}
	if f.overrides.CurrentContext != "" {
		s.context = f.overrides.CurrentContext
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, fmt.Errorf("no cluster to talk to: no kubeconfig at %s, and not running in a pod; give one with --kubeconfig or $KUBECONFIG", s.kubeconfig)
		}
		return nil, fmt.Errorf("kubeconfig %s: %w", s.kubeconfig, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", s.kubeconfig, err)
	}
	s.namespace, s.server = ns, cfg.Host
	if !kubeconfigExists(rules) {
		s.kubeconfig = "" // the in-cluster config of a pod
	}
	cfg.QPS, cfg.Burst = 50, 100
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: kubeScheme})
	if err != nil {
		return nil, s.explain(err)
	}
	s.c = c
	return s, nil
}

// commandPrefix is the command line that reaches the plugin's verbs:
// "kubectl footprint" or "footprint kube".
func commandPrefix(cmd *cobra.Command) string {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Name() == "kube" && c.HasParent() || !c.HasParent() && c.Name() == kubectlPluginName {
			return c.CommandPath()
		}
	}
	return "kubectl footprint"
}

// describeKubeconfig names the kubeconfig files the loading rules read.
func describeKubeconfig(rules *clientcmd.ClientConfigLoadingRules) string {
	if rules.ExplicitPath != "" {
		return rules.ExplicitPath
	}
	var found, all []string
	for _, p := range rules.GetLoadingPrecedence() {
		all = append(all, p)
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		}
	}
	if len(found) > 0 {
		return strings.Join(found, ":")
	}
	if len(all) == 0 {
		return "~/.kube/config"
	}
	return strings.Join(all, ":")
}

// kubeconfigExists reports whether any of the kubeconfig files exists.
func kubeconfigExists(rules *clientcmd.ClientConfigLoadingRules) bool {
	for _, p := range rules.GetLoadingPrecedence() {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// where names the cluster for an error message.
func (s *kubeSession) where() string {
	if s.kubeconfig == "" {
		return "the API server at " + s.server + " (in-cluster config of this pod's service account)"
	}
	w := "the API server at " + s.server + " (kubeconfig " + s.kubeconfig
	if s.context != "" {
		w += ", context " + s.context
	}
	return w + ")"
}

// explain turns errors whose cause is the connection into messages that say
// which cluster and kubeconfig were used.
func (s *kubeSession) explain(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return err
	case unreachable(err):
		return fmt.Errorf("cannot reach %s: %w", s.where(), err)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("%s refused the credentials: %w", s.where(), err)
	case apimeta.IsNoMatchError(err) || strings.Contains(err.Error(), "the server could not find the requested resource"):
		return fmt.Errorf("footprint's CRDs are not installed in the cluster at %s (install footprint: kubectl apply -k deploy/): %w", s.server, err)
	}
	return err
}

// unreachable reports whether err means no API server answered.
func unreachable(err error) bool {
	if apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) {
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return false
	}
	var urlErr *url.Error
	var netErr *net.OpError
	var dnsErr *net.DNSError
	if errors.As(err, &urlErr) || errors.As(err, &netErr) || errors.As(err, &dnsErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// Discovery errors do not always wrap their cause.
	msg := err.Error()
	for _, s := range []string{"connection refused", "no such host", "i/o timeout", "dial tcp", "Client.Timeout exceeded"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// hint is a command line the user can run next, in the user's own spelling.
func (s *kubeSession) hint(verb string, args ...string) string {
	parts := append([]string{s.prefix, verb}, args...)
	return strings.Join(parts, " ")
}

// ago writes how long ago t was, as kubectl does: 5m, 3h, 2d.
func ago(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// existing lists what exists, for a message about something that does not:
// "profiles there: a, b, c" or "there are no profiles there".
func existing(plural string, names []string) string {
	if len(names) == 0 {
		return "there are no " + plural + " there"
	}
	slices.Sort(names)
	const most = 12
	list := strings.Join(names[:min(len(names), most)], ", ")
	if len(names) > most {
		list += fmt.Sprintf(" and %d more", len(names)-most)
	}
	return plural + " there: " + list
}

// notFound says that the named object is missing and what there is instead.
// list is an empty list of the object's kind.
func (s *kubeSession) notFound(ctx context.Context, list client.ObjectList, kind, plural, name, namespace string) error {
	msg := fmt.Sprintf("no %s %s in namespace %s", kind, name, namespace)
	if err := s.c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return errors.New(msg)
	}
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return errors.New(msg)
	}
	var names []string
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			names = append(names, o.GetName())
		}
	}
	return fmt.Errorf("%s; %s", msg, existing(plural, names))
}

// getProfile reads a Profile, or says which ones there are.
func (s *kubeSession) getProfile(ctx context.Context, name string) (*v1alpha1.Profile, error) {
	p := &v1alpha1.Profile{}
	err := s.c.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, p)
	if apierrors.IsNotFound(err) {
		err := s.notFound(ctx, &v1alpha1.ProfileList{}, "profile", "profiles", name, s.namespace)
		return nil, fmt.Errorf("%w (list them: %s)", err, s.hint("get", "profiles", "-A"))
	}
	if err != nil {
		return nil, s.explain(fmt.Errorf("get profile %s in namespace %s: %w", name, s.namespace, err))
	}
	p.ManagedFields = nil
	return p, nil
}

// withKind fills in the object's apiVersion and kind, which the client
// leaves empty on typed objects, so that YAML and JSON output names them.
func withKind(obj k8sruntime.Object) {
	if gvk, err := apiutil.GVKForObject(obj, kubeScheme); err == nil {
		obj.GetObjectKind().SetGroupVersionKind(gvk)
	}
	if o, ok := obj.(metav1.Object); ok {
		o.SetManagedFields(nil)
	}
}

// printObject writes an object (or list) as YAML or JSON.
func printObject(w io.Writer, obj any, format string) error {
	var data []byte
	var err error
	switch format {
	case "yaml":
		data, err = yaml.Marshal(obj)
	case "json":
		data, err = json.MarshalIndent(obj, "", "    ")
		data = append(data, '\n')
	default:
		return fmt.Errorf("unknown format %q: use table, yaml or json", format)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// checkFormat refuses an -o value before anything is asked of the cluster.
func checkFormat(format string) error {
	switch format {
	case "table", "yaml", "json":
		return nil
	}
	return usagef("-o %q: use table, yaml or json", format)
}

// readWorkload reads a workload and its pods' selector. A missing workload
// is an error naming the workloads of that kind in the namespace.
func (s *kubeSession) readWorkload(ctx context.Context, namespace string, ref *v1alpha1.WorkloadReference) (*kubepods.Workload, error) {
	obj, list, err := kubepods.NewWorkloadObject(ref.Kind)
	if err != nil {
		return nil, err
	}
	kind := strings.ToLower(ref.Kind)
	if err := s.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, s.notFound(ctx, list, kind, kind+"s", ref.Name, namespace)
		}
		return nil, s.explain(fmt.Errorf("get %s %s in namespace %s: %w", kind, ref.Name, namespace, err))
	}
	return kubepods.WorkloadFrom(ref, namespace, obj)
}
