package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/thredis/thredis/server"
)

func TestSplitConfigLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
		err  string
	}{
		{line: "port 6379", want: []string{"port", "6379"}},
		{line: "save   900 1\t300 10", want: []string{"save", "900", "1", "300", "10"}},
		{line: `requirepass "a b"`, want: []string{"requirepass", "a b"}},
		{line: `requirepass ""`, want: []string{"requirepass", ""}},
		{line: `x "tab\there\nnl \x41\x7a \"q\" \\"`, want: []string{"x", "tab\there\nnl Az \"q\" \\"}},
		{line: `x 'it\'s' 'raw\n'`, want: []string{"x", "it's", `raw\n`}},
		{line: `x "\xZZ"`, want: []string{"x", "xZZ"}},
		{line: `x "open`, err: "unbalanced quotes"},
		{line: `x 'open`, err: "unbalanced quotes"},
		{line: `x "a"b`, err: "closing quote must be followed by a space"},
		{line: `x 'a'b`, err: "closing quote must be followed by a space"},
	} {
		got, err := splitConfigLine(tc.line)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("splitConfigLine(%q) error = %v, want %q", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("splitConfigLine(%q): %v", tc.line, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitConfigLine(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustGet(t *testing.T, cfg *server.Config, name string) string {
	t.Helper()
	v, ok := cfg.Get(name)
	if !ok {
		t.Fatalf("directive %s unknown", name)
	}
	return v
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.conf", "maxclients 77\n")
	writeFile(t, dir, "b.conf", "hz 20\n")
	main := writeFile(t, dir, "main.conf", strings.Join([]string{
		"# a comment",
		"",
		"   # indented comment",
		"PORT 7000",
		`requirepass "pass word"`,
		"databases 4",
		"include " + filepath.Join(dir, "?.conf"),
		"hz 30", // after the include: the later line wins, as in Redis
		"",
	}, "\n"))
	cfg := server.DefaultConfig()
	if err := loadConfigFile(cfg, main); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"port": "7000", "requirepass": "pass word", "databases": "4", "maxclients": "77", "hz": "30",
	} {
		if got := mustGet(t, cfg, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if cfg.Port != 7000 || cfg.Databases != 4 || cfg.RequirePass() != "pass word" {
		t.Errorf("typed fields not applied: port %d databases %d pass %q", cfg.Port, cfg.Databases, cfg.RequirePass())
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.conf")
	writeFile(t, dir, "loop.conf", "include "+loop+"\n")
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown", "port 7000\n\n# x\nno-such-directive yes\n", "bad.conf:4: unknown directive 'no-such-directive'"},
		{"badvalue", "port 7000\nport notaport\n", "bad.conf:2: port notaport: argument couldn't be parsed into an integer"},
		{"quotes", "requirepass \"abc\n", "bad.conf:1: unbalanced quotes in configuration line"},
		{"include-missing", "include " + filepath.Join(dir, "missing-*.conf") + "\n", "bad.conf:1: include"},
		{"include-loop", "include " + loop + "\n", "nested too deeply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "bad.conf", tc.text)
			err := loadConfigFile(server.DefaultConfig(), p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if err := loadConfigFile(server.DefaultConfig(), filepath.Join(dir, "nope.conf")); err == nil {
		t.Fatal("missing config file: no error")
	}
}

func TestSplitDirectiveArgs(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantPass []string
		wantDirs []directiveArg
	}{
		{args: nil, wantPass: []string{}},
		{args: []string{"version"}, wantPass: []string{"version"}},
		{
			args:     []string{"--port", "7000", "--protected-mode", "no", "--bind=::1"},
			wantPass: []string{"--port", "7000", "--bind=::1"},
			wantDirs: []directiveArg{{"protected-mode", []string{"no"}}},
		},
		{
			args:     []string{"--save", "900", "1", "300", "10", "--help", "--maxclients=5", "--appendonly"},
			wantPass: []string{"--help"},
			wantDirs: []directiveArg{{"save", []string{"900", "1", "300", "10"}}, {"maxclients", []string{"5"}}, {"appendonly", nil}},
		},
		{
			// A flag's value may itself look like a directive name.
			args:     []string{"--requirepass", "--secret", "--hz", "-5"},
			wantPass: []string{"--requirepass", "--secret"},
			wantDirs: []directiveArg{{"hz", []string{"-5"}}},
		},
	} {
		o := &options{}
		pass, dirs := splitDirectiveArgs(newRootCmd(o, io.Discard), tc.args)
		if !reflect.DeepEqual(pass, tc.wantPass) || !reflect.DeepEqual(dirs, tc.wantDirs) {
			t.Errorf("splitDirectiveArgs(%q) = %q, %+v; want %q, %+v", tc.args, pass, dirs, tc.wantPass, tc.wantDirs)
		}
	}
}

func TestBuildConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "t.conf", "port 1111\nmaxclients 5\nhz 7\ndir "+dir+"\n")
	o := &options{}
	root := newRootCmd(o, io.Discard)
	pass, dirs := splitDirectiveArgs(root, []string{"--config", conf, "--maxclients", "6", "--port", "2222", "--port", "3333"})
	o.directives = dirs
	if err := root.ParseFlags(pass); err != nil {
		t.Fatal(err)
	}
	cfg, err := buildConfig(root, o)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"port": "3333", "maxclients": "6", "hz": "7", "dir": dir, "databases": "16",
	} {
		if got := mustGet(t, cfg, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if want, _ := filepath.Abs(conf); cfg.File != want {
		t.Errorf("File = %q, want %q", cfg.File, want)
	}
}

func TestBuildConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--no-such-thing", "1"}, "--no-such-thing: unknown directive 'no-such-thing'"},
		{[]string{"--maxclients", "lots"}, "--maxclients lots: argument couldn't be parsed into an integer"},
		{[]string{"--save", "900"}, "--save 900: Invalid save parameters"},
		{[]string{"--databases", "0"}, "--databases 0: argument must be between"},
		{[]string{"--dir", filepath.Join(t.TempDir(), "missing dir")}, `missing dir": No such file or directory`},
	} {
		o := &options{}
		root := newRootCmd(o, io.Discard)
		pass, dirs := splitDirectiveArgs(root, tc.args)
		o.directives = dirs
		if err := root.ParseFlags(pass); err != nil {
			t.Fatal(err)
		}
		_, err := buildConfig(root, o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestDefaultDirIsAbsolute(t *testing.T) {
	o := &options{}
	root := newRootCmd(o, io.Discard)
	cfg, err := buildConfig(root, o)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if got := mustGet(t, cfg, "dir"); got != wd {
		t.Errorf("dir = %q, want the working directory %q", got, wd)
	}
}
