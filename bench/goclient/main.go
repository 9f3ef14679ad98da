// The exactness check's load generator: like wrk, keep-alive connections
// sending requests back to back as fast as the server answers, but every
// connection finishes the request it has in flight before it stops. wrk
// cuts its connections at the deadline, so the server's in-process metrics
// count answers that never left the server (the write hits a closed socket)
// while an observer of the socket rightly does not: that is a difference
// of the load generator, not of the exporter, and it would hide real ones.
//
// It sends a mix of every route of bench/goserver, in turn, and prints one
// line of JSON: {"requests": N, "errors": N, "seconds": S}.
//
// Build (offline, the standard library only):
//
//	GO111MODULE=off go build -o goclient .
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func request(method, path, contentType, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: bench\r\n", method, path)
	if body != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\nContent-Length: %d\r\n", contentType, len(body))
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

// Every route, bodies, 2xx/4xx/5xx, an
// unmatched path and a query string.
var mix = []string{
	request("GET", "/tiny", "", ""),
	request("GET", "/tiny?q=1&r=two", "", ""),
	request("GET", "/work/4242", "", ""),
	request("POST", "/echo", "application/octet-stream", strings.Repeat("x", 1000)),
	request("POST", "/echo", "text/plain", "hello"),
	request("GET", "/status/404", "", ""),
	request("GET", "/status/503", "", ""),
	request("GET", "/status/201", "", ""),
	request("GET", "/nope/here", "", ""),
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "server host:port")
	conns := flag.Int("c", 32, "connections")
	duration := flag.Duration("d", 4*time.Second, "how long to start new requests")
	flag.Parse()

	var requests, errors atomic.Int64
	deadline := time.Now().Add(*duration)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < *conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			conn, err := net.Dial("tcp", *addr)
			if err != nil {
				errors.Add(1)
				return
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			for i := c; time.Now().Before(deadline); i++ {
				if _, err := io.WriteString(conn, mix[i%len(mix)]); err != nil {
					errors.Add(1)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errors.Add(1)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				requests.Add(1)
			}
		}(c)
	}
	wg.Wait()
	out := map[string]any{"requests": requests.Load(), "errors": errors.Load(),
		"seconds": time.Since(start).Seconds()}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		log.Fatal(err)
	}
}
