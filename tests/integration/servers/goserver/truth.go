// What the test servers' handlers read and wrote, counted by the servers
// themselves: one line per request, appended to a file once the handler
// has returned, the truth the integration tests compare with:
//
//	METHOD PATH STATUS REQUEST_BODY_BYTES RESPONSE_BODY_BYTES
//
// Shared by goserver and h2cserver (built with this file).
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
)

var truthMu sync.Mutex

// counted wraps a handler with the server's own byte counters.
func counted(truthFile string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body := &countingReader{r: r.Body}
		r.Body = body
		cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		h(cw, r)
		if r.Method == http.MethodHead {
			cw.n = 0 // what a handler writes to a HEAD request is not sent
		}
		line := fmt.Sprintf("%s %s %d %d %d\n", r.Method, r.URL.Path, cw.status, body.n, cw.n)
		truthMu.Lock()
		defer truthMu.Unlock()
		f, err := os.OpenFile(truthFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		f.WriteString(line)
		f.Close()
	}
}

type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Flush() { c.ResponseWriter.(http.Flusher).Flush() }
