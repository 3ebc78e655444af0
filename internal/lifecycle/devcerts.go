package lifecycle

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wild-cloud/wild/internal/instance"
	"github.com/wild-cloud/wild/internal/kube"
)

// EnsureDevCertificates gives a local cluster the two wildcard TLS secrets
// that cert-manager provides on a real one (self-signed, for *.domain and
// *.internal.domain), so apps' Ingresses have certificates to copy. Existing
// secrets are left alone.
func EnsureDevCertificates(ctx context.Context, inst *instance.Instance) ([]string, error) {
	c, err := clientFor(inst)
	if err != nil {
		return nil, err
	}
	domain, err := inst.GetConfig("cloud.domain")
	if err != nil {
		return nil, err
	}
	internal, err := inst.GetConfig("cloud.internalDomain")
	if err != nil {
		internal = "internal." + fmt.Sprint(domain)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kube.CertManagerNamespace}}
	if _, err := c.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	var created []string
	for name, d := range map[string]string{kube.WildcardTLSSecrets[0]: fmt.Sprint(domain), kube.WildcardTLSSecrets[1]: fmt.Sprint(internal)} {
		if _, err := c.Clientset.CoreV1().Secrets(kube.CertManagerNamespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
			continue
		}
		crt, key, err := selfSigned(d)
		if err != nil {
			return nil, err
		}
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: kube.CertManagerNamespace},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
		}
		if _, err := c.Clientset.CoreV1().Secrets(kube.CertManagerNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		created = append(created, kube.CertManagerNamespace+"/"+name)
	}
	return created, nil
}

func selfSigned(domain string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "*." + domain, Organization: []string{"Wild Cloud dev cluster"}},
		DNSNames:     []string{"*." + domain, domain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}
