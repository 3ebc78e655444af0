package instance

import (
	"fmt"
	"strconv"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/wild-cloud/wild/internal/yamldoc"
)

// Settings are the instance-wide values a user edits in a form: the
// domain, the operator's email and the SMTP relay apps send mail through.
type Settings struct {
	Domain string `json:"domain"`
	Email  string `json:"email"`
	SMTP   SMTP   `json:"smtp,omitempty"`
}

// SMTP is cloud.smtp in config.yaml; its password, when apps need one, is
// each app's own secret.
type SMTP struct {
	Host string `json:"host,omitempty"`
	Port string `json:"port,omitempty"`
	User string `json:"user,omitempty"`
	From string `json:"from,omitempty"`
	TLS  bool   `json:"tls,omitempty"`
}

// settingPaths maps each setting to its place in config.yaml.
func (s *Settings) paths() map[string]string {
	return map[string]string{
		"cloud.domain": s.Domain, "operator.email": s.Email,
		"cloud.smtp.host": s.SMTP.Host, "cloud.smtp.port": s.SMTP.Port,
		"cloud.smtp.user": s.SMTP.User, "cloud.smtp.from": s.SMTP.From,
	}
}

// Settings reads the current settings; a missing key reads as empty.
func (i *Instance) Settings() (Settings, error) {
	d, err := i.ReadConfig()
	if err != nil {
		return Settings{}, err
	}
	var s Settings
	str := func(p ...string) string {
		v, ok, _ := d.Value(p)
		if !ok || v == nil {
			return ""
		}
		return fmt.Sprint(v)
	}
	s.Domain, s.Email = str("cloud", "domain"), str("operator", "email")
	s.SMTP = SMTP{Host: str("cloud", "smtp", "host"), Port: str("cloud", "smtp", "port"),
		User: str("cloud", "smtp", "user"), From: str("cloud", "smtp", "from")}
	s.SMTP.TLS, _ = strconv.ParseBool(str("cloud", "smtp", "tls"))
	return s, nil
}

// SetSettings validates s and writes all of it in one change. Apps see
// the new values when they are next deployed (their defaults are rendered
// at add time, so an added app keeps what it had until it is updated).
func (i *Instance) SetSettings(s Settings) error {
	if err := validateDomain(s.Domain); err != nil {
		return err
	}
	if err := validateEmail(s.Email); err != nil {
		return err
	}
	if s.Email == "" {
		return fmt.Errorf("an operator email is required: certificates and alerts are sent to it")
	}
	if err := validateEmail(s.SMTP.From); err != nil {
		return fmt.Errorf("smtp from: %w", err)
	}
	if s.SMTP.Port != "" {
		if n, err := strconv.Atoi(s.SMTP.Port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid smtp port %q: give a number from 1 to 65535, e.g. 587", s.SMTP.Port)
		}
	}
	return i.Update(func(e *Edit) error {
		e.Message = "config(cloud): settings"
		for p, v := range s.paths() {
			if err := yamldoc.CheckText(v); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			path, _ := yamldoc.ParsePath(p)
			if err := e.Config.Set(path, yamldoc.StringNode(v)); err != nil {
				return err
			}
		}
		tls, _ := yamldoc.ParseValue(strconv.FormatBool(s.SMTP.TLS))
		return e.Config.Set([]string{"cloud", "smtp", "tls"}, tls)
	})
}

// SetKubeconfigData replaces the instance's kubeconfig with b (mode 0600,
// atomically, under the instance lock), after checking that it is a
// kubeconfig with a current context.
func (i *Instance) SetKubeconfigData(b []byte) error {
	cfg, err := clientcmd.Load(b)
	if err != nil {
		return fmt.Errorf("not a kubeconfig: %w", err)
	}
	if cfg.CurrentContext == "" || cfg.Contexts[cfg.CurrentContext] == nil {
		return fmt.Errorf("the kubeconfig names no current context; set current-context to the cluster's context and upload it again")
	}
	return i.Update(func(e *Edit) error {
		e.Message = "chore: replace kubeconfig"
		return e.WriteFile(KubeconfigFile, b, 0o600)
	})
}
