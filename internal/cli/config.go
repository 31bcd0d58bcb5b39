package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// UserConfig is the CLI's config file, written by `skiff up`.
type UserConfig struct {
	// Server is the API's base URL, e.g. http://127.0.0.1:7070.
	Server string `json:"server"`
	// TokenFile holds the bearer token; reading it at each run means a
	// rotated token is picked up without rewriting the config.
	TokenFile string `json:"tokenFile"`
}

// UserConfigPath is $XDG_CONFIG_HOME/skiff/config.yaml, or
// ~/.config/skiff/config.yaml when XDG_CONFIG_HOME is unset.
func UserConfigPath() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the config directory: %w: set XDG_CONFIG_HOME or HOME", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "skiff", "config.yaml"), nil
}

// WriteUserConfig writes the config file pointing the CLI at server with
// the token in tokenFile, and returns its path. The file is replaced
// atomically and readable only by its owner.
func WriteUserConfig(server, tokenFile string) (string, error) {
	path, err := UserConfigPath()
	if err != nil {
		return "", err
	}
	if tokenFile != "" {
		if abs, err := filepath.Abs(tokenFile); err == nil {
			tokenFile = abs
		}
	}
	b, err := yaml.Marshal(UserConfig{Server: server, TokenFile: tokenFile})
	if err != nil {
		return "", fmt.Errorf("encoding the config: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("creating the config directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.yaml")
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}

// LoadUserConfig reads the config file. When it does not exist the error
// satisfies errors.Is(err, fs.ErrNotExist); path is returned either way so
// messages can name it.
func LoadUserConfig() (cfg UserConfig, path string, err error) {
	path, err = UserConfigPath()
	if err != nil {
		return cfg, "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, path, fmt.Errorf("reading %s: %w", path, err)
	}
	// Not strict: a newer skiff may add fields an older CLI ignores.
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return cfg, path, fmt.Errorf("%s is not valid YAML: %v: fix it or run `skiff up` again to rewrite it", path, err)
	}
	if cfg.TokenFile != "" && !filepath.IsAbs(cfg.TokenFile) {
		cfg.TokenFile = filepath.Join(filepath.Dir(path), cfg.TokenFile)
	}
	return cfg, path, nil
}
