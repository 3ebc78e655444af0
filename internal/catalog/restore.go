package catalog

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/names"
)

// restore parses
//
//	restore:
//	  databases:
//	    - configKey: dbName
//	      secretKeys: [dbUrl]
//	  volumes: [listmonk-pvc]
//	  dataSecrets: [secretKey]
func (p *parser) restore(v *yaml.Node) error {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		return p.errf(v, "restore must be a mapping with databases and volumes")
	}
	r := &Restore{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "databases":
			items, err := p.seq("restore.databases", val)
			if err != nil {
				return err
			}
			for _, it := range items {
				db, err := p.restoreDatabase(it)
				if err != nil {
					return err
				}
				r.Databases = append(r.Databases, db)
			}
		case "volumes":
			items, err := p.seq("restore.volumes", val)
			if err != nil {
				return err
			}
			for _, it := range items {
				if it.Kind != yaml.ScalarNode {
					return p.errf(it, "restore.volumes entries are PersistentVolumeClaim names")
				}
				if err := names.Validate("volume (PVC name)", it.Value); err != nil {
					return p.errf(it, "restore.volumes: %v", err)
				}
				r.Volumes = append(r.Volumes, it.Value)
			}
		case "dataSecrets":
			items, err := p.seq("restore.dataSecrets", val)
			if err != nil {
				return err
			}
			for _, it := range items {
				if it.Kind != yaml.ScalarNode || it.Value == "" {
					return p.errf(it, "restore.dataSecrets entries are secret keys the data depends on, e.g. secretKey")
				}
				r.DataSecrets = append(r.DataSecrets, it.Value)
			}
		default:
			return p.errf(k, "unknown key %q in restore (known: databases, volumes, dataSecrets)", k.Value)
		}
	}
	p.m.Restore = r
	return nil
}

func (p *parser) restoreDatabase(it *yaml.Node) (RestoreDatabase, error) {
	db := RestoreDatabase{}
	if it.Kind != yaml.MappingNode {
		return db, p.errf(it, "each restore.databases entry must be a mapping with keys configKey, secretKeys")
	}
	for j := 0; j+1 < len(it.Content); j += 2 {
		k, val := it.Content[j], it.Content[j+1]
		switch k.Value {
		case "configKey":
			if val.Kind != yaml.ScalarNode || val.Value == "" {
				return db, p.errf(val, "restore.databases.configKey must be the config key holding the database name, e.g. dbName")
			}
			db.ConfigKey = val.Value
		case "secretKeys":
			keys, err := p.seq("restore.databases.secretKeys", val)
			if err != nil {
				return db, err
			}
			for _, sk := range keys {
				if sk.Kind != yaml.ScalarNode {
					return db, p.errf(sk, "restore.databases.secretKeys entries are secret keys, e.g. dbUrl")
				}
				db.SecretKeys = append(db.SecretKeys, sk.Value)
			}
		default:
			return db, p.errf(k, "unknown key %q in restore.databases (known: configKey, secretKeys)", k.Value)
		}
	}
	if db.ConfigKey == "" {
		return db, p.errf(it, "restore.databases entry needs configKey (the config key holding the database name)")
	}
	return db, nil
}

// validateRestore checks that restore names keys the package defines.
func (p *parser) validateRestore(root *yaml.Node) error {
	r := p.m.Restore
	if r == nil {
		return nil
	}
	at := keyNode(root, "restore", root)
	secrets := map[string]bool{}
	for _, s := range p.m.DefaultSecrets {
		secrets[s.Key] = true
	}
	for _, s := range p.m.RequiredSecrets {
		secrets[s] = true
	}
	for _, db := range r.Databases {
		if !configHas(p.m.DefaultConfig, db.ConfigKey) {
			return p.errf(at, "restore: configKey %q is not a key of defaultConfig", db.ConfigKey)
		}
		for _, sk := range db.SecretKeys {
			if !secrets[sk] {
				return p.errf(at, "restore: secret key %q is not in defaultSecrets or requiredSecrets", sk)
			}
		}
	}
	for _, sk := range r.DataSecrets {
		if !secrets[sk] {
			return p.errf(at, "restore.dataSecrets: secret key %q is not in defaultSecrets or requiredSecrets", sk)
		}
	}
	return nil
}

// configHas reports whether the dotted path exists in a defaultConfig node.
func configHas(n *yaml.Node, dotted string) bool {
	for _, part := range strings.Split(dotted, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return false
		}
		n = keyNode(n, part, nil)
	}
	return n != nil
}

// marshalRestore is the inverse of restore, for the instance copy.
func (r *Restore) marshal() *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode}
	if len(r.Databases) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, db := range r.Databases {
			it := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("configKey"), str(db.ConfigKey)}}
			if len(db.SecretKeys) > 0 {
				it.Content = append(it.Content, str("secretKeys"), StringSeq(db.SecretKeys))
			}
			seq.Content = append(seq.Content, it)
		}
		out.Content = append(out.Content, str("databases"), seq)
	}
	if len(r.Volumes) > 0 {
		out.Content = append(out.Content, str("volumes"), StringSeq(r.Volumes))
	}
	if len(r.DataSecrets) > 0 {
		out.Content = append(out.Content, str("dataSecrets"), StringSeq(r.DataSecrets))
	}
	return out
}

// StringSeq is a YAML sequence of plain strings.
func StringSeq(vals []string) *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, v := range vals {
		seq.Content = append(seq.Content, str(v))
	}
	return seq
}
