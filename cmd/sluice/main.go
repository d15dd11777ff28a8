// Command sluice is the Sluice streaming SQL engine.
//
//	sluice serve [flags]        run the Postgres-protocol server
//	sluice sql [URL]            interactive SQL (embedded engine without URL)
//	sluice run FILE.sql ...     run SQL files in an embedded engine
//	sluice demo [flags]         the recommendation views on generated clicks, served
//	sluice dev-kafka [flags]    a local in-memory Kafka-protocol broker
//
// Run `sluice help` for the flags.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// version is the version string printed by `sluice version` and the REPL.
const version = "0.1.0-dev"

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(1)
	}
}

// run dispatches a subcommand.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usage()
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], stdout)
	case "sql":
		return replSQL(args[1:], stdin, stdout, stderr)
	case "serve":
		return serveCommand(args[1:], stderr)
	case "gen":
		return runGen(args[1:], stdout, stderr)
	case "demo":
		return demoCommand(args[1:], stdout, stderr)
	case "dev-kafka":
		return devKafkaCommand(args[1:], stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "sluice", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], strings.TrimSpace(usageText))
}

const usageText = `usage: sluice <command> [arguments]

commands:
  demo [flags]             the recommendation views of testdata/recs on a
                           generated clickstream, served on 127.0.0.1:5488,
                           with live figures until Ctrl-C; --help for flags
  serve [flags]            serve the Postgres wire protocol
      --listen ADDR              address to listen on (default 127.0.0.1:5488)
      --init FILE_OR_DIR         run a .sql file, or a directory's *.sql files in
                                 lexical order, before accepting connections
      --tls-cert FILE --tls-key FILE
                                 enable TLS
      --password-env VAR         require SCRAM-SHA-256 with the password in $VAR
                                 (required when listening beyond loopback)
      --max-connections N        default 100
      --max-message-size BYTES   default 64 MiB
      --statement-timeout D      e.g. 30s; 0 = none
      --idle-session-timeout D   e.g. 10m; 0 = none
      --barrier-interval D       time between epochs (default 1s)
      --data-dir DIR             keep the catalog and acknowledged changes here
                                 (default: the user's data directory, e.g.
                                 ~/.local/share/sluice); '' for in-memory
  sql [URL]                interactive SQL: a server at URL
                           (postgres://user@host:5488/db), or an embedded
                           in-memory engine without URL; \? for help
  run FILE.sql|DIR ...     run SQL files in an embedded engine, printing each
                           result; stops at the first error (file:line:column)
  gen [flags]              generate a clickstream (Poisson arrivals, Zipf items,
                           user sessions) to stdout or Kafka; --help for flags
  dev-kafka [flags]        a local Kafka-protocol broker for development
                           (in memory, gone on exit); --help for flags
  version                  print the version
`

func usage() error { return fmt.Errorf("%s", strings.TrimSpace(usageText)) }
