package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/thredis/thredis/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// options holds what the command line asked for. Typed flags are applied
// only when given explicitly, so a config file's values survive unless a
// flag overrides them.
type options struct {
	configFile  string
	port        int
	bind        string
	dir         string
	requirepass string
	loglevel    string
	databases   int
	// directives are Redis-style "--name value…" arguments for directives
	// without a typed flag (e.g. --protected-mode no), in command-line order.
	directives []directiveArg
}

// directiveArg is one Redis-style "--name value…" command-line directive.
type directiveArg struct {
	name   string
	values []string
}

// execute runs the CLI with args (without the program name), writing
// command output to stdout and logs to stderr.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := &options{}
	root := newRootCmd(o, stderr)
	cobraArgs, directives := splitDirectiveArgs(root, args)
	o.directives = directives
	root.SetArgs(cobraArgs)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

func newRootCmd(o *options, logOut io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "thredis [flags] [--<directive> <value>...]",
		Short: "A Redis-protocol server with SQLite inside",
		Long: "thredis speaks the Redis protocol and keeps a SQLite database's pages in a hash key,\n" +
			"so Redis persistence and replication carry the SQL data too.\n\n" +
			"Any configuration directive without a flag of its own can be given Redis-style,\n" +
			"e.g. --protected-mode no or --maxclients 100. Precedence: defaults < --config file\n" +
			"< directives on the command line < flags.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd, o, logOut)
		},
	}
	f := root.Flags()
	f.StringVar(&o.configFile, "config", "", "config file in redis.conf syntax")
	f.IntVar(&o.port, "port", 6379, "TCP port to listen on")
	f.StringVar(&o.bind, "bind", "127.0.0.1", "address(es) to bind, space separated")
	f.StringVar(&o.dir, "dir", ".", "working directory for persistence files (must exist)")
	f.StringVar(&o.requirepass, "requirepass", "", "password clients must AUTH with")
	f.StringVar(&o.loglevel, "loglevel", "notice", "debug, verbose, notice or warning")
	f.IntVar(&o.databases, "databases", 16, "number of databases")
	root.AddCommand(exportSQLCmd(), importSQLCmd())
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the thredis version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "thredis %s (redis %s compatible)\n", buildVersion(), server.Version)
		},
	})
	return root
}

// splitDirectiveArgs separates Redis-style "--name value…" arguments (any
// --name that is not one of root's flags) from the arguments cobra parses.
// As in redis-server, a directive's values are the following arguments up
// to the next one starting with "--"; "--name=value" is accepted too.
// Arguments of a subcommand invocation (first argument not a flag) are
// passed through untouched.
func splitDirectiveArgs(root *cobra.Command, args []string) ([]string, []directiveArg) {
	if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
		return append([]string{}, args...), nil
	}
	// Non-nil even when empty: cobra falls back to os.Args for nil.
	pass := []string{}
	var dirs []directiveArg
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "--") {
			pass = append(pass, a)
			continue
		}
		name, val, hasVal := strings.Cut(a[2:], "=")
		if name == "help" || root.Flags().Lookup(name) != nil {
			pass = append(pass, a)
			fl := root.Flags().Lookup(name)
			// A typed flag's value is the next argument unless given as
			// --flag=value; keep the pair together for cobra.
			if !hasVal && fl != nil && fl.Value.Type() != "bool" && i+1 < len(args) {
				i++
				pass = append(pass, args[i])
			}
			continue
		}
		d := directiveArg{name: name}
		if hasVal {
			d.values = []string{val}
		} else {
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
				i++
				d.values = append(d.values, args[i])
			}
		}
		dirs = append(dirs, d)
	}
	return pass, dirs
}

// buildVersion is the version stamped by the Makefile, else the module
// version when installed with "go install", else "dev".
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

// buildConfig applies defaults, then the config file, then Redis-style
// directives from the command line, then explicitly given flags.
func buildConfig(cmd *cobra.Command, o *options) (*server.Config, error) {
	cfg := server.DefaultConfig()
	if o.configFile != "" {
		if err := loadConfigFile(cfg, o.configFile); err != nil {
			return nil, err
		}
		// CONFIG REWRITE needs an absolute path: the process may be
		// started from anywhere and the file outlives the working dir.
		abs, err := filepath.Abs(o.configFile)
		if err != nil {
			return nil, fmt.Errorf("config file %s: %w", o.configFile, err)
		}
		cfg.File = abs
	}
	for _, d := range o.directives {
		if _, known := cfg.Get(d.name); !known {
			return nil, fmt.Errorf("--%s: unknown directive '%s'", d.name, d.name)
		}
		if err := cfg.Set(d.name, d.values...); err != nil {
			return nil, fmt.Errorf("%s: %w", quoteDirective(cfg, "--"+d.name, d.values), err)
		}
	}
	for _, f := range []struct{ flag, directive, val string }{
		{"port", "port", strconv.Itoa(o.port)},
		{"bind", "bind", o.bind},
		{"dir", "dir", o.dir},
		{"requirepass", "requirepass", o.requirepass},
		{"loglevel", "loglevel", o.loglevel},
		{"databases", "databases", strconv.Itoa(o.databases)},
	} {
		if !cmd.Flags().Changed(f.flag) {
			continue
		}
		if err := cfg.Set(f.directive, f.val); err != nil {
			return nil, fmt.Errorf("%s: %w", quoteDirective(cfg, "--"+f.flag, []string{f.val}), err)
		}
	}
	if err := persistenceDefaults(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// persistenceDefaults picks the persistence a bare command line gets. A
// server given a data directory (--dir) or a config file is one whose data
// matters: AOF on with appendfsync everysec, plus Redis's RDB save points.
// Without either (make run) it is an in-memory server: no save points, no
// AOF, and serve says so at start-up. Directives given explicitly always
// win.
func persistenceDefaults(cfg *server.Config) error {
	if cfg.File != "" || cfg.Given("dir") {
		if !cfg.Given("appendonly") {
			return cfg.Set("appendonly", "yes")
		}
		return nil
	}
	if !cfg.Given("save") {
		return cfg.Set("save", "")
	}
	return nil
}

func serve(cmd *cobra.Command, o *options, logOut io.Writer) error {
	// Catch signals first: one that arrives during start-up is buffered
	// and handled as soon as the server exists, instead of killing the
	// process with a non-zero status.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	cfg, err := buildConfig(cmd, o)
	if err != nil {
		return err
	}
	// The level follows the loglevel directive, so CONFIG SET loglevel
	// takes effect at once.
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: cfg.LevelVar()}))
	logger.Info("thredis starting", "version", buildVersion(), "redis_version", server.Version,
		"pid", os.Getpid(), "config", cfg.File)
	logPersistence(logger, cfg)
	stopTuning := tuneRuntime(cfg, logger)
	defer stopTuning()
	srv := server.New(cfg, logger)
	if err := srv.Listen(); err != nil {
		return err
	}

	go func() {
		for {
			select {
			case sig := <-sigs:
				// Like Redis: save if save points are configured, flush
				// the AOF; if the save fails, keep running (a second
				// signal tries again).
				logger.Info("received signal, shutting down", "signal", sig.String())
				if err := srv.ShutdownSave(false, false, false); err != nil {
					logger.Warn("errors trying to shut down the server, check the logs", "signal", sig.String(), "err", err)
					continue
				}
				return
			case <-cmd.Context().Done():
				srv.Shutdown()
				return
			case <-srv.Done():
				return
			}
		}
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case <-srv.Done():
		// SHUTDOWN or a signal: Serve returns once the listener is closed.
		if err := <-errc; err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	case err := <-errc:
		// Serve returns nil only once the listener was closed, i.e. a
		// shutdown is under way; Shutdown waits for it to finish.
		srv.Shutdown()
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	logger.Info("thredis is now ready to exit, bye bye...")
	return nil
}

// logPersistence says at start-up where the data will persist, or loudly
// that it will not: a Redis user would otherwise expect it to survive.
func logPersistence(logger *slog.Logger, cfg *server.Config) {
	aofOn, _ := cfg.Get("appendonly")
	save, _ := cfg.Get("save")
	if aofOn != "yes" && save == "" {
		logger.Warn("persistence is off: data is kept in memory only and is lost when thredis exits " +
			"(give --dir or a config file to turn on the AOF and RDB snapshots)")
		return
	}
	fsync, _ := cfg.Get("appendfsync")
	dbfile, _ := cfg.Get("dbfilename")
	aofDir, _ := cfg.Get("appenddirname")
	logger.Info("persistence", "dir", cfg.Dir, "appendonly", aofOn, "appendfsync", fsync, "appenddirname", aofDir,
		"save", save, "dbfilename", dbfile)
}
