// Package directory embeds the bundled Wild Directory: every top-level
// folder here is an app package (manifest.yaml plus Kustomize resources
// written as templates). The wild binary uses it unless --directory or
// WILD_DIRECTORY points elsewhere.
package directory

import (
	"embed"
	"io/fs"
)

// Listing each app would let a new package be forgotten; "*" takes every
// folder, and the catalog ignores the top-level files (this one).
//
//go:embed *
var files embed.FS

// FS is the bundled catalog; its top-level directories are app packages.
var FS fs.FS = files
