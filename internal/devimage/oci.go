// Package devimage writes OCI image archives for the dev cluster's real
// node, which can pull nothing: every image it runs is built here, from
// the devcluster module's static programs or from Debian packages.
package devimage

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"
)

// Config is the part of an image's runtime configuration we set.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	// ExposedPorts like "5432/tcp".
	ExposedPorts []string
	Volumes      []string
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	// Layers stay uncompressed: the archive only travels to containerd on
	// this machine, and gzip would cost more time than it saves.
	mediaLayer = "application/vnd.oci.image.layer.v1.tar"
)

// WriteArchive writes an OCI image layout as a tar archive at path: one
// image named name (a full reference, e.g. "wild.local/postgres:15"),
// made of the given uncompressed layer tars in order. The archive is
// written beside and renamed, so a crash never leaves half an image.
func WriteArchive(path, name string, layers []string, cfg Config) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".image-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	tw := tar.NewWriter(tmp)
	if err := writeLayout(tw, name, layers, cfg); err != nil {
		tmp.Close()
		return err
	}
	if err := tw.Close(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeLayout(tw *tar.Writer, name string, layers []string, cfg Config) error {
	var layerDescs []descriptor
	var diffIDs []string
	for _, l := range layers {
		d, err := addFileBlob(tw, l)
		if err != nil {
			return err
		}
		d.MediaType = mediaLayer
		layerDescs = append(layerDescs, d)
		// Uncompressed: the diff ID is the layer's own digest.
		diffIDs = append(diffIDs, d.Digest)
	}
	imgCfg := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      time.Unix(0, 0).UTC().Format(time.RFC3339),
		"config":       runtimeConfig(cfg),
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
	}
	cfgDesc, err := addJSONBlob(tw, imgCfg)
	if err != nil {
		return err
	}
	cfgDesc.MediaType = mediaConfig
	manifest := map[string]any{"schemaVersion": 2, "mediaType": mediaManifest, "config": cfgDesc, "layers": layerDescs}
	mDesc, err := addJSONBlob(tw, manifest)
	if err != nil {
		return err
	}
	mDesc.MediaType = mediaManifest
	// containerd names the imported image by this annotation.
	mDesc.Annotations = map[string]string{"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name}
	index := map[string]any{"schemaVersion": 2, "manifests": []descriptor{mDesc}}
	if err := addJSON(tw, "index.json", index); err != nil {
		return err
	}
	return addJSON(tw, "oci-layout", map[string]string{"imageLayoutVersion": "1.0.0"})
}

func runtimeConfig(cfg Config) map[string]any {
	rc := map[string]any{}
	set := func(k string, v any, ok bool) {
		if ok {
			rc[k] = v
		}
	}
	set("Entrypoint", cfg.Entrypoint, len(cfg.Entrypoint) > 0)
	set("Cmd", cfg.Cmd, len(cfg.Cmd) > 0)
	set("Env", cfg.Env, len(cfg.Env) > 0)
	set("WorkingDir", cfg.WorkingDir, cfg.WorkingDir != "")
	set("User", cfg.User, cfg.User != "")
	set("ExposedPorts", asSet(cfg.ExposedPorts), len(cfg.ExposedPorts) > 0)
	set("Volumes", asSet(cfg.Volumes), len(cfg.Volumes) > 0)
	return rc
}

func asSet(keys []string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, k := range keys {
		m[k] = struct{}{}
	}
	return m
}

func addJSON(tw *tar.Writer, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = tw.Write(b)
	return err
}

func addJSONBlob(tw *tar.Writer, v any) (descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return descriptor{}, err
	}
	sum := sha256.Sum256(b)
	d := descriptor{Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(b))}
	return d, addJSONRaw(tw, "blobs/sha256/"+hex.EncodeToString(sum[:]), b)
}

func addJSONRaw(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

// addFileBlob hashes a file, then copies it into the archive under its
// digest.
func addFileBlob(tw *tar.Writer, path string) (descriptor, error) {
	f, err := os.Open(path)
	if err != nil {
		return descriptor{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return descriptor{}, fmt.Errorf("hash layer %s: %w", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return descriptor{}, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/" + sum, Mode: 0o644, Size: n, Typeflag: tar.TypeReg}); err != nil {
		return descriptor{}, err
	}
	if _, err := io.CopyN(tw, f, n); err != nil {
		return descriptor{}, fmt.Errorf("copy layer %s: %w", path, err)
	}
	return descriptor{Digest: "sha256:" + sum, Size: n}, nil
}

// FileLayer writes an uncompressed layer tar at path holding the given
// files: key is the path in the image, value the file on this machine.
// Files keep their mode; owners are root.
func FileLayer(path string, files map[string]string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(out)
	// Sorted, so the same files always give the same layer digest.
	for _, dst := range slices.Sorted(maps.Keys(files)) {
		if err := addFile(tw, dst, files[dst]); err != nil {
			out.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func addFile(tw *tar.Writer, dst, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: filepath.Clean("/" + dst)[1:], Mode: int64(st.Mode().Perm()), Size: st.Size(), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
