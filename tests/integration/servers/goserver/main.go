// A Go HTTP server whose runtime figures the integration tests compare with
// what aster-exporter reads from outside. It writes its own
// runtime.NumGoroutine(), NumGC, PauseTotalNs and HeapInuse to a file
// whenever they change, from a ticker, so the truth is read without opening
// a connection (which would itself add goroutines).
//
//	goserver PORT STATSFILE [keepalive]
//	GET /spawn?n=K   start K goroutines that block until /release
//	GET /release     end them
//	GET /gc?n=K      run K garbage collections
//	GET /hold?mb=K   allocate K MiB and keep it until /drop
//	GET /drop        let it go and collect it
//	GET /hello       a small answer
//	/stream, /upload streaming handlers with their own byte counts (streaming.go)
//
// Keep-alive is off unless "keepalive" is given: the runtime tests count
// goroutines, and an idle connection holds one.
package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

var (
	mu      sync.Mutex
	release = make(chan struct{})
	held    [][]byte
)

func main() {
	port, stats := os.Args[1], os.Args[2]
	keepAlive := len(os.Args) > 3 && os.Args[3] == "keepalive"
	registerStreaming(stats + ".http")
	http.HandleFunc("/spawn", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		mu.Lock()
		ch := release
		mu.Unlock()
		for i := 0; i < n; i++ {
			go func() { <-ch }()
		}
		fmt.Fprint(w, "ok")
	})
	http.HandleFunc("/release", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		close(release)
		release = make(chan struct{})
		mu.Unlock()
		fmt.Fprint(w, "ok")
	})
	http.HandleFunc("/gc", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		for i := 0; i < n; i++ {
			runtime.GC()
		}
		fmt.Fprint(w, "ok")
	})
	http.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		mu.Lock()
		for i := 0; i < n; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j) // touched, so the pages are real
			}
			held = append(held, b)
		}
		mu.Unlock()
		fmt.Fprint(w, "ok")
	})
	http.HandleFunc("/drop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		held = nil
		mu.Unlock()
		runtime.GC()
		fmt.Fprint(w, "ok")
	})
	http.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	go func() {
		last := ""
		for range time.Tick(20 * time.Millisecond) {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			line := fmt.Sprintf("%d %d %d %d\n", runtime.NumGoroutine(), ms.NumGC, ms.PauseTotalNs, ms.HeapInuse)
			if line != last {
				os.WriteFile(stats+".tmp", []byte(line), 0o644)
				os.Rename(stats+".tmp", stats)
				last = line
			}
		}
	}()
	srv := &http.Server{Addr: "127.0.0.1:" + port}
	srv.SetKeepAlivesEnabled(keepAlive)
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
