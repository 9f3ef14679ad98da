// A Go net/http server over crypto/tls, restricted to HTTP/1.1, that keeps
// its own record of what it answered: the truth the Go TLS tests compare
// aster-exporter with. One line per answered request is appended to
// TRUTHFILE ("METHOD PATH STATUS RESPONSE_BODY_BYTES REQUEST_BODY_BYTES"),
// written before the response is finished, so a client that has its answer
// finds the line.
//
//	gotlsserver PORT CERT KEY TRUTHFILE
//	GET  /bytes/N      N bytes
//	POST /echo         the request body back
//	GET  /call?url=U   makes an outgoing HTTPS GET to U (certificate not
//	                   checked) and answers with its status line's code
//	anything else      404 "not here"
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
)

var (
	mu    sync.Mutex
	truth *os.File
)

// counting wraps the ResponseWriter to know the body bytes written.
type counting struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (c *counting) WriteHeader(s int) { c.status = s; c.ResponseWriter.WriteHeader(s) }
func (c *counting) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = 200
	}
	n, err := c.ResponseWriter.Write(b)
	c.bytes += n
	return n, err
}

var client = &http.Client{Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	// HTTP/1.1 for the outgoing calls too.
	TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
}}

func handle(w *counting, r *http.Request) int {
	switch {
	case strings.HasPrefix(r.URL.Path, "/bytes/"):
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/bytes/"))
		if err != nil || n < 0 {
			w.WriteHeader(400)
			return 0
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		body := make([]byte, n)
		for i := range body {
			body[i] = byte('a' + i%26)
		}
		w.Write(body)
		return 0
	case r.URL.Path == "/echo" && r.Method == "POST":
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
		return len(body)
	case r.URL.Path == "/call":
		resp, err := client.Get(r.URL.Query().Get("url"))
		if err != nil {
			w.WriteHeader(502)
			fmt.Fprint(w, err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		body := strconv.Itoa(resp.StatusCode)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		fmt.Fprint(w, body)
		return 0
	}
	w.Header().Set("Content-Length", "8")
	w.WriteHeader(404)
	fmt.Fprint(w, "not here")
	return 0
}

func main() {
	port, cert, key, path := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	var err error
	truth, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		panic(err)
	}
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w := &counting{ResponseWriter: rw}
		in := handle(w, r)
		mu.Lock()
		fmt.Fprintf(truth, "%s %s %d %d %d\n", r.Method, r.URL.Path, w.status, w.bytes, in)
		mu.Unlock()
	})
	srv := &http.Server{
		Addr:    "127.0.0.1:" + port,
		Handler: h,
		// An empty map: no HTTP/2 through ALPN, HTTP/1.1 only.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	panic(srv.ListenAndServeTLS(cert, key))
}
