// Streaming handlers for the integration tests' exactness checks: each
// flushes between writes (http.Flusher), so net/http sends a chunked body
// written in as many pieces as the handler flushed. The server counts what
// its handlers read and wrote itself (truth.go) in STATSFILE.http.
//
//	GET  /stream?n=K&size=S  K writes of S bytes, each flushed
//	GET  /blob?n=K&size=S    the same with a Content-Length: flushed, not chunked
//	POST /upload             reads the whole body, answers "read N" in two flushed writes
//	POST /upload?sized=1     the same answer in one write with a Content-Length
//	GET  /stream/missing     404 (http.NotFound, not flushed: Content-Length)
package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

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
