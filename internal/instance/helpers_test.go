package instance

import (
	"gopkg.in/yaml.v3"

	"github.com/wild-cloud/wild/internal/yamldoc"
)

func strNode(s string) *yaml.Node { return yamldoc.StringNode(s) }
