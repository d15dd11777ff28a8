package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// devKafkaUsage documents `sluice dev-kafka`.
const devKafkaUsage = `usage: sluice dev-kafka [flags]

Runs a local Kafka-protocol broker (one broker, franz-go's kfake) for
trying Sluice without installing Kafka. It is a development aid: data
lives in memory and is gone on exit. It runs until Ctrl-C or SIGTERM.

  --listen ADDR      address to listen on, which clients are also told to
                     use (default 127.0.0.1:9092; port 0 picks a free port)
  --partitions N     partitions of the --topics and of topics created on
                     first use (default 3)
  --topics A,B       topics to create at start (others are created when a
                     client first produces to or asks for them)
`

// devKafkaOptions is a parsed `sluice dev-kafka` command line.
type devKafkaOptions struct {
	listen     string
	partitions int
	topics     []string
}

func parseDevKafkaArgs(args []string, stderr io.Writer) (*devKafkaOptions, error) {
	fs := flag.NewFlagSet("sluice dev-kafka", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:9092", "")
	partitions := fs.Int("partitions", 3, "")
	topics := fs.String("topics", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, devKafkaUsage)
			return nil, nil
		}
		return nil, fmt.Errorf("dev-kafka: %w\n%s", err, strings.TrimSpace(devKafkaUsage))
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("dev-kafka: unexpected argument %q\n%s", fs.Arg(0), strings.TrimSpace(devKafkaUsage))
	}
	if _, _, err := net.SplitHostPort(*listen); err != nil {
		return nil, fmt.Errorf("dev-kafka: --listen %q: want host:port", *listen)
	}
	if *partitions < 1 || *partitions > 1<<16 {
		return nil, fmt.Errorf("dev-kafka: --partitions %d: want 1 to 65536", *partitions)
	}
	opt := &devKafkaOptions{listen: *listen, partitions: *partitions}
	for _, t := range strings.Split(*topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			opt.topics = append(opt.topics, t)
		}
	}
	return opt, nil
}

// devKafkaCommand is `sluice dev-kafka`: it stops cleanly on Ctrl-C or
// SIGTERM.
func devKafkaCommand(args []string, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return devKafkaMain(ctx, args, stderr)
}

// devKafkaMain runs the broker until ctx ends.
func devKafkaMain(ctx context.Context, args []string, stderr io.Writer) error {
	opt, err := parseDevKafkaArgs(args, stderr)
	if err != nil || opt == nil {
		return err
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		// kfake listens on 127.0.0.1 with a port of its choice; --listen
		// replaces both. Clients are told the listener's address.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, opt.listen) }),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(opt.partitions),
	}
	if len(opt.topics) > 0 {
		kopts = append(kopts, kfake.SeedTopics(int32(opt.partitions), opt.topics...))
	}
	cluster, err := kfake.NewCluster(kopts...)
	if err != nil {
		return fmt.Errorf("dev-kafka: start broker on %s: %w", opt.listen, err)
	}
	defer cluster.Close()
	addrs := cluster.ListenAddrs()
	if len(addrs) == 0 {
		return errors.New("dev-kafka: the broker has no listener")
	}
	addr := addrs[0]
	fmt.Fprintf(stderr, "sluice dev-kafka: Kafka-protocol broker listening on %s\n", addr)
	fmt.Fprintln(stderr, "development aid: data lives in memory and is gone on exit")
	if len(opt.topics) > 0 {
		fmt.Fprintf(stderr, "topics: %s (%d partitions each)\n", strings.Join(opt.topics, ", "), opt.partitions)
	}
	fmt.Fprintf(stderr, `try:
  sluice gen --rate 1000 --to kafka://%[1]s/clicks
  CREATE SOURCE clicks (user_id BIGINT, item_id BIGINT, ts TIMESTAMP(3))
    WITH (connector = 'kafka', brokers = '%[1]s', topic = 'clicks', format = 'json');
`, addr)
	<-ctx.Done()
	cluster.Close()
	fmt.Fprintln(stderr, "sluice dev-kafka: stopped")
	return nil
}
