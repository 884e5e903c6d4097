package upload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Dir keeps images in a directory of this server, served at /uploads/. It is
// the host when no imgBB key is configured.
type Dir struct {
	Path string
}

// PathPrefix is where the server serves Dir's files.
const PathPrefix = "/uploads/"

var (
	_ Host    = Dir{}
	_ Deleter = Dir{}
)

// Name implements Host.
func (Dir) Name() string { return "local" }

// Put implements Host: written to a temporary file and renamed, so a reader
// never sees half an image. The URL is a path on this server.
func (d Dir) Put(_ context.Context, name, _ string, data []byte) (string, error) {
	if !validName.MatchString(name) {
		return "", fmt.Errorf("image name %q", name)
	}
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(d.Path, ".upload-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // after the rename this removes nothing
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(d.Path, name)); err != nil {
		return "", err
	}
	return PathPrefix + name, nil
}

// Delete implements Deleter.
func (d Dir) Delete(_ context.Context, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("image name %q", name)
	}
	err := os.Remove(filepath.Join(d.Path, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// List implements Deleter: the images in the directory, with when each was
// written. Files of other names (a write a crash interrupted) are left out.
func (d Dir) List() ([]Stored, error) {
	entries, err := os.ReadDir(d.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Stored
	for _, e := range entries {
		if !e.Type().IsRegular() || !validName.MatchString(e.Name()) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Stored{Name: e.Name(), At: info.ModTime()})
	}
	return out, nil
}

// contentTypes maps the extensions Service gives back to the image types.
var contentTypes = map[string]string{}

// validName matches the names Service gives: no path can be smuggled in.
var validName *regexp.Regexp

func init() {
	var exts []string
	for ct, ext := range extensions {
		contentTypes["."+ext] = ct
		exts = append(exts, ext)
	}
	validName = regexp.MustCompile(`^[0-9a-f]{32}\.(` + strings.Join(exts, "|") + `)$`)
}

// Open returns the file called name and its content type. os.ErrNotExist
// for any name Service would not have given.
func (d Dir) Open(name string) (*os.File, string, error) {
	if !validName.MatchString(name) {
		return nil, "", os.ErrNotExist
	}
	f, err := os.Open(filepath.Join(d.Path, name))
	if err != nil {
		return nil, "", err
	}
	return f, contentTypes[filepath.Ext(name)], nil
}
