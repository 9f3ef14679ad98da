// An HTTP/2 server in Go without TLS (golang.org/x/net/http2/h2c, Debian's
// golang-golang-x-net-dev): clients reach it by prior knowledge (the
// client preface first) or by HTTP/1.1 "Upgrade: h2c", whose request Go
// answers on stream 1. It counts what its handlers read and wrote in
// STATSFILE, as goserver does (goserver/truth.go, built with this file).
//
//	h2cserver PORT STATSFILE
//	GET  /small           13 bytes
//	GET  /blob?size=S     S bytes in one write
//	GET  /stream?n=K&size=S  K writes of S bytes, each flushed (K DATA frames or more)
//	POST /upload          reads the whole body, answers "read N"
//	GET  /status?code=C   answers C with a short body
//	anything else         404 (http.NotFound)
//
// Built in GOPATH mode with Debian's Go:
//
//	GO111MODULE=off GOPATH=$tmp:/usr/share/gocode go build -o h2cserver main.go truth.go
//
// with goserver/truth.go copied beside main.go (Go builds named files from one directory).
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

func atoi(r *http.Request, name string, def int) int {
	if n, err := strconv.Atoi(r.URL.Query().Get(name)); err == nil {
		return n
	}
	return def
}

func main() {
	port, stats := os.Args[1], os.Args[2]
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello, h2c!\r\n")
	})
	mux.HandleFunc("/blob", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("b", atoi(r, "size", 1000))))
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		piece := []byte(strings.Repeat("s", atoi(r, "size", 100)))
		for i := atoi(r, "n", 3); i > 0; i-- {
			w.Write(piece)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "read %d", n)
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(atoi(r, "code", 200))
		io.WriteString(w, "status\n")
	})
	server := &http.Server{
		Addr:    "127.0.0.1:" + port,
		Handler: h2c.NewHandler(counted(stats, mux.ServeHTTP), &http2.Server{}),
	}
	if err := server.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
