package devimage

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The archive is an OCI layout whose blobs match their digests, whose
// index names the image for containerd, and whose config lists the
// layers' diff IDs in order; the same inputs give the same digests.
func TestWriteArchive(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "hello")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(dir, "layer.tar")
	if err := FileLayer(layer, map[string]string{"/hello": prog, "/etc/hello": prog}); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "img.tar")
	cfg := Config{Entrypoint: []string{"/hello"}, Env: []string{"A=b"}}
	if err := WriteArchive(archive, "wild.local/hello:1", []string{layer}, cfg); err != nil {
		t.Fatal(err)
	}
	files := readTar(t, archive)
	for name, b := range files {
		if d, ok := strings.CutPrefix(name, "blobs/sha256/"); ok {
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:]) != d {
				t.Errorf("blob %s has digest %x", name, sum)
			}
		}
	}
	var index struct {
		Manifests []descriptor `json:"manifests"`
	}
	mustJSON(t, files["index.json"], &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations["io.containerd.image.name"] != "wild.local/hello:1" {
		t.Fatalf("index: %+v", index)
	}
	var manifest struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	mustJSON(t, files["blobs/sha256/"+index.Manifests[0].Digest[7:]], &manifest)
	var config struct {
		Config struct{ Entrypoint, Env []string }
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	mustJSON(t, files["blobs/sha256/"+manifest.Config.Digest[7:]], &config)
	if len(manifest.Layers) != 1 || config.RootFS.DiffIDs[0] != manifest.Layers[0].Digest {
		t.Fatalf("layers %+v, diff IDs %v", manifest.Layers, config.RootFS.DiffIDs)
	}
	if config.Config.Entrypoint[0] != "/hello" || config.Config.Env[0] != "A=b" {
		t.Fatalf("config: %+v", config.Config)
	}
	layerFiles := readTar(t, layer)
	if string(layerFiles["hello"]) != "#!/bin/sh\necho hi\n" || len(layerFiles) != 2 {
		t.Fatalf("layer holds %v", layerFiles)
	}

	again := filepath.Join(dir, "again.tar")
	layer2 := filepath.Join(dir, "layer2.tar")
	if err := FileLayer(layer2, map[string]string{"/etc/hello": prog, "/hello": prog}); err != nil {
		t.Fatal(err)
	}
	if err := WriteArchive(again, "wild.local/hello:1", []string{layer2}, cfg); err != nil {
		t.Fatal(err)
	}
	var index2 struct {
		Manifests []descriptor `json:"manifests"`
	}
	mustJSON(t, readTar(t, again)["index.json"], &index2)
	if index2.Manifests[0].Digest != index.Manifests[0].Digest {
		t.Errorf("same inputs, different image digests: %s, %s", index.Manifests[0].Digest, index2.Manifests[0].Digest)
	}
}

func readTar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = b
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}
