package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/thredis/thredis/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type options struct {
	configFile  string
	port        int
	bind        string
	dir         string
	requirepass string
	loglevel    string
	databases   int
}

func newRootCmd() *cobra.Command {
	var o options
	root := &cobra.Command{
		Use:   "thredis",
		Short: "A Redis-protocol server with SQLite inside",
		Long: "thredis speaks the Redis protocol and keeps a SQLite database's pages in a hash key,\n" +
			"so Redis persistence and replication carry the SQL data too.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd, &o)
		},
	}
	f := root.Flags()
	f.StringVar(&o.configFile, "config", "", "config file in redis.conf syntax")
	f.IntVar(&o.port, "port", 6379, "TCP port to listen on")
	f.StringVar(&o.bind, "bind", "127.0.0.1", "address(es) to bind, space separated")
	f.StringVar(&o.dir, "dir", ".", "working directory for persistence files")
	f.StringVar(&o.requirepass, "requirepass", "", "password clients must AUTH with")
	f.StringVar(&o.loglevel, "loglevel", "notice", "debug, verbose, notice, warning or nothing")
	f.IntVar(&o.databases, "databases", 16, "number of databases")
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

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

// buildConfig applies defaults, then the config file, then explicitly given
// flags (flags override the file).
func buildConfig(cmd *cobra.Command, o *options) (*server.Config, error) {
	cfg := server.DefaultConfig()
	if o.configFile != "" {
		if err := loadConfigFile(cfg, o.configFile); err != nil {
			return nil, err
		}
		cfg.File = o.configFile
	}
	set := func(flag, directive, val string) error {
		if !cmd.Flags().Changed(flag) {
			return nil
		}
		if err := cfg.Set(directive, val); err != nil {
			return fmt.Errorf("--%s: %w", flag, err)
		}
		return nil
	}
	for _, f := range []struct{ flag, directive, val string }{
		{"port", "port", strconv.Itoa(o.port)},
		{"bind", "bind", o.bind},
		{"dir", "dir", o.dir},
		{"requirepass", "requirepass", o.requirepass},
		{"loglevel", "loglevel", o.loglevel},
		{"databases", "databases", strconv.Itoa(o.databases)},
	} {
		if err := set(f.flag, f.directive, f.val); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	switch level {
	case "debug":
		l = slog.LevelDebug
	case "verbose":
		l = slog.LevelDebug + 2
	case "warning":
		l = slog.LevelWarn
	case "nothing":
		l = slog.LevelError + 8
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func serve(cmd *cobra.Command, o *options) error {
	cfg, err := buildConfig(cmd, o)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.LogLevel)
	srv := server.New(cfg, logger)
	if err := srv.Listen(); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-sigs:
			logger.Info("received signal, shutting down", "signal", sig.String())
			srv.Shutdown()
		case <-srv.Done():
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case <-srv.Done():
		return nil
	case err := <-errc:
		if err != nil {
			return err
		}
		<-srv.Done()
		return nil
	}
}
