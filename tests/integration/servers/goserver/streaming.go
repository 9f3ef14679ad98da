// Streaming handlers for the integration tests' exactness checks: each
// flushes between writes (http.Flusher), so net/http sends a chunked body
// written in as many pieces as the handler flushed. The server counts what
// its handlers read and wrote itself and appends one line per request to
// STATSFILE.http once the handler has returned:
//
//	METHOD PATH STATUS REQUEST_BODY_BYTES RESPONSE_BODY_BYTES
//
//	GET  /stream?n=K&size=S  K writes of S bytes, each flushed
//	GET  /blob?n=K&size=S    the same with a Content-Length: flushed, not chunked
//	POST /upload             reads the whole body, answers "read N" in two flushed writes
//	POST /upload?sized=1     the same answer in one write with a Content-Length
//	GET  /stream/missing     404 (http.NotFound, not flushed: Content-Length)
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
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

func registerStreaming(truthFile string) {
	http.HandleFunc("/stream", counted(truthFile, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		piece := []byte(strings.Repeat("s", size))
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i < n; i++ {
			w.Write(piece)
			w.(http.Flusher).Flush()
		}
	}))
	http.HandleFunc("/blob", counted(truthFile, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		piece := []byte(strings.Repeat("b", size))
		w.Header().Set("Content-Length", strconv.Itoa(n*size))
		for i := 0; i < n; i++ {
			w.Write(piece)
			w.(http.Flusher).Flush()
		}
	}))
	http.HandleFunc("/upload", counted(truthFile, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 32<<10)
		var total int64
		for {
			n, err := r.Body.Read(buf)
			total += int64(n)
			if err != nil {
				break
			}
		}
		answer := fmt.Sprintf("read %d", total)
		if r.URL.Query().Get("sized") != "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
			fmt.Fprint(w, answer)
			return
		}
		fmt.Fprint(w, answer[:5])
		w.(http.Flusher).Flush()
		fmt.Fprint(w, answer[5:])
		w.(http.Flusher).Flush()
	}))
	http.HandleFunc("/stream/missing", counted(truthFile, http.NotFound))
}
