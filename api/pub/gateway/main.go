// Command pub is Racetrack's authenticating gateway in front of every job, and its sidecar form.
//
// It reads RACETRACK_* variables (see docs/pub.md); `python -m api.pub` starts it with the
// platform's settings, next to the async-call service it hands /pub/async/ calls to.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(log.LstdFlags)
	log.SetPrefix("pub: ")
	config, err := configFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(2)
	}
	tuneRuntime()
	gateway := NewGateway(config)
	servers := make([]*http.Server, 0, len(config.Listen))
	failed := make(chan error, len(config.Listen))
	for _, address := range config.Listen {
		listener, err := net.Listen("tcp", address)
		if err != nil {
			fmt.Fprintf(os.Stderr, "Error: cannot listen on %s: %v (another process may hold the port; set RACETRACK_PUB_PORT)\n", address, err)
			os.Exit(1)
		}
		server := &http.Server{
			Handler:           gateway,
			ReadHeaderTimeout: 30 * time.Second,
			IdleTimeout:       90 * time.Second,
			ErrorLog:          quietLog,
		}
		servers = append(servers, server)
		go func() {
			if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
				failed <- err
			}
		}()
	}
	mode := "gateway"
	if config.Sidecar != nil {
		mode = "sidecar for job " + config.Sidecar.JobName + " at " + config.Sidecar.Address
	}
	log.Printf("serving as %s on %s; lifecycle %s", mode, strings.Join(config.Listen, ", "), config.LifecycleURL)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-stop:
	case err := <-failed:
		log.Printf("stopped: %v", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, server := range servers {
		_ = server.Shutdown(ctx)
	}
}

// tuneRuntime sets defaults measured on the benchmark (docs/pub.md, "Speed") unless GOMAXPROCS or
// GOGC are given: half the machine's cores, because pub shares the host with the jobs it calls and
// Go's idle threads cost more in wake-ups than they give; and a rare GC, because pub's live heap is a
// few megabytes while every call allocates a few kilobytes.
func tuneRuntime() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(max(1, runtime.NumCPU()/2))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(1000)
	}
}
