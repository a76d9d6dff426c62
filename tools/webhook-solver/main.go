// A cert-manager DNS-01 webhook solver for certkeeper's tests, built on
// cert-manager's own webhook framework (pkg/acme/webhook/cmd), the way
// community solvers are: it serves the ChallengePayload API under its group
// through the Kubernetes aggregation layer and writes the TXT records to the
// test BIND with RFC 2136 (cert-manager's rfc2136 provider), reading the TSIG
// secret from a Secret in the challenge's resource namespace.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	whapi "github.com/cert-manager/cert-manager/pkg/acme/webhook/apis/acme/v1alpha1"
	"github.com/cert-manager/cert-manager/pkg/acme/webhook/cmd"
	"github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/rfc2136"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

type config struct {
	Nameserver    string `json:"nameserver"`
	TSIGKeyName   string `json:"tsigKeyName"`
	TSIGAlgorithm string `json:"tsigAlgorithm"`
	TSIGSecretRef struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	} `json:"tsigSecretSecretRef"`
}

type bindSolver struct {
	client kubernetes.Interface
}

func (s *bindSolver) Name() string { return "rfc2136" }

func (s *bindSolver) Initialize(kubeClientConfig *rest.Config, _ <-chan struct{}) error {
	client, err := kubernetes.NewForConfig(kubeClientConfig)
	s.client = client
	return err
}

func (s *bindSolver) provider(ch *whapi.ChallengeRequest) (*rfc2136.DNSProvider, error) {
	var c config
	if ch.Config == nil {
		return nil, fmt.Errorf("no config")
	}
	if err := json.Unmarshal(ch.Config.Raw, &c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	secret, err := s.client.CoreV1().Secrets(ch.ResourceNamespace).Get(context.Background(), c.TSIGSecretRef.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("TSIG secret: %w", err)
	}
	key := c.TSIGSecretRef.Key
	if key == "" {
		key = "secret"
	}
	value, ok := secret.Data[key]
	if !ok {
		return nil, fmt.Errorf("secret %s/%s has no %q", ch.ResourceNamespace, c.TSIGSecretRef.Name, key)
	}
	algorithm := c.TSIGAlgorithm
	if algorithm == "" {
		algorithm = "HMACSHA256"
	}
	return rfc2136.NewDNSProviderCredentials(c.Nameserver, algorithm, c.TSIGKeyName, string(value))
}

func (s *bindSolver) Present(ch *whapi.ChallengeRequest) error {
	p, err := s.provider(ch)
	if err != nil {
		return err
	}
	return p.Present(ch.DNSName, ch.ResolvedFQDN, ch.ResolvedZone, ch.Key)
}

func (s *bindSolver) CleanUp(ch *whapi.ChallengeRequest) error {
	p, err := s.provider(ch)
	if err != nil {
		return err
	}
	return p.CleanUp(ch.DNSName, ch.ResolvedFQDN, ch.ResolvedZone, ch.Key)
}

func main() {
	group := os.Getenv("GROUP_NAME")
	if group == "" {
		panic("GROUP_NAME must be set")
	}
	cmd.RunWebhookServer(group, &bindSolver{})
}
